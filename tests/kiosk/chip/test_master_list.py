from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import structlog
from cryptography.hazmat.primitives.serialization import Encoding

from hardware_mocks.chip import MockPKI
from kiosk.chip import MasterList
from tests.kiosk.chip.conftest import COUNTRIES


def test_loads_every_csca_and_crl(master_list: MasterList, pki: MockPKI) -> None:
    assert len(master_list) == len(COUNTRIES)
    assert len(master_list.crls) == len(COUNTRIES)
    assert master_list.skipped == []
    for code in COUNTRIES:
        country = pki.country(code)
        assert country.csca.certificate in master_list.cscas
        assert master_list.crl_for(country.csca.certificate) == country.crl
        assert master_list.candidates_for(country.signer.certificate) == [country.csca.certificate]
        # Same name, another key: the authority key identifier tells them apart.
        assert master_list.candidates_for(country.rogue_signer.certificate) == []


def test_junk_files_are_skipped_with_a_clear_log(
    master_folder: Path, pki: MockPKI, tmp_path: Path
) -> None:
    folder = tmp_path / "ml"
    shutil.copytree(master_folder, folder)
    germany = pki.country("D")
    (folder / "README.txt").write_text("the CSCA certificates of our partners\n")
    (folder / "empty.pem").write_bytes(b"")
    (folder / "broken.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64!\n")
    (folder / "signer.pem").write_bytes(germany.signer.certificate.public_bytes(Encoding.PEM))
    (folder / "rogue.crl").write_bytes(
        MockPKI(seed="another", now=pki.now).country("D").crl.public_bytes(Encoding.DER)
    )
    (folder / "subdir").mkdir()
    (folder / ".hidden").write_bytes(b"\x00\x01")
    with structlog.testing.capture_logs() as logs:
        master = MasterList.load(folder)
    assert len(master) == len(COUNTRIES)
    assert len(master.crls) == len(COUNTRIES)
    skipped = {s.name: s.reason for s in master.skipped}
    assert skipped == {
        "README.txt": "not a certificate or CRL",
        "empty.pem": "not a certificate or CRL",
        "broken.pem": "malformed PEM",
        "signer.pem": "not a CA certificate with keyCertSign",
        "rogue.crl": "CRL signature does not verify",
    }
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert {(e["event"], e["file"], e["reason"]) for e in warnings} == {
        ("master list file skipped", name, reason) for name, reason in skipped.items()
    }
    summary = [e for e in logs if e["event"] == "master list loaded"]
    assert summary[0]["skipped"] == 5


def test_der_certificates_and_duplicates(pki: MockPKI, tmp_path: Path) -> None:
    csca = pki.country("USA").csca.certificate
    (tmp_path / "usa.der").write_bytes(csca.public_bytes(Encoding.DER))
    (tmp_path / "usa.pem").write_bytes(csca.public_bytes(Encoding.PEM))
    (tmp_path / "usa.crl").write_bytes(pki.country("USA").crl.public_bytes(Encoding.PEM))
    master = MasterList.load(tmp_path)
    assert master.cscas == [csca]
    assert master.crl_for(csca) is not None


def test_a_crl_without_its_csca(pki: MockPKI, tmp_path: Path) -> None:
    (tmp_path / "jpn.crl").write_bytes(pki.country("JPN").crl.public_bytes(Encoding.DER))
    master = MasterList.load(tmp_path)
    assert [(s.name, s.reason) for s in master.skipped] == [("jpn.crl", "CRL issuer is not a CSCA")]


def test_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="master list folder"):
        MasterList.load(tmp_path / "nowhere")


def test_from_certificates(pki: MockPKI) -> None:
    country = pki.country("KOR")
    master = MasterList.from_certificates(
        [country.csca.certificate, country.signer.certificate], [country.crl]
    )
    assert master.cscas == [country.csca.certificate]
    assert master.crl_for(country.csca.certificate) == country.crl
