from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from backend.journey.bcbp import flight_date, parse_bcbp
from backend.journey.cruise_card import parse_cruise_card
from backend.journey.evidence import assess_journey
from bordergate.clearance_api import JourneyEvidence
from bordergate.contracts import Hall
from hardware_mocks.boarding_pass import bcbp_name
from hardware_mocks.travellers import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    PopulationMix,
    Traveller,
    TravellerFactory,
    default_data_dir,
    discover_identities,
)
from kiosk.document import parse_mrz

TODAY = date(2025, 6, 1)


def test_reproducible_with_a_seed() -> None:
    a = TravellerFactory(seed=42, faces_dir=None, today=TODAY).generate(30)
    b = TravellerFactory(seed=42, faces_dir=None, today=TODAY).generate(30)
    c = TravellerFactory(seed=43, faces_dir=None, today=TODAY).generate(30)
    assert a == b
    assert a != c


def test_population_documents() -> None:
    mix = PopulationMix(expired=0.1, forged_check_digit=0.1)
    travellers = TravellerFactory(seed=1, faces_dir=None, mix=mix, today=TODAY).generate(400)
    nationalities = Counter(t.nationality for t in travellers)
    assert 0.3 < nationalities["CHN"] / 400 < 0.5
    assert {"USA", "GBR", "D", "FRA", "JPN", "KOR", "RUS", "AUS"} <= set(nationalities)
    assert len({t.traveller_ref for t in travellers}) == 400
    for t in travellers:
        doc = parse_mrz(t.mrz_lines, TODAY)
        assert doc.nationality == t.nationality
        assert doc.check_digits_valid is (not t.forged)
        assert (doc.expiry_date < TODAY) is t.expired
        assert doc.birth_date < TODAY
        assert t.traveller_ref not in "".join(t.mrz_lines)  # the ref is not the document number
        assert all(len(text) < 2048 for text in t.journey_barcodes)
        assert t.document_number == doc.document_number
    assert 20 < sum(t.forged for t in travellers) < 60
    assert 20 < sum(t.expired for t in travellers) < 60
    assert not any(t.journey_barcodes for t in travellers if t.is_citizen)  # none needed
    assert all(t.journey_barcodes for t in travellers if t.journey_case not in (None, "missing"))


def test_without_faces_the_camera_sees_an_empty_scene(tmp_path: Path) -> None:
    t = TravellerFactory(seed=1, faces_dir=tmp_path / "nothing").next()
    assert t.reference_photo() is None
    assert t.live_photo_path is None
    frame = t.live_frame()
    assert frame.shape == (FRAME_HEIGHT, FRAME_WIDTH, 3)
    assert frame.dtype == np.uint8
    assert (frame == frame[0, 0]).all()  # one plain colour


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BORDERGATE_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("BORDERGATE_DATA_DIR")
    assert default_data_dir().parts[-2:] == ("shared", "data")


def test_real_faces(test_data_dir: Path) -> None:
    faces = test_data_dir / "faces" / "lfw_crops"
    identities = discover_identities(faces)
    assert len(identities) >= 2
    mix = PopulationMix(impostors=0.2)
    travellers = TravellerFactory(seed=5, faces_dir=faces, mix=mix).generate(60)
    for t in travellers:
        assert t.reference_photo_path is not None
        assert t.live_photo_path is not None
        assert t.reference_photo_path != t.live_photo_path  # never the same photo
        assert (t.identity != t.live_identity) is t.impostor
        assert t.reference_photo_path.parent.name == t.identity
        assert t.live_photo_path.parent.name == t.live_identity
    assert 3 <= sum(t.impostor for t in travellers) <= 25
    t = travellers[0]
    frame = t.live_frame()
    assert frame.shape == (480, 640, 3)
    assert frame.flags["C_CONTIGUOUS"]
    ref = t.reference_photo()
    assert ref is not None
    assert ref.shape == (360, 300, 3)
    # The face (about 250 px) sits inside the frame, on a plain background.
    face = frame[t.live_y : t.live_y + t.live_size, t.live_x : t.live_x + t.live_size]
    assert face.std() > 20
    assert (frame[:5, :5] == np.array(t.background, dtype=np.uint8)).all()


