"""MRZ lines -> :class:`DocumentData`, check digits verified by the ``mrz`` package.

TD3 (passport, 2 x 44), TD2 (2 x 36) and TD1 (ID card, 3 x 30). Two-digit years get their century
here: a birth date is the latest one not in the future; an expiry date is the one that falls at
most ``EXPIRY_HORIZON_YEARS`` ahead (so ``31`` is 2031, and a long-expired ``99`` is 1999).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from mrz.checker.td1 import TD1CodeChecker
from mrz.checker.td2 import TD2CodeChecker
from mrz.checker.td3 import TD3CodeChecker
from pydantic import ValidationError

from bordergate.clearance_api import DocumentData

EXPIRY_HORIZON_YEARS = 20
"""Passports run at most 10 years; anything further ahead is read as last century."""

# Line lengths -> (format, checker, (line, start, end) of the name field).
_FORMATS: dict[tuple[int, ...], tuple[str, type[Any], tuple[int, int, int]]] = {
    (44, 44): ("TD3", TD3CodeChecker, (0, 5, 44)),
    (36, 36): ("TD2", TD2CodeChecker, (0, 5, 36)),
    (30, 30, 30): ("TD1", TD1CodeChecker, (2, 0, 30)),
}


class MRZParseError(ValueError):
    """The MRZ could not be read into document data (the kiosk refers: DOCUMENT_UNREADABLE)."""


def _yymmdd(raw: str) -> tuple[int, int, int]:
    if len(raw) != 6 or not raw.isdigit():
        raise MRZParseError(f"date field is not YYMMDD: {raw!r}")
    return int(raw[:2]), int(raw[2:4]), int(raw[4:])


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise MRZParseError(f"invalid date {year:04d}-{month:02d}-{day:02d}") from exc


def birth_date_from_mrz(raw: str, today: date) -> date:
    """The century that puts the birth date at or before ``today``."""
    yy, mm, dd = _yymmdd(raw)
    century = today.year // 100 * 100
    candidate = _make_date(century + yy, mm, dd) if _valid(century + yy, mm, dd) else None
    if candidate is not None and candidate <= today:
        return candidate
    return _make_date(century - 100 + yy, mm, dd)


def expiry_date_from_mrz(raw: str, today: date) -> date:
    """The latest century that keeps the expiry at most EXPIRY_HORIZON_YEARS ahead of today."""
    yy, mm, dd = _yymmdd(raw)
    horizon_year = today.year + EXPIRY_HORIZON_YEARS
    horizon = date(
        horizon_year, today.month, 28 if (today.month, today.day) == (2, 29) else today.day
    )
    century = today.year // 100 * 100
    for base in (century + 100, century):
        if _valid(base + yy, mm, dd) and date(base + yy, mm, dd) <= horizon:
            return date(base + yy, mm, dd)
    return _make_date(century - 100 + yy, mm, dd)


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _sex(raw: str) -> Literal["M", "F", "X"]:
    if raw == "M":
        return "M"
    if raw == "F":
        return "F"
    if raw in {"<", "X"}:
        return "X"
    raise MRZParseError(f"invalid sex field {raw!r}")


def _names(field: str) -> tuple[str, str]:
    """Primary and secondary identifiers of the name field, fillers as spaces."""
    primary, _, secondary = field.rstrip("<").partition("<<")
    surname = primary.replace("<", " ").strip()
    if not surname or not surname.replace(" ", "").isalpha():
        raise MRZParseError("unreadable name field")
    return surname, secondary.replace("<", " ").strip()


def parse_mrz(lines: Sequence[str], today: date | None = None) -> DocumentData:
    """Parse and check an MRZ; raises :class:`MRZParseError` when it cannot be read.

    A wrong check digit is not a parse error: ``check_digits_valid`` is False and the backend
    decides. ``today`` (default: the local date) resolves the two-digit years.
    """
    today = today if today is not None else date.today()
    cleaned = tuple(line.strip().upper().replace(" ", "") for line in lines)
    fmt = _FORMATS.get(tuple(len(line) for line in cleaned))
    if fmt is None:
        raise MRZParseError(
            f"not a TD1/TD2/TD3 MRZ: line lengths {[len(line) for line in cleaned]}"
        )
    name, checker_cls, (name_line, name_start, name_end) = fmt
    surname, given_names = _names(cleaned[name_line][name_start:name_end])
    try:
        checker = checker_cls("\n".join(cleaned))
        fields = checker.fields()
        # Every check digit, including the composite one (the library's own hash checks).
        check_digits_valid = bool(checker._all_hashes())
    except (ValueError, IndexError, TypeError) as exc:
        raise MRZParseError(f"unreadable {name} MRZ: {exc}") from exc

    try:
        return DocumentData(
            document_type=str(fields.document_type),
            issuing_state=str(fields.country),
            nationality=str(fields.nationality),
            document_number=str(fields.document_number),
            surname=surname,
            given_names=given_names,
            birth_date=birth_date_from_mrz(str(fields.birth_date), today),
            expiry_date=expiry_date_from_mrz(str(fields.expiry_date), today),
            sex=_sex(str(fields.sex)),
            check_digits_valid=check_digits_valid,
        )
    except ValidationError as exc:
        raise MRZParseError(f"{name} MRZ fields out of range: {exc.error_count()} errors") from exc
