"""Building the Logical Data Structure of a virtual chip (ICAO Doc 9303 part 10).

Files (BER-TLV, tags from Doc 9303 part 10, section 4.6 / 4.7):

* EF.COM ``60``: LDS version ``5F01``, Unicode version ``5F36``, tag list ``5C`` (61 75).
* EF.DG1 ``61``: ``5F1F`` the MRZ, all lines concatenated (88 characters for TD3).
* EF.DG2 ``75``: biometric information group template ``7F61`` with the number of instances
  (``02``) and one biometric information template ``7F60``: a biometric header template ``A1``
  (ICAO header version ``80`` 0101, biometric type ``81`` 02 = face, subtype ``82`` 00, format
  owner ``87`` 0101 = ISO/IEC JTC 1/SC 37, format type ``88`` 0008 = face image) and the
  biometric data block ``5F2E`` holding an ISO/IEC 19794-5:2005 facial record.
* EF.SOD ``77``: a CMS ``ContentInfo`` / ``SignedData`` (RFC 5652) whose encapsulated content
  (eContentType ``id-icao-mrtd-security-ldsSecurityObject`` 2.23.136.1.1.1) is the DER
  LDSSecurityObject (version 0, SHA-256, the hash of every data group file); one SignerInfo
  with signed attributes content-type and message-digest, ECDSA with SHA-256, identifying the
  document signer by issuer and serial number; the DS certificate embedded.

What the 19794-5 record simplifies: one face, no feature points, gender / eye colour / hair
colour / expression / pose all "unspecified" (0), the face image type "basic" (0), the source
type "unknown" (0), no quality value; the JPEG is whatever the caller encoded (a real document
uses a token or full-frontal image of defined geometry). The biometric header template carries
no creation date, validity period or creator (all optional in ISO/IEC 7816-11).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from asn1crypto import cms, x509  # type: ignore[import-untyped]
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bordergate.icao_lds import (
    LDS_SECURITY_OBJECT_OID,
    LDSSecurityObject,
)

TAG_COM = 0x60
TAG_DG1 = 0x61
TAG_DG2 = 0x75
TAG_SOD = 0x77


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, value: bytes) -> bytes:
    """BER-TLV with a one- or two-byte tag (e.g. ``0x61``, ``0x5F1F``)."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + encode_length(len(value)) + value


def build_com(data_groups: Sequence[int] = (1, 2)) -> bytes:
    tags = bytes({1: TAG_DG1, 2: TAG_DG2}[n] for n in data_groups)
    return tlv(TAG_COM, tlv(0x5F01, b"0107") + tlv(0x5F36, b"040000") + tlv(0x5C, tags))


def build_dg1(mrz_lines: Sequence[str]) -> bytes:
    """EF.DG1: the MRZ lines concatenated without separators."""
    mrz = "".join(mrz_lines)
    if len(mrz) not in (88, 72, 90):
        raise ValueError(f"MRZ of {len(mrz)} characters is not TD1, TD2 or TD3")
    return tlv(TAG_DG1, tlv(0x5F1F, mrz.encode("ascii")))


def facial_record(jpeg: bytes, width: int, height: int) -> bytes:
    """An ISO/IEC 19794-5:2005 facial record with one JPEG face image (see module notes)."""
    facial_information = (
        (0).to_bytes(2, "big")  # number of feature points
        + bytes([0, 0, 0])  # gender, eye colour, hair colour: unspecified
        + (0).to_bytes(3, "big")  # feature mask
        + (0).to_bytes(2, "big")  # expression
        + bytes(3)  # pose angle yaw, pitch, roll: unspecified
        + bytes(3)  # pose angle uncertainty
    )
    image_information = (
        bytes([0, 0])  # face image type basic, image data type JPEG
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([1, 0])  # colour space 24-bit RGB, source type unspecified
        + (0).to_bytes(2, "big")  # device type
        + (0).to_bytes(2, "big")  # quality
    )
    face_block = facial_information + image_information + jpeg
    block_length = 4 + len(face_block)
    record_length = 14 + block_length
    header = b"FAC\x00" + b"010\x00" + record_length.to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + block_length.to_bytes(4, "big") + face_block


def build_dg2(jpeg: bytes, width: int, height: int) -> bytes:
    """EF.DG2: one face, the JPEG wrapped in a 19794-5 record and a biometric template."""
    header = (
        tlv(0x80, b"\x01\x01")
        + tlv(0x81, b"\x02")
        + tlv(0x82, b"\x00")
        + tlv(0x87, b"\x01\x01")
        + tlv(0x88, b"\x00\x08")
    )
    template = tlv(0x7F60, tlv(0xA1, header) + tlv(0x5F2E, facial_record(jpeg, width, height)))
    return tlv(TAG_DG2, tlv(0x7F61, tlv(0x02, b"\x01") + template))


def lds_security_object(data_groups: Mapping[int, bytes]) -> bytes:
    """The DER LDSSecurityObject over the given data group files (SHA-256)."""
    return bytes(
        LDSSecurityObject(
            {
                "version": 0,
                "hash_algorithm": {"algorithm": "sha256"},
                "data_group_hash_values": [
                    {
                        "data_group_number": number,
                        "data_group_hash_value": hashlib.sha256(content).digest(),
                    }
                    for number, content in sorted(data_groups.items())
                ],
            }
        ).dump()
    )


def build_sod(
    data_groups: Mapping[int, bytes],
    signer_key: ec.EllipticCurvePrivateKey,
    signer_certificate: cx509.Certificate,
) -> bytes:
    """EF.SOD: CMS SignedData over the LDSSecurityObject, signed by the document signer."""
    econtent = lds_security_object(data_groups)
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [LDS_SECURITY_OBJECT_OID]},
            {"type": "message_digest", "values": [hashlib.sha256(econtent).digest()]},
        ]
    )
    # The signature covers the DER of the attributes as a SET OF (RFC 5652, section 5.4).
    signature = signer_key.sign(
        signed_attrs.dump(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    )
    certificate = x509.Certificate.load(signer_certificate.public_bytes(serialization.Encoding.DER))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": certificate.issuer,
                        "serial_number": certificate.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {
                "content_type": LDS_SECURITY_OBJECT_OID,
                "content": econtent,
            },
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tlv(TAG_SOD, bytes(content_info.dump()))
