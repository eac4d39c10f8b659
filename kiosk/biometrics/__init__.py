"""Face capture and 1:1 verification against the document photo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from bordergate.clearance_api import FaceResult

RGBImage = npt.NDArray[np.uint8]
"""A contiguous H x W x 3 RGB uint8 array."""


class FaceVerifier(Protocol):
    """1:1 verification. CPU-bound and synchronous: the kiosk calls it in a worker thread.

    Returns a score and a decision, never a template; images are not kept after the call.
    """

    def verify(self, live: Sequence[RGBImage], reference: RGBImage) -> FaceResult: ...
