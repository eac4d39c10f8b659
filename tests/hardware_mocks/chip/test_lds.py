from __future__ import annotations

import hashlib

import numpy as np
from asn1crypto import cms  # type: ignore[import-untyped]

from hardware_mocks.chip import MockPKI
from hardware_mocks.chip.lds import (
    LDS_SECURITY_OBJECT_OID,
    LDSSecurityObject,
    build_com,
    build_dg1,
    build_dg2,
    build_sod,
    encode_length,
    tlv,
)
from tests.hardware_mocks.chip.conftest import MRZ, decode


def test_tlv_lengths() -> None:
    assert encode_length(0x7F) == b"\x7f"
    assert encode_length(0x80) == b"\x81\x80"
    assert encode_length(0x1234) == b"\x82\x12\x34"
    assert tlv(0x5F1F, b"ab") == b"\x5f\x1f\x02ab"


def test_dg1_layout() -> None:
    dg1 = build_dg1(MRZ)
    # 61 5B 5F1F 58 <88 MRZ characters> (Doc 9303 part 10, 4.7.1).
    assert dg1[:5] == bytes.fromhex("615B5F1F58")
    assert dg1[5:].decode() == "".join(MRZ)


def test_com_lists_dg1_and_dg2() -> None:
    assert build_com().endswith(bytes.fromhex("5C026175"))


def test_dg2_wraps_a_19794_5_record(face_jpeg: bytes) -> None:
    dg2 = build_dg2(face_jpeg, 300, 360)
    assert dg2[0] == 0x75
    assert bytes.fromhex("7F61") in dg2[:8]
    start = dg2.index(b"FAC\x00010\x00")
    record = dg2[start:]
    assert int.from_bytes(record[8:12], "big") == len(record)  # record length
    assert int.from_bytes(record[12:14], "big") == 1  # one face
    assert record.endswith(face_jpeg)
    width = record.index(face_jpeg) - 12 + 2
    assert int.from_bytes(record[width : width + 2], "big") == 300
    assert decode(record[record.index(face_jpeg) :]).shape == (360, 300, 3)


def test_sod_is_cms_signed_data_over_the_hashes(pki: MockPKI, face_jpeg: bytes) -> None:
    dg1, dg2 = build_dg1(MRZ), build_dg2(face_jpeg, 300, 360)
    signer = pki.country("D").signer
    sod = build_sod({1: dg1, 2: dg2}, signer.key, signer.certificate)
    assert sod[0] == 0x77
    info = cms.ContentInfo.load(sod[4:])
    assert info["content_type"].native == "signed_data"
    signed = info["content"]
    assert signed["version"].native == "v3"
    assert signed["encap_content_info"]["content_type"].dotted == LDS_SECURITY_OBJECT_OID
    lso = LDSSecurityObject.load(signed["encap_content_info"]["content"].contents)
    assert lso["hash_algorithm"]["algorithm"].native == "sha256"
    hashes = {h["data_group_number"].native: h["data_group_hash_value"].native for h in lso[2]}
    assert hashes == {1: hashlib.sha256(dg1).digest(), 2: hashlib.sha256(dg2).digest()}
    signer_info = signed["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert attrs["content_type"].dotted == LDS_SECURITY_OBJECT_OID
    assert attrs["message_digest"].native == hashlib.sha256(lso.dump()).digest()
    assert signed["certificates"][0].chosen.serial_number == signer.certificate.serial_number


def test_face_survives_jpeg(face_jpeg: bytes) -> None:
    image = decode(face_jpeg)
    assert image.shape == (360, 300, 3)
    assert abs(int(image[0, 299, 0]) - 254) < 8
    assert np.all(image[..., 2] > 110)
