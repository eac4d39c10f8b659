"""Virtual eMRTD chip: test PKI, LDS files (DG1, DG2, EF.SOD) and BAC (ICAO Doc 9303)."""

from hardware_mocks.chip.chip import Attack, VirtualChip, issue_chip, jpeg_from_rgb
from hardware_mocks.chip.interface import (
    AccessControl,
    BACKeys,
    ChipAccessDeniedError,
    ChipError,
    ChipFile,
    ChipFileNotFoundError,
    EMRTDChip,
    PACENotSupportedError,
    derive_bac_keys,
    mrz_information,
)
from hardware_mocks.chip.pki import CountryPKI, Credential, MockPKI

__all__ = [
    "AccessControl",
    "Attack",
    "BACKeys",
    "ChipAccessDeniedError",
    "ChipError",
    "ChipFile",
    "ChipFileNotFoundError",
    "CountryPKI",
    "Credential",
    "EMRTDChip",
    "MockPKI",
    "PACENotSupportedError",
    "VirtualChip",
    "derive_bac_keys",
    "issue_chip",
    "jpeg_from_rgb",
    "mrz_information",
]
