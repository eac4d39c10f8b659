"""Face photos for simulated travellers when the shared data folder is absent.

The simulated travellers take their faces from ``../shared/data/faces/lfw_crops`` (or
``BORDERGATE_DATA_DIR``), which is never part of the project. Without it every traveller would be
referred at the face step, so ``bordergate demo`` and ``bordergate kiosk`` fall back to the one
portrait that ships with scikit-image (``skimage.data.astronaut()``): two differently framed crops
of it make one identity with two photos (a chip photo and a live one). With one identity there
are no impostors; prints and phone replays of that face are still presented.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hardware_mocks.travellers import discover_identities

STAND_IN_FOLDER = Path("var/demo-faces")
"""Where the stand-in photos are written, only when the shared data folder is absent."""
STAND_IN_IDENTITY = "astronaut"
_CROPS = ((40, 200, 150, 310), (28, 206, 142, 320))
"""(top, bottom, left, right) of the two photos: the face, framed tighter and looser."""
_SIZE = 125
"""The shared crops' size, so that the mock camera frames them alike."""


def stand_in_faces(folder: Path) -> Path:
    """Write the stand-in identity's two photos under ``folder`` (if missing); return ``folder``."""
    from skimage import data

    target = folder / STAND_IN_IDENTITY
    target.mkdir(parents=True, exist_ok=True)
    portrait = np.asarray(data.astronaut())  # type: ignore[no-untyped-call]
    for i, (top, bottom, left, right) in enumerate(_CROPS):
        path = target / f"{STAND_IN_IDENTITY}_{i + 1}.png"
        if not path.exists():
            crop = Image.fromarray(portrait[top:bottom, left:right])
            crop.resize((_SIZE, _SIZE), Image.Resampling.LANCZOS).save(path)
    return folder


def demo_faces(shared: Path, fallback: Path = STAND_IN_FOLDER) -> tuple[Path, str | None]:
    """The folder simulated travellers take their faces from (``bordergate demo`` and
    ``bordergate kiosk``), and a note when it is not ``shared`` (the shared data's crops) but
    the stand-in written to ``fallback``."""
    if discover_identities(shared):
        return shared, None
    note = (
        f"no face photos in {shared} (set BORDERGATE_DATA_DIR to the shared data folder): "
        "every simulated traveller has the one portrait that ships with scikit-image, so there "
        "are no impostors among them"
    )
    return stand_in_faces(fallback), note
