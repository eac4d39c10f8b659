"""The contactless chip of an eMRTD as the kiosk sees it (ICAO Doc 9303 parts 10 and 11).

This is the device side of the contract, like :mod:`hardware_mocks.interfaces`: a real reader
driver implements :class:`EMRTDChip` too. The kiosk opens the chip with Basic Access Control
(BAC): the access keys are derived from the *MRZ information* printed on the data page (document
number, birth date and expiry, each with its check digit), so only someone holding the open
document can read the chip.

Key derivation (Doc 9303 part 11, sections 4.3 and 9.7.1)::

    K_seed = SHA-1(MRZ_information)[0:16]
    K_ENC  = parity(SHA-1(K_seed || 00000001)[0:16])   two-key 3DES (Ka || Kb)
    K_MAC  = parity(SHA-1(K_seed || 00000002)[0:16])

where ``parity`` sets the low bit of every byte so that each byte has odd parity (DES keys).
The secure-messaging APDU exchange (GET CHALLENGE, MUTUAL AUTHENTICATE, session keys) is not
simulated: the chip compares the keys derived from what the reader presents with its own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Protocol, runtime_checkable


class ChipError(Exception):
    """Anything that stops the kiosk from reading the chip (the kiosk refers)."""


class ChipAccessDeniedError(ChipError):
    """The BAC keys derived from the presented MRZ information are not this chip's keys."""


class PACENotSupportedError(ChipError):
    """The chip only offers PACE (no BAC fallback); this kiosk implements BAC only."""


class ChipFileNotFoundError(ChipError):
    """The chip has no such elementary file."""


class AccessControl(StrEnum):
    BAC = "BAC"
    PACE_ONLY = "PACE"


class ChipFile(IntEnum):
    """LDS elementary files (the value is the short file identifier, Doc 9303 part 10)."""

    COM = 0x1E
    DG1 = 0x01
    DG2 = 0x02
    SOD = 0x1D

    @property
    def dg_number(self) -> int | None:
        """The data group number (1 for DG1...), None for EF.COM and EF.SOD."""
        return int(self.value) if self in (ChipFile.DG1, ChipFile.DG2) else None


@dataclass(frozen=True, slots=True)
class BACKeys:
    """The document basic access keys derived from the MRZ information."""

    k_seed: bytes
    k_enc: bytes
    k_mac: bytes

    def matches(self, other: BACKeys) -> bool:
        """Constant-time comparison of both keys."""
        enc_ok = hmac.compare_digest(self.k_enc, other.k_enc)
        mac_ok = hmac.compare_digest(self.k_mac, other.k_mac)
        return enc_ok and mac_ok

    def __repr__(self) -> str:  # keys never in logs
        return "BACKeys(<redacted>)"


def _with_odd_parity(key: bytes) -> bytes:
    """Set the low bit of each byte so the byte has an odd number of one bits (DES parity)."""
    out = bytearray()
    for byte in key:
        high = byte & 0xFE
        out.append(high | (0 if bin(high).count("1") % 2 else 1))
    return bytes(out)


def derive_key(k_seed: bytes, counter: int) -> bytes:
    """Doc 9303 part 11 section 9.7.1 KDF for two-key 3DES: 1 = K_ENC, 2 = K_MAC."""
    digest = hashlib.sha1(k_seed + counter.to_bytes(4, "big")).digest()
    return _with_odd_parity(digest[:16])


def derive_bac_keys(mrz_information: str) -> BACKeys:
    """K_seed, K_ENC and K_MAC from the MRZ information (e.g. ``L898902C<369080619406236``)."""
    k_seed = hashlib.sha1(mrz_information.encode("ascii")).digest()[:16]
    return BACKeys(k_seed=k_seed, k_enc=derive_key(k_seed, 1), k_mac=derive_key(k_seed, 2))


def mrz_information(mrz_lines: Sequence[str]) -> str:
    """The MRZ information for BAC: document number, birth date and expiry, with check digits.

    TD3 and TD2 (2 lines): line 2 positions 1-10, 14-20 and 22-28; TD1 (3 lines): line 1
    positions 6-15 and line 2 positions 1-7 and 9-15. Document numbers longer than 9 characters
    (continued in the optional data) are not supported. Raises ``ValueError`` on another shape.
    """
    lines = [line.strip().upper().replace(" ", "") for line in mrz_lines]
    lengths = [len(line) for line in lines]
    if lengths in ([44, 44], [36, 36]):
        line2 = lines[1]
        return line2[0:10] + line2[13:20] + line2[21:28]
    if lengths == [30, 30, 30]:
        return lines[0][5:15] + lines[1][0:7] + lines[1][8:15]
    raise ValueError(f"not a TD1/TD2/TD3 MRZ: line lengths {lengths}")


@runtime_checkable
class EMRTDChip(Protocol):
    """The chip as the reader sees it once the document lies on the reader."""

    @property
    def access_control(self) -> AccessControl:
        """What the chip offers to open it."""
        ...

    def select_and_read(
        self, mrz_information: str, files: Sequence[ChipFile]
    ) -> dict[ChipFile, bytes]:
        """Open the chip with BAC keys derived from ``mrz_information`` and read ``files``.

        Raises :class:`ChipAccessDeniedError` for keys that are not the chip's,
        :class:`PACENotSupportedError` for a PACE-only chip, :class:`ChipFileNotFoundError` for
        a file the chip does not have.
        """
        ...