# -- journeys ----------------------------------------------------------------------------------


def _arrival(t: Traveller, factory: TravellerFactory) -> datetime:
    """The scheduled arrival of the traveller's inbound flight."""
    passes = [parse_bcbp(text) for text in t.journey_barcodes]
    inbound = next(leg for p in passes for leg in p.legs if leg.destination == "TSN")
    day = flight_date(inbound.julian_date, factory.today)
    flight = factory.registry.find(inbound.carrier, inbound.flight_number, day)
    assert flight is not None  # from the shipped timetable
    return flight.arrival


def test_airport_foreigners_carry_inbound_and_onward_passes() -> None:
    mix = PopulationMix(citizens=0.2, onward_late=0.1, round_trip=0.1, no_seat=0.1)
    factory = TravellerFactory(seed=3, faces_dir=None, mix=mix, today=TODAY)
    travellers = factory.generate(300)
    cases = Counter(t.journey_case for t in travellers)
    assert cases[None] == sum(t.is_citizen for t in travellers)
    assert all(not t.journey_barcodes for t in travellers if t.is_citizen)
    for case in ("late-onward", "round-trip", "no-seat", "missing"):
        assert 3 <= cases[case] <= 60, cases
    assert cases["transit"] > 100
    for t in travellers:
        if t.journey_case in (None, "missing"):
            assert t.journey_barcodes == ()
            continue
        assert t.journey_case != "cruise"
        for text in t.journey_barcodes:
            assert parse_bcbp(text).passenger_name == bcbp_name(t.surname, t.given_names)
        arrival = _arrival(t, factory)
        assert arrival.date() == TODAY  # lands on the arrival day
        evidence = [JourneyEvidence(kind="boarding_pass", payload=x) for x in t.journey_barcodes]
        result = assess_journey(evidence, arrival, factory.registry)
        facts = result.facts
        assert facts is not None, result
        days_out = (facts.onward_departure.date() - TODAY).days
        assert (facts.arrived_from == facts.onward_to) is (t.journey_case == "round-trip")
        assert facts.onward_confirmed is (t.journey_case != "no-seat")
        if t.journey_case == "late-onward":
            assert 12 <= days_out <= 20
        elif t.journey_case != "round-trip":
            assert 1 <= days_out <= 4


def test_cruise_foreigners_carry_a_card_and_a_group() -> None:
    factory = TravellerFactory(seed=4, hall=Hall.CRUISE, faces_dir=None, today=TODAY)
    travellers = factory.generate(200)
    groups: Counter[str] = Counter()
    for t in travellers:
        if t.is_citizen or t.journey_case == "missing":
            assert t.journey_barcodes == ()
            continue
        assert t.journey_case == "cruise"
        (text,) = t.journey_barcodes
        card = parse_cruise_card(text)
        assert (card.ship, card.voyage) == (t.ship, t.voyage)
        assert (t.ship, t.voyage) in factory.cruise_calls
        assert card.document_number == t.document_number
        assert card.nationality == t.nationality
        if t.group_id is not None:
            groups[t.group_id] += 1
    assert len(groups) >= 3
    assert all(size >= 1 for size in groups.values())
    assert sum(size >= 2 for size in groups.values()) >= len(groups) - 1  # only the last is open
    assert 1 <= sum(t.group_id is None and t.ship is not None for t in travellers) <= 25


def test_journeys_are_reproducible() -> None:
    a = TravellerFactory(seed=9, faces_dir=None, today=TODAY).generate(40)
    b = TravellerFactory(seed=9, faces_dir=None, today=TODAY).generate(40)
    assert [t.journey_barcodes for t in a] == [t.journey_barcodes for t in b]
    assert any(t.journey_barcodes for t in a)
