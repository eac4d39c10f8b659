from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from hardware_mocks.travellers import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    PopulationMix,
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
        assert t.journey_payload is None or len(t.journey_payload) < 2048
    assert 20 < sum(t.forged for t in travellers) < 60
    assert 20 < sum(t.expired for t in travellers) < 60
    assert all(t.journey_payload for t in travellers if t.is_citizen)


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
