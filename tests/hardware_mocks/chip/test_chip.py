from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hardware_mocks.chip import (
    AccessControl,
    Attack,
    ChipAccessDeniedError,
    ChipFile,
    ChipFileNotFoundError,
    EMRTDChip,
    MockPKI,
    PACENotSupportedError,
    issue_chip,
    mrz_information,
)
from hardware_mocks.chip.lds import build_dg1
from hardware_mocks.travellers import TravellerFactory
from tests.hardware_mocks.chip.conftest import MRZ

ALL = (ChipFile.COM, ChipFile.DG1, ChipFile.DG2, ChipFile.SOD)


def test_the_printed_mrz_opens_the_chip(pki: MockPKI, face_jpeg: bytes) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki)
    assert isinstance(chip, EMRTDChip)
    files = chip.select_and_read(mrz_information(MRZ), ALL)
    assert set(files) == set(ALL)
    assert files[ChipFile.DG1] == build_dg1(MRZ)
    assert chip.reads == 1


@pytest.mark.parametrize(
    ("position", "replacement"),
    [
        (0, "D"),  # document number
        (9, "5"),  # its check digit
        (15, "5"),  # birth date
        (23, "9"),  # expiry
        (27, "1"),  # expiry check digit
    ],
)
def test_a_wrong_mrz_is_denied(
    pki: MockPKI, face_jpeg: bytes, position: int, replacement: str
) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki)
    line2 = MRZ[1]
    assert line2[position] != replacement
    wrong = (MRZ[0], line2[:position] + replacement + line2[position + 1 :])
    with pytest.raises(ChipAccessDeniedError):
        chip.select_and_read(mrz_information(wrong), ALL)
    assert chip.denied == 1
    assert chip.reads == 0


def test_fields_outside_the_access_key_do_not_matter(pki: MockPKI, face_jpeg: bytes) -> None:
    # The composite check digit and the name are not part of the MRZ information.
    chip = issue_chip(MRZ, face_jpeg, pki)
    other = ("P<D<<SOMEONE<<ELSE<<<<<<<<<<<<<<<<<<<<<<<<<<", MRZ[1][:43] + "9")
    chip.select_and_read(mrz_information(other), (ChipFile.DG1,))


def test_garbage_access_key_is_denied(pki: MockPKI, face_jpeg: bytes) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki)
    with pytest.raises(ChipAccessDeniedError):
        chip.select_and_read("Ä" * 24, ALL)


def test_pace_only_chip_is_refused_clearly(pki: MockPKI, face_jpeg: bytes) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki, access_control=AccessControl.PACE_ONLY)
    assert chip.access_control is AccessControl.PACE_ONLY
    with pytest.raises(PACENotSupportedError, match="PACE not supported"):
        chip.select_and_read(mrz_information(MRZ), ALL)


def test_missing_file(pki: MockPKI, face_jpeg: bytes) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki)
    files = chip.select_and_read(mrz_information(MRZ), (ChipFile.DG1,))
    assert list(files) == [ChipFile.DG1]
    chip._files.pop(ChipFile.DG2)
    with pytest.raises(ChipFileNotFoundError, match="DG2"):
        chip.select_and_read(mrz_information(MRZ), (ChipFile.DG2,))


def test_repr_shows_no_document_data(pki: MockPKI, face_jpeg: bytes) -> None:
    chip = issue_chip(MRZ, face_jpeg, pki)
    assert "C01X00T47" not in repr(chip)
    assert "MUSTERMANN" not in repr(chip)


def test_issue_from_a_traveller(pki: MockPKI, face_jpeg: bytes) -> None:
    traveller = TravellerFactory(seed=3, faces_dir=None, today=date(2025, 6, 1)).next()
    chip = issue_chip(traveller, face_jpeg, pki)
    files = chip.select_and_read(mrz_information(traveller.mrz_lines), (ChipFile.DG1,))
    assert files[ChipFile.DG1] == build_dg1(traveller.mrz_lines)


@pytest.mark.parametrize("attack", list(Attack))
def test_attacks_still_open_with_the_printed_mrz(
    pki: MockPKI, face_jpeg: bytes, attack: Attack
) -> None:
    genuine = issue_chip(MRZ, face_jpeg, pki).select_and_read(mrz_information(MRZ), ALL)
    forged = issue_chip(MRZ, face_jpeg, pki, attack=attack).select_and_read(
        mrz_information(MRZ), ALL
    )
    assert forged != genuine


def test_pki_is_deterministic_per_seed() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    a, b = MockPKI("x", now).country("USA"), MockPKI("x", now).country("USA")
    c = MockPKI("y", now).country("USA")
    assert a.csca.certificate == b.csca.certificate
    assert a.signer.certificate == b.signer.certificate
    assert a.crl.public_bytes(Encoding.DER) == b.crl.public_bytes(Encoding.DER)
    assert a.csca.certificate.public_key() != c.csca.certificate.public_key()


def test_certificate_profiles(pki: MockPKI) -> None:
    country = pki.country("GBR")
    csca, ds = country.csca.certificate, country.signer.certificate
    assert csca.subject == csca.issuer
    assert csca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = csca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    ds_usage = ds.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ds_usage.digital_signature
    assert not ds_usage.key_cert_sign
    ds.verify_directly_issued_by(csca)
    aki = ds.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert csca.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value == "GB"
    assert ds.not_valid_before_utc <= pki.now <= ds.not_valid_after_utc
    assert country.expired_signer.certificate.not_valid_after_utc < pki.now
    revoked = country.revoked_signer.certificate.serial_number
    assert country.crl.get_revoked_certificate_by_serial_number(revoked) is not None
    assert country.crl.is_signature_valid(csca.public_key())  # type: ignore[arg-type]
    # The rogue CSCA copies the name but not the key; the forged DS claims the genuine CSCA.
    assert country.rogue_csca.certificate.subject == csca.subject
    assert country.rogue_csca.certificate.public_key() != csca.public_key()
    assert country.forged_chain_signer.certificate.issuer == csca.subject


def test_german_documents_use_code_d(pki: MockPKI) -> None:
    assert pki.country("DEU") is pki.country("D")


def test_master_list_folder(pki: MockPKI, tmp_path: Path) -> None:
    written = pki.write_master_list(tmp_path, ["D", "UTO"])
    assert sorted(p.name for p in written) == [
        "CSCA_D.crl",
        "CSCA_D.pem",
        "CSCA_UTO.crl",
        "CSCA_UTO.pem",
    ]


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        MockPKI(now=datetime(2026, 1, 1))
