"""Reading the chip at the kiosk: BAC with the printed MRZ, DG1 + DG2 + EF.SOD, passive auth.

The chip's DG1 is the authoritative identity for the decision; the printed MRZ only opens the
chip (and must equal DG1, which passive authentication checks). The DG2 face is for the face
matcher only: it lives in the returned :class:`ChipReading` for one transaction, is never
logged, and the caller drops the reading when the transaction ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from bordergate.clearance_api import DocumentData
from hardware_mocks.chip.interface import ChipFile, EMRTDChip, mrz_information
from hardware_mocks.interfaces import RGBImage
from kiosk.chip.lds import LDSFormatError, decode_face, dg2_face_image, parse_dg1
from kiosk.chip.master_list import MasterList
from kiosk.chip.passive_auth import PAResult, passive_authentication
from kiosk.document import MRZParseError, parse_mrz

log = structlog.get_logger(__name__)

FILES_READ = (ChipFile.DG1, ChipFile.DG2, ChipFile.SOD)


@dataclass(frozen=True, slots=True, eq=False)
class ChipReading:
    """What the kiosk takes from the chip for one transaction."""

    document: DocumentData | None
    """The identity from DG1 (``chip_authenticated`` = the PA result); None if DG1 is
    unreadable."""
    face: RGBImage | None
    """The DG2 face, H x W x 3 RGB uint8; None if DG2 is missing or undecodable."""
    pa: PAResult

    @property
    def authenticated(self) -> bool:
        return self.pa.authenticated and self.document is not None

    def __repr__(self) -> str:  # nothing personal or biometric in logs
        return (
            f"ChipReading(authenticated={self.authenticated}, "
            f"reasons={[r.value for r in self.pa.reasons]})"
        )


def read_chip(
    chip: EMRTDChip,
    printed_mrz_lines: Sequence[str],
    master_list: MasterList,
    at: datetime,
) -> ChipReading:
    """Open ``chip`` with BAC keys from the printed MRZ, read it and authenticate it.

    Raises ``ValueError`` if the printed MRZ has no TD1/TD2/TD3 shape, and the chip's
    :class:`hardware_mocks.chip.ChipError` subclasses (``ChipAccessDeniedError`` for a wrong MRZ,
    ``PACENotSupportedError`` for a PACE-only chip, ``ChipFileNotFoundError``): the kiosk refers.
    ``at`` (timezone-aware) is the checking time for certificate and CRL validity; its date
    resolves the MRZ's two-digit years.
    """
    files = chip.select_and_read(mrz_information(printed_mrz_lines), FILES_READ)
    dg_files = {1: files[ChipFile.DG1], 2: files[ChipFile.DG2]}
    pa = passive_authentication(dg_files, files[ChipFile.SOD], master_list, printed_mrz_lines, at)

    document: DocumentData | None = None
    try:
        parsed = parse_mrz(parse_dg1(dg_files[1]), today=at.date())
        document = parsed.model_copy(update={"chip_authenticated": pa.authenticated})
    except (LDSFormatError, MRZParseError):
        log.warning("chip DG1 unreadable")
    face: RGBImage | None = None
    try:
        face = decode_face(dg2_face_image(dg_files[2]))
    except LDSFormatError:
        log.warning("chip DG2 face unreadable")
    return ChipReading(document=document, face=face, pa=pa)
