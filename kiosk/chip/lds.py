"""Reading the LDS files a chip returned (ICAO Doc 9303 part 10): DG1, DG2 and EF.SOD.

Independent of the mock that builds them (``hardware_mocks.chip.lds``): this side parses what
any chip returns, and raises :class:`LDSFormatError` on anything malformed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from asn1crypto import cms  # type: ignore[import-untyped]
from cryptography import x509
from PIL import Image, UnidentifiedImageError

from bordergate.icao_lds import LDSSecurityObject

_MRZ_LINE_LENGTHS = {88: 44, 72: 36, 90: 30}


class LDSFormatError(ValueError):
    """A chip file is not well-formed."""


# -- BER-TLV -------------------------------------------------------------------------------------


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, offset after the value) of the TLV at ``offset``."""
    try:
        pos = offset
        tag = data[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # multi-byte tag
            while True:
                tag = (tag << 8) | data[pos]
                pos += 1
                if not data[pos - 1] & 0x80:
                    break
        length = data[pos]
        pos += 1
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 3:
                raise LDSFormatError("unsupported TLV length encoding")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
    except IndexError:
        raise LDSFormatError("truncated TLV") from None
    end = pos + length
    if end > len(data):
        raise LDSFormatError("TLV value runs past the end of the data")
    return tag, data[pos:end], end


def unwrap(data: bytes, expected_tag: int) -> bytes:
    """The value of the single TLV ``data`` (its tag must be ``expected_tag``)."""
    tag, value, end = read_tlv(data)
    if tag != expected_tag:
        raise LDSFormatError(f"expected tag {expected_tag:X}, found {tag:X}")
    if end != len(data):
        raise LDSFormatError(f"trailing bytes after tag {tag:X}")
    return value


def children(value: bytes) -> dict[int, bytes]:
    """The TLVs inside a constructed value, by tag (the first of a repeated tag wins)."""
    found: dict[int, bytes] = {}
    offset = 0
    while offset < len(value):
        tag, child, offset = read_tlv(value, offset)
        found.setdefault(tag, child)
    return found


# -- DG1 -----------------------------------------------------------------------------------------


def parse_dg1(dg1: bytes) -> tuple[str, ...]:
    """The MRZ lines held in EF.DG1 (tag 61, MRZ data element 5F1F)."""
    inner = children(unwrap(dg1, 0x61))
    if 0x5F1F not in inner:
        raise LDSFormatError("DG1 has no MRZ data element (5F1F)")
    try:
        mrz = inner[0x5F1F].decode("ascii")
    except UnicodeDecodeError:
        raise LDSFormatError("DG1 MRZ is not ASCII") from None
    width = _MRZ_LINE_LENGTHS.get(len(mrz))
    if width is None:
        raise LDSFormatError(f"DG1 MRZ of {len(mrz)} characters is not TD1, TD2 or TD3")
    return tuple(mrz[i : i + width] for i in range(0, len(mrz), width))


# -- DG2 -----------------------------------------------------------------------------------------


def dg2_face_image(dg2: bytes) -> bytes:
    """The encoded face image (JPEG or JPEG 2000) of the first face in EF.DG2."""
    group = children(unwrap(dg2, 0x75))
    if 0x7F61 not in group:
        raise LDSFormatError("DG2 has no biometric information group template (7F61)")
    template = children(group[0x7F61])
    if 0x7F60 not in template:
        raise LDSFormatError("DG2 has no biometric information template (7F60)")
    bit = children(template[0x7F60])
    block = bit.get(0x5F2E) or bit.get(0x7F2E)
    if block is None:
        raise LDSFormatError("DG2 has no biometric data block (5F2E)")
    return _facial_record_image(block)


def _facial_record_image(record: bytes) -> bytes:
    """The image data of the first face of an ISO/IEC 19794-5:2005 facial record."""
    if len(record) < 14 or record[:4] != b"FAC\x00":
        raise LDSFormatError("DG2 biometric data is not an ISO/IEC 19794-5 facial record")
    if int.from_bytes(record[12:14], "big") < 1:
        raise LDSFormatError("DG2 facial record holds no face")
    pos = 14
    block_length = int.from_bytes(record[pos : pos + 4], "big")
    feature_points = int.from_bytes(record[pos + 4 : pos + 6], "big")
    image_start = pos + 20 + 8 * feature_points + 12
    block_end = pos + block_length
    if block_end > len(record) or image_start >= block_end:
        raise LDSFormatError("DG2 facial record block lengths are inconsistent")
    return record[image_start:block_end]


RGBArray = npt.NDArray[np.uint8]


def decode_face(image_data: bytes) -> RGBArray:
    """Decode the DG2 face to a contiguous H x W x 3 RGB uint8 array."""
    try:
        with Image.open(io.BytesIO(image_data)) as im:
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise LDSFormatError(f"DG2 face image cannot be decoded: {type(exc).__name__}") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


# -- EF.SOD --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecurityObject:
    """What passive authentication needs from EF.SOD."""

    econtent_type: str
    econtent: bytes
    hash_algorithm: str
    """The LDS security object's hash for the data groups (asn1crypto name: ``sha256``...)."""
    dg_hashes: dict[int, bytes]
    signer_certificate: x509.Certificate | None
    """The document signer certificate embedded in the SignedData (None if absent)."""
    digest_algorithm: str
    signature_algorithm: str
    """asn1crypto's name: ``sha256_ecdsa``, ``sha256_rsa``, ``rsassa_pss``..."""
    signed_attributes: bytes | None
    """The DER of the signed attributes as a SET OF (what the signature covers)."""
    content_type_attribute: str | None
    message_digest_attribute: bytes | None
    signature: bytes


def parse_sod(sod: bytes) -> SecurityObject:
    """Parse EF.SOD (tag 77 around a CMS ContentInfo); raises :class:`LDSFormatError`."""
    content = unwrap(sod, 0x77)
    try:
        info = cms.ContentInfo.load(content, strict=True)
        if info["content_type"].native != "signed_data":
            raise LDSFormatError("EF.SOD is not a CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content"].native is None:
            raise LDSFormatError("EF.SOD has no encapsulated content")
        econtent = bytes(encap["content"].contents)  # the octets of the OCTET STRING
        lso = LDSSecurityObject.load(econtent, strict=True)
        dg_hashes = {
            int(item["data_group_number"].native): bytes(item["data_group_hash_value"].native)
            for item in lso["data_group_hash_values"]
        }
        signer_infos = signed["signer_infos"]
        if len(signer_infos) != 1:
            raise LDSFormatError(f"EF.SOD has {len(signer_infos)} signer infos, expected 1")
        signer_info = signer_infos[0]
        certificate = _signer_certificate(signed, signer_info)
        attrs = signer_info["signed_attrs"]
        signed_attributes: bytes | None = None
        content_type_attr: str | None = None
        digest_attr: bytes | None = None
        if attrs.native is not None:
            raw = bytes(attrs.dump())
            signed_attributes = b"\x31" + raw[1:]  # [0] IMPLICIT -> SET OF (RFC 5652, 5.4)
            for attr in attrs:
                kind = attr["type"].native
                if kind == "content_type":
                    content_type_attr = str(attr["values"][0].dotted)
                elif kind == "message_digest":
                    digest_attr = bytes(attr["values"][0].native)
        return SecurityObject(
            econtent_type=str(encap["content_type"].dotted),
            econtent=econtent,
            hash_algorithm=str(lso["hash_algorithm"]["algorithm"].native),
            dg_hashes=dg_hashes,
            signer_certificate=certificate,
            digest_algorithm=str(signer_info["digest_algorithm"]["algorithm"].native),
            signature_algorithm=str(signer_info["signature_algorithm"]["algorithm"].native),
            signed_attributes=signed_attributes,
            content_type_attribute=content_type_attr,
            message_digest_attribute=digest_attr,
            signature=bytes(signer_info["signature"].native),
        )
    except LDSFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise LDSFormatError(f"EF.SOD cannot be parsed: {type(exc).__name__}") from None


def _signer_certificate(signed: object, signer_info: object) -> x509.Certificate | None:
    """The embedded certificate the SignerInfo's sid names (issuer + serial, or key id)."""
    sid = signer_info["sid"]  # type: ignore[index]
    certificates = signed["certificates"]  # type: ignore[index]
    if certificates.native is None:
        return None
    for choice in certificates:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            match = (
                cert.issuer == wanted["issuer"]
                and cert.serial_number == wanted["serial_number"].native
            )
        else:
            match = cert.key_identifier == sid.chosen.native
        if match:
            return x509.load_der_x509_certificate(bytes(cert.dump()))
    return None
