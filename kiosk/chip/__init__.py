"""Chip reading at the kiosk: BAC, DG1/DG2/EF.SOD and passive authentication (Doc 9303)."""

from kiosk.chip.lds import LDSFormatError
from kiosk.chip.master_list import MasterList, SkippedFile
from kiosk.chip.passive_auth import Check, CheckResult, PAResult, Reason, passive_authentication
from kiosk.chip.reader import ChipReading, read_chip

__all__ = [
    "Check",
    "CheckResult",
    "ChipReading",
    "LDSFormatError",
    "MasterList",
    "PAResult",
    "Reason",
    "SkippedFile",
    "passive_authentication",
    "read_chip",
]
