"""Read the MRZ of a data-page image: locate, segment, classify, decode, validate.

``read_mrz(image)`` never raises for a bad image: the :class:`MRZRead` says ``valid=False`` and
why. ``valid`` means: every check digit (composite included) passes, the dates are real dates
with a plausible century, the country codes are known ICAO codes, and every character the check
digits do not protect (document type, states, sex, names) was read with high confidence. Names
are reported as read and flagged as unprotected (``names_unprotected``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kiosk.document import MRZParseError, parse_mrz
from kiosk.mrz.classify import CellClassifier, ProbArray, default_classifier
from kiosk.mrz.io import ImageLoadError, as_grey, load_grey
from kiosk.mrz.locate import GreyImage, MRZLocation, MRZNotFoundError, locate
from kiosk.mrz.repair import LAYOUTS, Decoded, decode, field_confidence
from kiosk.mrz.segment import extract_cells

UNPROTECTED_MIN_PROB = 0.90
"""Below this, a character no check digit protects makes the read invalid (reread)."""
EXPIRY_MAX_YEARS_AHEAD = 10
"""Passports run at most 10 years: an expiry further ahead is a misread."""
TTA_SHIFTS = ((0.0, 0.0), (0.06, 0.0), (-0.06, 0.0), (0.0, 0.07), (0.0, -0.07))
"""Cell-window shifts (pitches) whose probabilities are averaged when the first read fails."""


@dataclass(frozen=True, slots=True)
class MRZRead:
    valid: bool
    errors: tuple[str, ...]
    format: str | None = None
    lines: tuple[str, ...] = ()
    """As read after repair, fillers included."""
    document_type: str | None = None
    issuing_state: str | None = None
    surname: str | None = None
    given_names: str | None = None
    document_number: str | None = None
    nationality: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    expiry_date: date | None = None
    check_digits_valid: bool = False
    repairs: tuple[tuple[int, int, str, str], ...] = ()
    """(line, column, as read, corrected)."""
    confidence: dict[str, float] = field(default_factory=dict)
    """Per field: the lowest probability of any of its characters."""
    names_unprotected: bool = True
    """Names are not covered by check digits: compare them with the chip or the visual zone."""

    def to_json(self, file: str | None = None) -> dict[str, Any]:
        """The CLI's JSON object (``bordergate mrz read --json``)."""
        out: dict[str, Any] = {} if file is None else {"file": file}
        out["valid"] = self.valid
        if self.format is None:
            out["errors"] = list(self.errors)
            return out
        out.update(
            format=self.format,
            mrz=list(self.lines),
            document_type=self.document_type,
            issuing_state=self.issuing_state,
            surname=self.surname,
            given_names=self.given_names,
            document_number=self.document_number,
            nationality=self.nationality,
            birth_date=None if self.birth_date is None else self.birth_date.isoformat(),
            sex=self.sex,
            expiry_date=None if self.expiry_date is None else self.expiry_date.isoformat(),
            errors=list(self.errors),
        )
        return out


def read_mrz(
    image: npt.NDArray[Any] | str | Path | bytes,
    *,
    today: date | None = None,
    classifier: CellClassifier | None = None,
) -> MRZRead:
    """Read the MRZ of a data-page image (RGB/grey array, file path or file bytes)."""
    try:
        grey = load_grey(image) if isinstance(image, str | Path | bytes) else as_grey(image)
    except ImageLoadError as exc:
        return MRZRead(valid=False, errors=(str(exc),))
    return read_grey(grey, today=today, classifier=classifier)


def read_grey(
    grey: GreyImage, *, today: date | None = None, classifier: CellClassifier | None = None
) -> MRZRead:
    """Read the MRZ of an H x W grey image (0-255); the page may also be upside down."""
    classifier = classifier or default_classifier()
    first = _attempt(grey, classifier)
    if isinstance(first, Decoded) and first.checks_ok:
        return _result(first, today or date.today())
    turned = _attempt(np.ascontiguousarray(grey[::-1, ::-1]), classifier)
    if isinstance(turned, Decoded) and (turned.checks_ok or not isinstance(first, Decoded)):
        return _result(turned, today or date.today())
    if isinstance(first, Decoded):
        return _result(first, today or date.today())
    return MRZRead(valid=False, errors=(first,))


