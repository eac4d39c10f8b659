"""A seeded synthetic population of travellers for the demo and the tests.

Each traveller carries a TD3 passport (MRZ from ``mrz``'s generator), a document photo and a live
face from the Labeled Faces in the Wild crops in the shared data folder (a different photo of
the same identity, or of another identity for an impostor), the barcodes of their journey, and a
behaviour (walks away at some step).

Journeys (foreigners only; citizens need none), from the shipped timetable
(``backend/journey/data/timetable.yaml``):

* airport hall: an inbound IATA BCBP boarding pass (a scheduled flight from abroad landing at TSN
  on the arrival day, ``today``) and an onward one (a scheduled flight from TSN to another
  country or region 1-4 days later, seat assigned); sometimes both legs on one two-leg pass.
  Small shares (``PopulationMix``): the onward flight after the longest permitted stay (12-20
  days later), a round trip (onward back to the inbound origin's country), no seat assigned;
* cruise hall: a cruise card (``BGCRUISE1|ship|voyage|document|nationality|cabin``) for one of
  the ships calling that day; most are in a tour group (``group_id``) of 2-40 on that ship.
  The demo posts the cruise manifests from ``ship``, ``voyage``, ``group_id`` and the passport.

What the camera sees is an *actor* (:meth:`Traveller.actor`, see :mod:`hardware_mocks.face_video`):
the live traveller as a 3D head that turns when the screen asks, or, for small shares
(``PopulationMix.print_still``, ``print_moved``, ``replay``), a presentation attack made from
another photo of the document holder: a print held still, a print moved and tilted, a phone
replaying a video. An impostor is a live person of another identity. The attack draw uses its
own generator (seeded from the factory seed and the traveller's token), so adding it did not
change the rest of the seeded population.

Images are rendered on demand, never stored on the traveller, so a long queue costs little
memory.

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

from backend.journey.airports import airport
from backend.journey.bcbp import Leg
from backend.journey.cruise_card import CruiseCard
from backend.journey.flights import FlightRegistry, ScheduledFlight, default_registry
from bordergate.contracts import Hall
from hardware_mocks.boarding_pass import bcbp_name, bcbp_text, version_conditional
from hardware_mocks.face_video import (
    Actor,
    AttackKind,
    HeadModel,
    LiveActor,
    PhoneReplayActor,
    PrintedPhotoActor,
    StaticScene,
)
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
NATIONALITIES: tuple[str, ...] = (CITIZEN, *_FOREIGN)
"""Every nationality (and so issuing state) the synthetic population holds."""
_CHINESE_SURNAMES = ("WANG", "LI", "ZHANG", "LIU", "CHEN", "YANG", "ZHAO", "HUANG")
_CHINESE_GIVEN = ("WEI", "FANG", "NA", "XIUYING", "MIN", "JING", "QIANG", "LEI")
PORT_AIRPORT = "TSN"
# Cruise ships calling at Tianjin (ship code, name).
CRUISE_SHIPS: tuple[tuple[str, str], ...] = (
    ("MSCSPL", "MSC Splendida"),
    ("RCLSPC", "Spectrum of the Seas"),
    ("COSSER", "Costa Serena"),
    ("ADOMAG", "Adora Magic City"),
)
_SEAT_LETTERS = "ABCDEFGHJK"
_PNR_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


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


@lru_cache(maxsize=64)
def _head_model(path: Path, size: int) -> HeadModel:
    """The 3D head of a live photo (landmark detection and depth map: about 0.1 s, so cached)."""
    return HeadModel.from_photo(np.asarray(_load_face(path, size), dtype=np.uint8))


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
JourneyCase = Literal["transit", "late-onward", "round-trip", "no-seat", "missing", "cruise"]


@dataclass(frozen=True, slots=True)
class Traveller:
    """One synthetic traveller. Truth fields (``impostor``, ``forged``...) are for tests only."""

    traveller_ref: str
    """Anonymous per-visit token, never a document number."""
    nationality: str
    mrz_lines: tuple[str, str]
    journey_barcodes: tuple[str, ...]
    """The barcode texts the traveller shows the scanner (empty: none)."""
    reference_photo_path: Path | None
    live_photo_path: Path | None
    identity: str | None
    live_identity: str | None
    expired: bool = False
    forged: bool = False
    chip_mrz_lines: tuple[str, str] | None = None
    """The MRZ personalised in the chip where the printed page was forged (else the same)."""
    impostor: bool = False
    attack: AttackKind | None = None
    """A presentation attack at the camera (with another photo of the document holder)."""
    walks_away_at: WalkAway | None = None
    places_document: bool = True
    live_x: int = 195
    live_y: int = 115
    live_size: int = FACE_SIZE
    background: tuple[int, int, int] = (200, 200, 200)
    journey_case: JourneyCase | None = None
    """Truth for tests: what kind of journey the barcodes show (None for citizens)."""
    ship: str | None = None
    """Cruise hall: the ship code the traveller arrived on."""
    voyage: str | None = None
    group_id: str | None = None
    """Cruise hall: the tour group (on the agency's name list); None if travelling alone."""

    @property
    def is_citizen(self) -> bool:
        return self.nationality == CITIZEN

    @property
    def document_number(self) -> str:
        """The passport number as in the MRZ (without fillers)."""
        return self.mrz_lines[1][:9].rstrip("<")

    @property
    def surname(self) -> str:
        return self.mrz_lines[0][5:].split("<<", 1)[0].replace("<", " ")

    @property
    def given_names(self) -> str:
        parts = self.mrz_lines[0][5:].split("<<", 1)
        return parts[1].strip("<").replace("<", " ") if len(parts) > 1 else ""

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

    def actor(self) -> Actor:
        """What stands in front of the camera: see :mod:`hardware_mocks.face_video`."""
        if self.live_photo_path is None:
            return StaticScene(self.live_frame())
        face = np.asarray(_load_face(self.live_photo_path, self.live_size), dtype=np.uint8)
        head = _head_model(self.live_photo_path, self.live_size)
        seed = int(self.traveller_ref[:8], 16)
        x, y, size, background = self.live_x, self.live_y, self.live_size, self.background
        if self.attack == "replay":
            return PhoneReplayActor(head, x=x, y=y, size=size, background=background, seed=seed)
        if self.attack in ("print_still", "print_moved"):
            return PrintedPhotoActor(
                face, moving=self.attack == "print_moved", x=x, y=y, size=size,
                background=background, seed=seed,
            )  # fmt: skip
        return LiveActor(head, x=x, y=y, size=size, background=background, seed=seed)

    def __repr__(self) -> str:  # keep document data out of logs
        return f"Traveller(ref={self.traveller_ref[:8]}, nationality={self.nationality})"


@dataclass(frozen=True, slots=True)
class PopulationMix:
    """Shares of each kind of traveller (each drawn independently)."""

    citizens: float = 0.4
    expired: float = 0.03
    forged_check_digit: float = 0.03
    impostors: float = 0.04
    print_still: float = 0.02
    """Presentation attacks (among travellers with faces who are not impostors)."""
    print_moved: float = 0.02
    replay: float = 0.02
    walk_away: float = 0.03
    no_document: float = 0.0
    missing_journey: float = 0.05
    """Among foreigners: no journey barcode at all."""
    onward_late: float = 0.03
    """Among airport foreigners: the onward flight leaves after the longest permitted stay."""
    round_trip: float = 0.03
    """Among airport foreigners: the onward flight returns to the inbound origin's country."""
    no_seat: float = 0.03
    """Among airport foreigners: the onward boarding pass has no seat assigned."""
    cruise_alone: float = 0.05
    """Among cruise foreigners: not in a tour group."""


@dataclass
class TravellerFactory:
    """Seeded, reproducible travellers: the same seed, day and faces give the same sequence."""

    seed: int = 0
    hall: Hall = Hall.AIRPORT
    faces_dir: Path | None = field(default_factory=default_faces_dir)
    mix: PopulationMix = field(default_factory=PopulationMix)
    today: date = field(default_factory=date.today)

    registry: FlightRegistry = field(default_factory=default_registry)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._identities = discover_identities(self.faces_dir)
        self.count = 0
        self._inbound: dict[date, list[ScheduledFlight]] = {}
        self._outbound: dict[date, list[ScheduledFlight]] = {}
        call_rng = random.Random(f"{self.seed}-{self.today.isoformat()}-ships")
        self.cruise_calls: tuple[tuple[str, str], ...] = tuple(
            (code, f"{code[:2]}{self.today:%y%m%d}") for code, _ in call_rng.sample(CRUISE_SHIPS, 2)
        )
        """(ship code, voyage) of the ships calling at the cruise port today."""
        self._group_serial = 0
        self._group: tuple[str, str, str, int] | None = None  # ship, voyage, id, places left

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
        chip_mrz: tuple[str, str] | None = None
        if forged:
            chip_mrz = (line1, line2)
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

        attack: AttackKind | None = None
        if live_path is not None and not impostor:
            draw = random.Random(f"{self.seed}-{ref}-presentation").random()
            kinds: tuple[AttackKind, ...] = ("print_still", "print_moved", "replay")
            for kind in kinds:
                share = float(getattr(self.mix, kind))
                if draw < share:
                    attack = kind
                    break
                draw -= share

        walks_away: WalkAway | None = None
        if rng.random() < self.mix.walk_away:
            walks_away = rng.choice(["face", "journey"])
        places_document = rng.random() >= self.mix.no_document

        barcodes: tuple[str, ...] = ()
        case: JourneyCase | None = None
        ship = voyage = group_id = None
        if not citizen:
            if rng.random() < self.mix.missing_journey:
                case = "missing"
            elif self.hall is Hall.CRUISE:
                case = "cruise"
                ship, voyage, group_id = self._cruise_place(rng)
                cabin = f"{rng.randint(2, 16)}{rng.randint(1, 399):03d}"
                card = CruiseCard(
                    ship=ship,
                    voyage=voyage,
                    document_number=number,
                    nationality=nationality,
                    cabin=cabin,
                )
                barcodes = (card.text(),)
            else:
                case, barcodes = self._transit_passes(bcbp_name(surname, given), rng)

        size = rng.randint(FACE_SIZE - 20, FACE_SIZE + 20)
        return Traveller(
            traveller_ref=ref,
            nationality=nationality,
            mrz_lines=(line1, line2),
            journey_barcodes=barcodes,
            reference_photo_path=ref_path,
            live_photo_path=live_path,
            identity=identity,
            live_identity=live_identity,
            expired=expired,
            forged=forged,
            chip_mrz_lines=chip_mrz,
            impostor=impostor,
            attack=attack,
            walks_away_at=walks_away,
            places_document=places_document,
            live_x=rng.randint(40, FRAME_WIDTH - size - 40),
            live_y=rng.randint(10, FRAME_HEIGHT - size - 10),
            live_size=size,
            background=(rng.randint(150, 220), rng.randint(150, 220), rng.randint(150, 220)),
            journey_case=case,
            ship=ship,
            voyage=voyage,
            group_id=group_id,
        )

    # -- journeys -----------------------------------------------------------------------------

    def _arrivals(self, day: date) -> list[ScheduledFlight]:
        """Scheduled flights from abroad landing at TSN on ``day`` (local)."""
        if day not in self._inbound:
            self._inbound[day] = [
                f
                for d in (day - timedelta(days=1), day)
                for f in self.registry.flights_on(d)
                if f.destination == PORT_AIRPORT
                and not airport(f.origin).mainland_china
                and f.arrival.date() == day
            ]
        return self._inbound[day]

    def _departures(self, day: date) -> list[ScheduledFlight]:
        """Scheduled flights from TSN to abroad departing on ``day`` (local)."""
        if day not in self._outbound:
            self._outbound[day] = [
                f
                for f in self.registry.flights_on(day)
                if f.origin == PORT_AIRPORT and not airport(f.destination).mainland_china
            ]
        return self._outbound[day]

    def _leg(self, flight: ScheduledFlight, seat: str | None, rng: random.Random) -> Leg:
        return Leg(
            pnr="".join(rng.choice(_PNR_CHARS) for _ in range(6)),
            origin=flight.origin,
            destination=flight.destination,
            carrier=flight.carrier,
            flight_number=flight.number,
            julian_date=flight.date.timetuple().tm_yday,
            compartment=rng.choice("YYYYYYWJ"),
            seat=seat,
            check_in_sequence=f"{rng.randint(1, 420):04d}",
            passenger_status="1",
            conditional=version_conditional(),
        )

    def _transit_passes(self, name: str, rng: random.Random) -> tuple[JourneyCase, tuple[str, ...]]:
        arrivals = self._arrivals(self.today)
        if not arrivals:  # an empty timetable: nothing to show
            return "missing", ()
        inbound = rng.choice(arrivals)
        origin_country = airport(inbound.origin).country
        draw = rng.random()
        mix = self.mix
        case: JourneyCase = "transit"
        if draw < mix.onward_late:
            case = "late-onward"
        elif draw < mix.onward_late + mix.round_trip:
            case = "round-trip"
        elif draw < mix.onward_late + mix.round_trip + mix.no_seat:
            case = "no-seat"
        offsets = list(range(12, 21)) if case == "late-onward" else list(range(1, 5))
        rng.shuffle(offsets)
        offsets += list(range(1, 11))  # fallback if nothing suitable runs on those days
        onward: ScheduledFlight | None = None
        for offset in offsets:
            options = [
                f
                for f in self._departures(self.today + timedelta(days=offset))
                if (airport(f.destination).country == origin_country) == (case == "round-trip")
            ]
            if options:
                onward = rng.choice(options)
                break
        if onward is None:
            return "missing", ()

        def seat() -> str:
            return f"{rng.randint(1, 60)}{rng.choice(_SEAT_LETTERS)}"

        inbound_leg = self._leg(inbound, seat(), rng)
        onward_leg = self._leg(onward, None if case == "no-seat" else seat(), rng)
        if rng.random() < 0.15:  # both legs on one ticket: one two-leg pass
            return case, (bcbp_text(name, [inbound_leg, onward_leg]),)
        return case, (bcbp_text(name, [inbound_leg]), bcbp_text(name, [onward_leg]))

    def _cruise_place(self, rng: random.Random) -> tuple[str, str, str | None]:
        """(ship, voyage, group id) for the next cruise passenger: groups fill up in turn."""
        if rng.random() < self.mix.cruise_alone:
            ship, voyage = rng.choice(self.cruise_calls)
            return ship, voyage, None
        if self._group is None or self._group[3] <= 0:
            ship, voyage = rng.choice(self.cruise_calls)
            self._group_serial += 1
            group_id = f"TG{self.today:%y%m%d}-{self.seed % 1000:03d}-{self._group_serial:04d}"
            self._group = (ship, voyage, group_id, rng.randint(2, 40))
        ship, voyage, group_id, left = self._group
        self._group = (ship, voyage, group_id, left - 1)
        return ship, voyage, group_id


def _forge_check_digit(line2: str, rng: random.Random) -> str:
    """Replace one check digit of a TD3 line 2 with a different digit."""
    pos = rng.choice([9, 19, 27, 43])
    old = line2[pos]
    new = rng.choice([d for d in "0123456789" if d != old])
    return line2[:pos] + new + line2[pos + 1 :]
