"""Every passive-authentication failure, each with its own check and reason."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hardware_mocks.chip import Attack, ChipFile, MockPKI, issue_chip, mrz_information
from hardware_mocks.chip.lds import build_dg1, build_dg2, build_sod
from kiosk.chip import Check, MasterList, PAResult, Reason, passive_authentication
from kiosk.chip.lds import unwrap
from tests.kiosk.chip.conftest import MRZ

FILES = (ChipFile.DG1, ChipFile.DG2, ChipFile.SOD)


def files_of(pki: MockPKI, face_jpeg: bytes, attack: Attack | None = None) -> dict[int, bytes]:
    chip = issue_chip(MRZ, face_jpeg, pki, attack=attack)
    read = chip.select_and_read(mrz_information(MRZ), FILES)
    return {1: read[ChipFile.DG1], 2: read[ChipFile.DG2], 0x1D: read[ChipFile.SOD]}


def run(
    files: dict[int, bytes], master_list: MasterList, at: datetime, printed: tuple[str, ...] = MRZ
) -> PAResult:
    dgs = {n: c for n, c in files.items() if n != 0x1D}
    return passive_authentication(dgs, files[0x1D], master_list, printed, at)


def assert_only(result: PAResult, check: Check, reason: Reason) -> None:
    assert not result.authenticated
    assert result.failed_checks == {check}, result.checks
    assert result[check].reason is reason
    assert result.reasons == (reason,)


def test_a_genuine_chip_passes_every_check(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    result = run(files_of(pki, face_jpeg), master_list, at)
    assert [r.passed for r in result.checks] == [True] * len(Check)
    assert [r.check for r in result.checks] == list(Check)
    assert result.authenticated
    assert result.reasons == ()
    assert result.dg_hashes == {1: True, 2: True}
    flags = (
        result.csca_found,
        result.chain_valid,
        result.signer_valid_at,
        result.signer_not_revoked,
        result.sod_signature_valid,
        result.hashes_match,
        result.dg1_matches_printed_mrz,
    )
    assert flags == (True,) * 7


@pytest.mark.parametrize(
    ("attack", "check", "reason"),
    [
        (Attack.DG2_ALTERED, Check.HASHES_MATCH, Reason.DG_HASH_MISMATCH),
        (Attack.DG1_DIFFERS_FROM_PAGE, Check.DG1_MATCHES_PRINTED_MRZ, Reason.DG1_DIFFERS_FROM_PAGE),
        (Attack.UNKNOWN_CSCA, Check.CSCA_FOUND, Reason.CSCA_UNKNOWN),
        (Attack.FORGED_CHAIN, Check.CHAIN_VALID, Reason.CHAIN_SIGNATURE_INVALID),
        (Attack.EXPIRED_SIGNER, Check.SIGNER_VALID_AT, Reason.SIGNER_EXPIRED),
        (Attack.REVOKED_SIGNER, Check.SIGNER_NOT_REVOKED, Reason.SIGNER_REVOKED),
        (Attack.SOD_SIGNATURE_TAMPERED, Check.SOD_SIGNATURE_VALID, Reason.SOD_SIGNATURE_INVALID),
    ],
)
def test_each_attack_fails_with_its_own_reason(
    pki: MockPKI,
    face_jpeg: bytes,
    master_list: MasterList,
    at: datetime,
    attack: Attack,
    check: Check,
    reason: Reason,
) -> None:
    result = run(files_of(pki, face_jpeg, attack), master_list, at)
    assert_only(result, check, reason)


def test_altered_dg2_names_the_data_group(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    result = run(files_of(pki, face_jpeg, Attack.DG2_ALTERED), master_list, at)
    assert result.dg_hashes == {1: True, 2: False}


def test_unknown_csca_leaves_dependent_checks_unchecked(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    result = run(files_of(pki, face_jpeg, Attack.UNKNOWN_CSCA), master_list, at)
    assert result.csca_found is False
    assert result.chain_valid is None
    assert result.signer_not_revoked is None
    assert result[Check.CHAIN_VALID].status == "not_checked"
    assert result.sod_signature_valid is True  # the SOD is consistently signed, just untrusted


def test_tampered_sod_bytes_fail_only_the_signature(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    files = files_of(pki, face_jpeg)
    sod = bytearray(files[0x1D])
    sod[-3] ^= 0x40  # inside the signature's s value
    files[0x1D] = bytes(sod)
    assert_only(
        run(files, master_list, at), Check.SOD_SIGNATURE_VALID, Reason.SOD_SIGNATURE_INVALID
    )


def test_a_rewritten_hash_in_the_sod_breaks_the_message_digest(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    files = files_of(pki, face_jpeg)
    genuine_dg2_hash = hashlib.sha256(files[2]).digest()
    forged_dg2 = build_dg2(face_jpeg + b"\x00", 300, 360)
    files[0x1D] = files[0x1D].replace(genuine_dg2_hash, hashlib.sha256(forged_dg2).digest())
    files[2] = forged_dg2
    result = run(files, master_list, at)
    assert_only(result, Check.SOD_SIGNATURE_VALID, Reason.SOD_MESSAGE_DIGEST_MISMATCH)
    assert result.dg_hashes == {1: True, 2: True}


def test_a_signer_of_another_country(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    # A French document signer signs a German passport: the CSCA is known, but not Germany's.
    dg1, dg2 = build_dg1(MRZ), build_dg2(face_jpeg, 300, 360)
    french = pki.country("FRA").signer
    sod = build_sod({1: dg1, 2: dg2}, french.key, french.certificate)
    result = run({1: dg1, 2: dg2, 0x1D: sod}, master_list, at)
    assert_only(result, Check.CSCA_FOUND, Reason.CSCA_WRONG_COUNTRY)


def test_a_signer_not_yet_valid(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    result = run(files_of(pki, face_jpeg), master_list, at - timedelta(days=200))
    assert_only(result, Check.SIGNER_VALID_AT, Reason.SIGNER_NOT_YET_VALID)


def test_a_stale_crl(pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime) -> None:
    result = run(files_of(pki, face_jpeg), master_list, at + timedelta(days=91))
    assert_only(result, Check.SIGNER_NOT_REVOKED, Reason.CRL_EXPIRED)


def test_no_crl_loaded(pki: MockPKI, face_jpeg: bytes, tmp_path: Path, at: datetime) -> None:
    pki.write_master_list(tmp_path, ["D"])
    (tmp_path / "CSCA_D.crl").unlink()
    result = run(files_of(pki, face_jpeg), MasterList.load(tmp_path), at)
    assert_only(result, Check.SIGNER_NOT_REVOKED, Reason.CRL_UNAVAILABLE)


def test_an_expired_csca(pki: MockPKI, face_jpeg: bytes, master_list: MasterList) -> None:
    late = pki.country("D").csca.certificate.not_valid_after_utc + timedelta(days=1)
    result = run(files_of(pki, face_jpeg), master_list, late)
    assert result.chain_valid is False
    assert result[Check.CHAIN_VALID].reason is Reason.CSCA_NOT_VALID_AT


def test_an_empty_master_list(pki: MockPKI, face_jpeg: bytes, at: datetime) -> None:
    result = run(files_of(pki, face_jpeg), MasterList(), at)
    assert_only(result, Check.CSCA_FOUND, Reason.CSCA_UNKNOWN)


def test_a_malformed_sod(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    files = files_of(pki, face_jpeg)
    files[0x1D] = b"\x77\x03\x30\x01\x00"
    result = run(files, master_list, at)
    assert_only(result, Check.SOD_SIGNATURE_VALID, Reason.SOD_MALFORMED)
    assert result.hashes_match is None
    assert result.csca_found is None


def test_a_data_group_the_sod_does_not_list(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    files = files_of(pki, face_jpeg)
    files[3] = b"\x63\x00"
    result = run(files, master_list, at)
    assert_only(result, Check.HASHES_MATCH, Reason.DG_HASH_MISSING)
    assert result.dg_hashes[3] is False


def test_a_malformed_dg1(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    files = files_of(pki, face_jpeg)
    files[1] = b"\x61\x02\x5f"
    result = run(files, master_list, at)
    assert result[Check.DG1_MATCHES_PRINTED_MRZ].reason is Reason.DG1_MALFORMED
    assert result.dg_hashes[1] is False


def test_printed_mrz_spacing_and_case_do_not_matter(
    pki: MockPKI, face_jpeg: bytes, master_list: MasterList, at: datetime
) -> None:
    printed = (MRZ[0].lower() + " ", " " + MRZ[1])
    assert run(files_of(pki, face_jpeg), master_list, at, printed).authenticated


def test_naive_time_is_rejected(pki: MockPKI, face_jpeg: bytes, master_list: MasterList) -> None:
    with pytest.raises(ValueError, match="timezone"):
        run(files_of(pki, face_jpeg), master_list, datetime(2026, 1, 1))


def test_sod_wrapper_is_checked() -> None:
    from kiosk.chip.lds import LDSFormatError

    with pytest.raises(LDSFormatError):
        unwrap(b"\x61\x01\x00", 0x77)