def _attempt(grey: GreyImage, classifier: CellClassifier) -> Decoded | str:
    """The decoded MRZ, or why there is none."""
    try:
        location = locate(grey)
        probs = _probabilities(grey, location, classifier, ((0.0, 0.0),))
    except MRZNotFoundError as exc:
        return f"no MRZ found: {exc}"
    except ValueError as exc:
        return f"MRZ not readable: {exc}"
    layout = LAYOUTS[location.chars_per_line]
    decoded = decode(probs, layout)
    if not _acceptable(decoded):
        averaged = _probabilities(grey, location, classifier, TTA_SHIFTS)
        second = decode(averaged, layout)
        if _acceptable(second) or (not decoded.checks_ok and second.checks_ok):
            decoded = second
    return decoded


def _probabilities(
    grey: GreyImage,
    location: MRZLocation,
    classifier: CellClassifier,
    shifts: tuple[tuple[float, float], ...],
) -> ProbArray:
    total: ProbArray | None = None
    for shift in shifts:
        cells = extract_cells(
            grey,
            location.homography,
            location.chars_per_line,
            location.lines,
            location.pitch_px,
            shift,
        )
        p = classifier.probabilities(cells)
        total = p if total is None else total + p
    assert total is not None
    return total / len(shifts)


def _acceptable(decoded: Decoded) -> bool:
    return decoded.checks_ok and not decoded.errors and not _low_confidence(decoded)


def _low_confidence(decoded: Decoded) -> list[str]:
    return [
        name
        for name in decoded.layout.unprotected
        if field_confidence(decoded, name) < UNPROTECTED_MIN_PROB
    ]


def _result(decoded: Decoded, today: date) -> MRZRead:
    layout = decoded.layout
    errors = list(decoded.errors)
    uncertain = _low_confidence(decoded)
    if uncertain:
        errors.append(
            "uncertain characters in fields no check digit protects: " + ", ".join(uncertain)
        )
    n = layout.chars_per_line
    repairs = tuple((i // n, i % n, a, b) for i, a, b in decoded.repairs)
    confidence = {name: round(field_confidence(decoded, name), 4) for name in layout.fields}
    lines = tuple(decoded.lines)
    base = MRZRead(
        valid=False,
        errors=(),
        format=layout.name,
        lines=lines,
        repairs=repairs,
        confidence=confidence,
    )
    try:
        data = parse_mrz(lines, today)
    except MRZParseError as exc:
        errors.append(str(exc))
        return _replace(base, errors=tuple(dict.fromkeys(errors)))
    if not data.check_digits_valid and decoded.checks_ok:
        errors.append("check digits fail (mrz package)")
    if data.birth_date > today:
        errors.append("birth date in the future")
    horizon = date(today.year + EXPIRY_MAX_YEARS_AHEAD, today.month, min(today.day, 28))
    if data.expiry_date > horizon:
        errors.append(f"expiry more than {EXPIRY_MAX_YEARS_AHEAD} years ahead")
    errors = list(dict.fromkeys(errors))
    return _replace(
        base,
        valid=not errors and data.check_digits_valid,
        errors=tuple(errors),
        document_type=data.document_type.rstrip("<"),
        issuing_state=data.issuing_state,
        surname=data.surname,
        given_names=data.given_names,
        document_number=data.document_number.rstrip("<"),
        nationality=data.nationality,
        birth_date=data.birth_date,
        sex=data.sex,
        expiry_date=data.expiry_date,
        check_digits_valid=data.check_digits_valid,
    )


def _replace(read: MRZRead, **changes: Any) -> MRZRead:
    from dataclasses import replace

    return replace(read, **changes)
