from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import structlog

from hardware_mocks.chip import (
    AccessControl,
    Attack,
    ChipAccessDeniedError,
    MockPKI,
    PACENotSupportedError,
    issue_chip,
    jpeg_from_rgb,
)
from hardware_mocks.travellers import TravellerFactory
from kiosk.chip import Check, MasterList, read_chip
from tests.kiosk.chip.conftest import MRZ


def test_genuine_chip_gives_the_authoritative_document_and_face(
    pki: MockPKI, face: np.ndarray, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    reading = read_chip(issue_chip(MRZ, face_jpeg, pki), MRZ, master_list, at)
    assert reading.authenticated
    doc = reading.document
    assert doc is not None
    assert doc.chip_authenticated is True
    assert (doc.issuing_state, doc.document_number, doc.surname) == ("D", "C01X00T47", "MUSTERMANN")
    assert doc.birth_date == date(1964, 8, 12)
    assert doc.check_digits_valid
    assert reading.face is not None
    assert reading.face.shape == face.shape
    assert reading.face.dtype == np.uint8
    assert reading.face.flags["C_CONTIGUOUS"]
    assert np.abs(reading.face.astype(int) - face.astype(int)).mean() < 3


def test_dg1_is_authoritative_over_the_page(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki, attack=Attack.DG1_DIFFERS_FROM_PAGE)
    reading = read_chip(chip, MRZ, master_list, at)
    assert reading.document is not None
    assert reading.document.surname == "MALLORY"  # from the chip, not the page's MUSTERMANN
    assert reading.document.chip_authenticated is False
    assert not reading.authenticated
    assert reading.pa.failed_checks == {Check.DG1_MATCHES_PRINTED_MRZ}


def test_a_wrong_mrz_cannot_read_the_chip(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki)
    wrong = (MRZ[0], MRZ[1].replace("640812", "640813"))
    with pytest.raises(ChipAccessDeniedError):
        read_chip(chip, wrong, master_list, at)


def test_a_pace_only_chip_is_referred(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki, access_control=AccessControl.PACE_ONLY)
    with pytest.raises(PACENotSupportedError, match="PACE not supported"):
        read_chip(chip, MRZ, master_list, at)


def test_an_unreadable_printed_mrz(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    with pytest.raises(ValueError, match="line lengths"):
        read_chip(issue_chip(MRZ, face_jpeg, pki), (MRZ[0],), master_list, at)


def test_nothing_personal_or_biometric_is_logged(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    with structlog.testing.capture_logs() as logs:
        reading = read_chip(
            issue_chip(MRZ, face_jpeg, pki, attack=Attack.DG2_ALTERED), MRZ, master_list, at
        )
    assert logs
    text = repr(logs) + repr(reading)
    for secret in ("MUSTERMANN", "ERIKA", "C01X00T47", "640812", "array", "JFIF"):
        assert secret not in text
    assert "dg_hash_mismatch" in text


def test_a_traveller_from_the_population(pki: MockPKI, tmp_path: Path, at: datetime) -> None:
    factory = TravellerFactory(seed=7, today=date(2025, 6, 1))
    if not factory.has_faces:
        factory = TravellerFactory(seed=7, faces_dir=None, today=date(2025, 6, 1))
    traveller = factory.next()
    photo = traveller.reference_photo()
    if photo is None:
        photo = np.full((360, 300, 3), 200, dtype=np.uint8)
    pki.write_master_list(tmp_path, [traveller.nationality])
    chip = issue_chip(traveller, jpeg_from_rgb(photo), pki)
    reading = read_chip(chip, traveller.mrz_lines, MasterList.load(tmp_path), at)
    assert reading.pa.authenticated, reading.pa.checks
    assert reading.face is not None
    assert reading.face.shape == photo.shape


def test_dg1_differing_on_an_id_card(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    td1 = (
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    )
    genuine = read_chip(issue_chip(td1, face_jpeg, pki), td1, master_list, at)
    assert genuine.authenticated
    chip = issue_chip(td1, face_jpeg, pki, attack=Attack.DG1_DIFFERS_FROM_PAGE)
    reading = read_chip(chip, td1, master_list, at)
    assert reading.pa.failed_checks == {Check.DG1_MATCHES_PRINTED_MRZ}
    assert reading.document is not None
    assert (reading.document.surname, reading.document.given_names) == ("MALLORY", "ANNA MARIA")
