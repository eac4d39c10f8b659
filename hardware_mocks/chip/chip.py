"""The virtual eMRTD chip: the LDS files of one passport behind Basic Access Control.

:func:`issue_chip` personalises a chip the way an issuing state would (DG1 from the MRZ, DG2 from
the document photo, EF.SOD signed by the country's document signer), optionally with one of the
:class:`Attack` fixtures. :class:`VirtualChip` only hands its files to a reader whose BAC keys,
derived from the MRZ information of the page, equal the keys it was personalised with.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps

from hardware_mocks.chip import lds
from hardware_mocks.chip.interface import (
    AccessControl,
    BACKeys,
    ChipAccessDeniedError,
    ChipFile,
    ChipFileNotFoundError,
    PACENotSupportedError,
    derive_bac_keys,
    mrz_information,
)
from hardware_mocks.chip.pki import Credential, MockPKI
from hardware_mocks.interfaces import RGBImage

JPEG_QUALITY = 85


class Attack(StrEnum):
    """Forgeries passive authentication must catch, each with its own failing check."""

    DG2_ALTERED = "dg2-altered"
    """The face in DG2 replaced (here: mirrored) after the SOD was signed: a DG2 hash mismatch."""
    DG1_DIFFERS_FROM_PAGE = "dg1-differs-from-page"
    """A consistently signed chip whose DG1 name differs from the printed page (an altered
    page; the BAC fields agree, so the page still opens the chip)."""
    UNKNOWN_CSCA = "unknown-csca"
    """Signed by a DS under a CSCA that copies the genuine name but is on no master list."""
    FORGED_CHAIN = "forged-chain"
    """The DS claims the genuine CSCA's name and key identifier but was signed by another key."""
    EXPIRED_SIGNER = "expired-signer"
    """Signed by a document signer whose certificate has expired."""
    REVOKED_SIGNER = "revoked-signer"
    """Signed by a document signer listed on the CSCA's CRL."""
    SOD_SIGNATURE_TAMPERED = "sod-signature-tampered"
    """One bit of the SOD's signature flipped."""


class HasMRZ(Protocol):
    """Anything with printed MRZ lines (``hardware_mocks.travellers.Traveller``)."""

    @property
    def mrz_lines(self) -> tuple[str, str]: ...


def jpeg_from_rgb(image: RGBImage, quality: int = JPEG_QUALITY) -> bytes:
    """Encode an RGB array as the JPEG a chip stores in DG2."""
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class VirtualChip:
    """One passport's chip. Implements :class:`hardware_mocks.chip.interface.EMRTDChip`."""

    def __init__(
        self,
        files: dict[ChipFile, bytes],
        keys: BACKeys,
        access_control: AccessControl = AccessControl.BAC,
    ) -> None:
        self._files = dict(files)
        self._keys = keys
        self._access_control = access_control
        self.reads = 0
        self.denied = 0

    @property
    def access_control(self) -> AccessControl:
        return self._access_control

    def select_and_read(
        self, mrz_information: str, files: Sequence[ChipFile]
    ) -> dict[ChipFile, bytes]:
        if self._access_control is AccessControl.PACE_ONLY:
            raise PACENotSupportedError("PACE not supported: the chip offers no BAC")
        try:
            presented = derive_bac_keys(mrz_information)
        except UnicodeEncodeError:
            presented = None
        if presented is None or not self._keys.matches(presented):
            self.denied += 1
            raise ChipAccessDeniedError("BAC failed: the access keys do not open this chip")
        missing = [f.name for f in files if f not in self._files]
        if missing:
            raise ChipFileNotFoundError(f"no such file on the chip: {', '.join(missing)}")
        self.reads += 1
        return {f: self._files[f] for f in files}

    def __repr__(self) -> str:  # no document data in logs
        return f"VirtualChip(access={self._access_control.value}, files={len(self._files)})"


def issue_chip(
    document: HasMRZ | Sequence[str],
    photo_jpeg: bytes,
    pki: MockPKI,
    *,
    attack: Attack | None = None,
    access_control: AccessControl = AccessControl.BAC,
) -> VirtualChip:
    """Personalise a chip for ``document`` (a traveller, or the printed MRZ lines).

    ``photo_jpeg`` is the face for DG2 (see :func:`jpeg_from_rgb`). The issuing state (MRZ
    line 1, positions 3-5) selects the country PKI. The BAC keys come from the *printed* MRZ;
    DG1 holds it too unless ``attack`` is :attr:`Attack.DG1_DIFFERS_FROM_PAGE`.
    """
    printed = tuple(document if isinstance(document, Sequence) else document.mrz_lines)
    issuing_state = printed[0][2:5].rstrip("<")
    country = pki.country(issuing_state)

    chip_mrz = _altered_name(printed) if attack is Attack.DG1_DIFFERS_FROM_PAGE else printed
    with Image.open(io.BytesIO(photo_jpeg)) as im:
        width, height = im.size
    dg1 = lds.build_dg1(chip_mrz)
    dg2 = lds.build_dg2(photo_jpeg, width, height)

    signers: dict[Attack | None, Credential] = {
        Attack.UNKNOWN_CSCA: country.rogue_signer,
        Attack.FORGED_CHAIN: country.forged_chain_signer,
        Attack.EXPIRED_SIGNER: country.expired_signer,
        Attack.REVOKED_SIGNER: country.revoked_signer,
    }
    signer = signers.get(attack, country.signer)
    sod = lds.build_sod({1: dg1, 2: dg2}, signer.key, signer.certificate)

    if attack is Attack.DG2_ALTERED:
        dg2 = lds.build_dg2(_mirrored(photo_jpeg), width, height)
    elif attack is Attack.SOD_SIGNATURE_TAMPERED:
        sod = _flip_signature_bit(sod)

    files = {ChipFile.COM: lds.build_com(), ChipFile.DG1: dg1, ChipFile.DG2: dg2, ChipFile.SOD: sod}
    return VirtualChip(files, derive_bac_keys(mrz_information(printed)), access_control)


def _altered_name(lines: Sequence[str]) -> tuple[str, ...]:
    """The MRZ with another primary identifier (surname); no check digit covers the name."""
    index, offset = (2, 0) if len(lines) == 3 else (0, 5)  # TD1: the name is line 3
    line = lines[index]
    name = line[offset:]
    surname = "TRUDY" if name.startswith("MALLORY<") else "MALLORY"
    rest = name[name.find("<<") :] if "<<" in name else "<<"
    altered = line[:offset] + (surname + rest)[: len(name)].ljust(len(name), "<")
    return tuple(altered if i == index else old for i, old in enumerate(lines))


def _mirrored(photo_jpeg: bytes) -> bytes:
    with Image.open(io.BytesIO(photo_jpeg)) as im:
        image = ImageOps.mirror(im.convert("RGB"))
    return jpeg_from_rgb(np.asarray(image, dtype=np.uint8))


def _flip_signature_bit(sod: bytes) -> bytes:
    """Flip the lowest bit of the signature value.

    The SignerInfo is the last field of SignedData and, without unsigned attributes, its
    signature is the last field of the SignerInfo: the SOD's last byte is the signature's last
    byte (the low byte of ECDSA's ``s``), so the structure stays well-formed.
    """
    return sod[:-1] + bytes([sod[-1] ^ 0x01])
