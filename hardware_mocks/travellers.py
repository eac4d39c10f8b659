"""A seeded synthetic population of travellers for the demo and the tests.

Each traveller carries a TD3 passport (MRZ from ``mrz``'s generator), a document photo and a live
face from the Labeled Faces in the Wild crops in the shared data folder (a different photo of
the same identity, or of another identity for an impostor), an onward-journey payload, and a
behaviour (walks away at some step). Images are rendered on demand, never stored on the traveller,
so a long queue costs little memory.

Rendering (for the HOG face detector): the 125 x 125 LFW crop is upscaled (Lanczos) to about
250 px; the document photo is that face on a light 300 x 360 portrait background, the live frame
is the face pasted at a seeded position into a 640 x 480 frame of a plain colour.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from mrz.generator.td3 import TD3CodeGenerator
from PIL import Image

from bordergate.contracts import Hall
from hardware_mocks.interfaces import RGBImage

FRAME_WIDTH = 640
FRAME_HEIGHT = 480
FACE_SIZE = 250
PORTRAIT_SIZE = (300, 360)

CITIZEN = "CHN"

# Nationality -> (weight among foreigners, surnames, given names). "D" is Germany's ICAO code.
_FOREIGN: dict[str, tuple[float, tuple[str, ...], tuple[str, ...]]] = {
    "USA": (0.18, ("SMITH", "JOHNSON", "WILLIAMS", "BROWN"), ("JOHN", "MARY", "ROBERT", "LINDA")),
    "GBR": (0.12, ("TAYLOR", "DAVIES", "EVANS", "WILSON"), ("OLIVER", "AMELIA", "HARRY", "ISLA")),
    "D": (0.10, ("MUELLER", "SCHMIDT", "SCHNEIDER", "FISCHER"), ("ANNA", "LUKAS", "LEA", "FELIX")),
    "FRA": (0.10, ("MARTIN", "BERNARD", "DUBOIS", "LEROY"), ("CHLOE", "LOUIS", "EMMA", "HUGO")),
    "JPN": (0.14, ("SATO", "SUZUKI", "TAKAHASHI", "TANAKA"), ("HARUTO", "YUI", "SOTA", "HINA")),
    "KOR": (0.14, ("KIM", "LEE", "PARK", "CHOI"), ("MINJUN", "SEOYEON", "JIHO", "HAYOON")),
    "RUS": (
        0.12,
        ("IVANOV", "SMIRNOV", "KUZNETSOV", "POPOV"),
        ("ALEXEI", "OLGA", "DMITRY", "ANNA"),
    ),
    "AUS": (0.10, ("NGUYEN", "WHITE", "KELLY", "MITCHELL"), ("JACK", "CHARLOTTE", "NOAH", "MIA")),
}
_CHINESE_SURNAMES = ("WANG", "LI", "ZHANG", "LIU", "CHEN", "YANG", "ZHAO", "HUANG")
_CHINESE_GIVEN = ("WEI", "FANG", "NA", "XIUYING", "MIN", "JING", "QIANG", "LEI")
_DESTINATIONS = ("ICN", "NRT", "LHR", "FRA", "CDG", "SVO", "SYD", "LAX", "HKG", "SIN")
_CARRIERS = ("CA", "MU", "KE", "JL", "LH", "AF", "SU", "QF")


def default_data_dir() -> Path:
    """``BORDERGATE_DATA_DIR``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("BORDERGATE_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def default_faces_dir() -> Path:
    return default_data_dir() / "faces" / "lfw_crops"


def discover_identities(faces_dir: Path | None) -> dict[str, tuple[Path, ...]]:
    """Identity name -> its photos (sorted), for identities with at least two photos."""
    if faces_dir is None or not faces_dir.is_dir():
        return {}
    found: dict[str, tuple[Path, ...]] = {}
    for sub in sorted(p for p in faces_dir.iterdir() if p.is_dir()):
        photos = tuple(sorted(p for p in sub.iterdir() if p.suffix.lower() in {".jpg", ".png"}))
        if len(photos) >= 2:
            found[sub.name] = photos
    return found


@lru_cache(maxsize=64)
def _load_face(path: Path, size: int) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def render_portrait(photo: Path) -> RGBImage:
    """The document photo: the upscaled face on a light portrait background."""
    face = _load_face(photo, FACE_SIZE)
    canvas = Image.new("RGB", PORTRAIT_SIZE, (236, 238, 240))
    canvas.paste(face, ((PORTRAIT_SIZE[0] - FACE_SIZE) // 2, 40))
    return np.ascontiguousarray(np.asarray(canvas, dtype=np.uint8))


def render_scene(
    photo: Path | None, x: int, y: int, size: int, background: tuple[int, int, int]
) -> RGBImage:
    """A 640 x 480 camera frame: a plain background, with the face pasted at (x, y) if given."""
    canvas = Image.new("RGB", (FRAME_WIDTH, FRAME_HEIGHT), background)
    if photo is not None:
        canvas.paste(_load_face(photo, size), (x, y))
    return np.ascontiguousarray(np.asarray(canvas, dtype=np.uint8))


WalkAway = Literal["face", "journey"]


@dataclass(frozen=True, slots=True)
class Traveller:
    """One synthetic traveller. Truth fields (``impostor``, ``forged``...) are for tests only."""

    traveller_ref: str
    """Anonymous per-visit token, never a document number."""
    nationality: str
    mrz_lines: tuple[str, str]
    journey_payload: str | None
    reference_photo_path: Path | None
    live_photo_path: Path | None
    identity: str | None
    live_identity: str | None
    expired: bool = False
    forged: bool = False
    impostor: bool = False
    walks_away_at: WalkAway | None = None
    places_document: bool = True
    live_x: int = 195
    live_y: int = 115
    live_size: int = FACE_SIZE
    background: tuple[int, int, int] = (200, 200, 200)

    @property
    def is_citizen(self) -> bool:
        return self.nationality == CITIZEN

    def reference_photo(self) -> RGBImage | None:
        """The document photo, rendered afresh (None without face data)."""
        if self.reference_photo_path is None:
            return None
        return render_portrait(self.reference_photo_path)

    def live_frame(self) -> RGBImage:
        """What the camera sees: the live face, or an empty scene without face data."""
        return render_scene(
            self.live_photo_path, self.live_x, self.live_y, self.live_size, self.background
        )

    def __repr__(self) -> str:  # keep document data out of logs
        return f"Traveller(ref={self.traveller_ref[:8]}, nationality={self.nationality})"


@dataclass(frozen=True, slots=True)
class PopulationMix:
    """Shares of each kind of traveller (each drawn independently)."""

    citizens: float = 0.4
    expired: float = 0.03
    forged_check_digit: float = 0.03
    impostors: float = 0.04
    walk_away: float = 0.03
    no_document: float = 0.0
    missing_journey: float = 0.05
    """Among foreigners: no onward journey barcode."""


@dataclass
class TravellerFactory:
    """Seeded, reproducible travellers: the same seed, day and faces give the same sequence."""

    seed: int = 0
    hall: Hall = Hall.AIRPORT
    faces_dir: Path | None = field(default_factory=default_faces_dir)
    mix: PopulationMix = field(default_factory=PopulationMix)
    today: date = field(default_factory=date.today)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._identities = discover_identities(self.faces_dir)
        self.count = 0

    @property
    def has_faces(self) -> bool:
        return bool(self._identities)

    def generate(self, n: int) -> list[Traveller]:
        return [self.next() for _ in range(n)]

    def next(self) -> Traveller:
        rng = self._rng
        self.count += 1
        ref = f"{rng.getrandbits(128):032x}"
        citizen = rng.random() < self.mix.citizens
        if citizen:
            nationality = CITIZEN
            surname, given = rng.choice(_CHINESE_SURNAMES), rng.choice(_CHINESE_GIVEN)
            number = "E" + "".join(rng.choice("0123456789") for _ in range(8))
        else:
            codes = list(_FOREIGN)
            nationality = rng.choices(codes, weights=[_FOREIGN[c][0] for c in codes])[0]
            surname = rng.choice(_FOREIGN[nationality][1])
            given = rng.choice(_FOREIGN[nationality][2])
            alnum = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
            number = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") + "".join(
                rng.choice(alnum) for _ in range(8)
            )
        sex = rng.choice("MF")
        birth = self.today - timedelta(days=rng.randint(18 * 365, 80 * 365))
        expired = rng.random() < self.mix.expired
        if expired:
            expiry = self.today - timedelta(days=rng.randint(1, 400))
        else:
            expiry = self.today + timedelta(days=rng.randint(120, 3600))
        generator = TD3CodeGenerator(
            "P", nationality, surname, given, number, nationality,
            birth.strftime("%y%m%d"), sex, expiry.strftime("%y%m%d"),
        )  # fmt: skip
        line1, line2 = str(generator).split("\n")
        forged = rng.random() < self.mix.forged_check_digit
        if forged:
            line2 = _forge_check_digit(line2, rng)

        identity = live_identity = None
        ref_path = live_path = None
        impostor = False
        if self._identities:
            names = list(self._identities)
            identity = rng.choice(names)
            ref_path, live_path = rng.sample(self._identities[identity], 2)
            live_identity = identity
            if len(names) > 1 and rng.random() < self.mix.impostors:
                impostor = True
                live_identity = rng.choice([n for n in names if n != identity])
                live_path = rng.choice(self._identities[live_identity])

        walks_away: WalkAway | None = None
        if rng.random() < self.mix.walk_away:
            walks_away = rng.choice(["face", "journey"])
        places_document = rng.random() >= self.mix.no_document

        journey: str | None = None
        if citizen or rng.random() >= self.mix.missing_journey:
            journey = self._journey_payload(surname, given, rng)

        size = rng.randint(FACE_SIZE - 20, FACE_SIZE + 20)
        return Traveller(
            traveller_ref=ref,
            nationality=nationality,
            mrz_lines=(line1, line2),
            journey_payload=journey,
            reference_photo_path=ref_path,
            live_photo_path=live_path,
            identity=identity,
            live_identity=live_identity,
            expired=expired,
            forged=forged,
            impostor=impostor,
            walks_away_at=walks_away,
            places_document=places_document,
            live_x=rng.randint(40, FRAME_WIDTH - size - 40),
            live_y=rng.randint(10, FRAME_HEIGHT - size - 10),
            live_size=size,
            background=(rng.randint(150, 220), rng.randint(150, 220), rng.randint(150, 220)),
        )

    def _journey_payload(self, surname: str, given: str, rng: random.Random) -> str:
        # Placeholder text; the policy issue replaces it with real IATA BCBP / cruise cards.
        if self.hall is Hall.CRUISE:
            return f"CRUISE-CARD SHIP=MSC-TJN CABIN={rng.randint(1000, 9999)} {surname}/{given}"
        carrier = rng.choice(_CARRIERS)
        flight = f"{carrier}{rng.randint(100, 9999)}"
        dest = rng.choice(_DESTINATIONS)
        return f"BCBP-PLACEHOLDER M1{surname}/{given} TSN{dest}{flight} SEAT{rng.randint(1, 60)}A"


def _forge_check_digit(line2: str, rng: random.Random) -> str:
    """Replace one check digit of a TD3 line 2 with a different digit."""
    pos = rng.choice([9, 19, 27, 43])
    old = line2[pos]
    new = rng.choice([d for d in "0123456789" if d != old])
    return line2[:pos] + new + line2[pos + 1 :]
