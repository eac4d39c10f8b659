"""Face capture and 1:1 verification against the document photo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class ReferenceTemplate:
    """The reference photo's encoding, made once per transaction (``encode_reference``) so that
    it can be computed while the traveller is still in front of the camera. Its repr shows no
    number; the session drops it with the frames when the transaction ends."""

    faces: int
    """Faces detected in the reference; only exactly one gives an encoding."""
    encoding: npt.NDArray[np.float64] | None = field(default=None, repr=False)
