"""Decode per-cell probabilities into MRZ lines under ICAO 9303 field types and check digits.

* Every position has a field type (letters, digits, alphanumeric, sex, check digit), so each cell
  is first decoded to its most probable character among those its field allows.
* Country codes (issuing state, nationality) are decoded against the list of known ICAO codes.
* When a check digit (or the composite) fails, the decoder searches one- and two-character
  corrections among the classifier's plausible alternatives in the failing fields, and applies
  a correction only when it is the single clearly most probable one that makes every check digit
  and date valid; otherwise it refuses (the read is invalid: reread or refer).
* Names are not covered by any check digit: they are decoded as read, never "repaired".

Check digits are computed by the ``mrz`` package (:func:`mrz.base.functions.hash_string`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
from mrz.base.functions import hash_string

from bordergate import countries
from kiosk.mrz.classify import ALPHABET, INDEX, ProbArray

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS + "<"
NAME = LETTERS + "<"
SEX = "MFX<"

ALTERNATIVE_LOG_RATIO = math.log(1e4)
"""An alternative character is plausible if at most this much less likely than the best."""
REPAIR_MARGIN = math.log(20.0)
"""A correction is applied only if this much more likely than the next valid correction."""
MAX_PAIR_POSITIONS = 10


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    spans: tuple[tuple[int, int], ...]
    """(start, end) of the covered characters, in the joined lines."""
    digit: int
    """Position of the check digit."""
    filler_ok: bool = False
    """True where an all-filler field may carry ``<`` as its check digit."""

    def covers(self) -> list[int]:
        return [i for s, e in self.spans for i in range(s, e)] + [self.digit]

    def ok(self, text: str) -> bool:
        data = "".join(text[s:e] for s, e in self.spans)
        got = text[self.digit]
        if got == "<":
            return self.filler_ok and set(data) <= {"<"}
        return bool(str(hash_string(data)) == got)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each field of one MRZ format lies in the joined lines (line after line)."""

    name: str
    chars_per_line: int
    lines: int
    types: str
    """One allowed-character-set key per position (see ``_SETS``)."""
    fields: dict[str, tuple[int, int]]
    checks: tuple[Check, ...]
    dates: dict[str, tuple[int, int]]
    countries: tuple[str, ...] = ("issuing_state", "nationality")
    unprotected: tuple[str, ...] = field(default=())

    def text_lines(self, text: str) -> list[str]:
        n = self.chars_per_line
        return [text[i * n : (i + 1) * n] for i in range(self.lines)]


_SETS = {"A": NAME, "N": DIGITS, "X": ALNUM, "S": SEX, "C": DIGITS, "c": DIGITS + "<", "T": LETTERS}


def _types(*parts: tuple[str, int]) -> str:
    return "".join(kind * count for kind, count in parts)


TD3 = Layout(
    name="TD3",
    chars_per_line=44,
    lines=2,
    types=_types(("T", 1), ("A", 1), ("A", 3), ("A", 39))
    + _types(("X", 9), ("C", 1), ("A", 3), ("N", 6), ("C", 1), ("S", 1), ("N", 6), ("C", 1))
    + _types(("X", 14), ("c", 1), ("C", 1)),
    fields={
        "document_type": (0, 2),
        "issuing_state": (2, 5),
        "names": (5, 44),
        "document_number": (44, 53),
        "nationality": (54, 57),
        "birth_date": (57, 63),
        "sex": (64, 65),
        "expiry_date": (65, 71),
        "optional_data": (72, 86),
    },
    checks=(
        Check("document number", ((44, 53),), 53),
        Check("birth date", ((57, 63),), 63),
        Check("expiry date", ((65, 71),), 71),
        Check("optional data", ((72, 86),), 86, filler_ok=True),
        Check("composite", ((44, 54), (57, 64), (65, 87)), 87),
    ),
    dates={"birth_date": (57, 63), "expiry_date": (65, 71)},
    unprotected=("document_type", "issuing_state", "names", "nationality", "sex"),
)

TD2 = Layout(
    name="TD2",
    chars_per_line=36,
    lines=2,
    types=_types(("T", 1), ("A", 1), ("A", 3), ("A", 31))
    + _types(("X", 9), ("C", 1), ("A", 3), ("N", 6), ("C", 1), ("S", 1), ("N", 6), ("C", 1))
    + _types(("X", 7), ("C", 1)),
    fields={
        "document_type": (0, 2),
        "issuing_state": (2, 5),
        "names": (5, 36),
        "document_number": (36, 45),
        "nationality": (46, 49),
        "birth_date": (49, 55),
        "sex": (56, 57),
        "expiry_date": (57, 63),
        "optional_data": (64, 71),
    },
    checks=(
        Check("document number", ((36, 45),), 45),
        Check("birth date", ((49, 55),), 55),
        Check("expiry date", ((57, 63),), 63),
        Check("composite", ((36, 46), (49, 56), (57, 71)), 71),
    ),
    dates={"birth_date": (49, 55), "expiry_date": (57, 63)},
    unprotected=("document_type", "issuing_state", "names", "nationality", "sex"),
)

TD1 = Layout(
    name="TD1",
    chars_per_line=30,
    lines=3,
    types=_types(("T", 1), ("A", 1), ("A", 3), ("X", 9), ("c", 1), ("X", 15))
    + _types(("N", 6), ("C", 1), ("S", 1), ("N", 6), ("C", 1), ("A", 3), ("X", 11), ("C", 1))
    + _types(("A", 30)),
    fields={
        "document_type": (0, 2),
        "issuing_state": (2, 5),
        "document_number": (5, 14),
        "optional_data": (15, 30),
        "birth_date": (30, 36),
        "sex": (37, 38),
        "expiry_date": (38, 44),
        "nationality": (45, 48),
        "optional_data_2": (48, 59),
        "names": (60, 90),
    },
    checks=(
        # a '<' here means the number runs on into the optional data (Doc 9303-5 note j);
        # the composite still covers it
        Check("document number", ((5, 14),), 14, filler_ok=True),
        Check("birth date", ((30, 36),), 36),
        Check("expiry date", ((38, 44),), 44),
        Check("composite", ((5, 30), (30, 37), (38, 45), (48, 59)), 59),
    ),
    dates={"birth_date": (30, 36), "expiry_date": (38, 44)},
    unprotected=("document_type", "issuing_state", "names", "nationality", "sex"),
)

LAYOUTS = {44: TD3, 36: TD2, 30: TD1}


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    """The joined lines after decoding and repair."""
    layout: Layout
    checks_ok: bool
    failed_checks: tuple[str, ...]
    repairs: tuple[tuple[int, str, str], ...]
    """(position, best unconstrained reading, final character): field-type, country-code and
    check-digit corrections."""
    char_prob: tuple[float, ...]
    """Probability of each final character under the classifier."""
    errors: tuple[str, ...]

    @property
    def lines(self) -> list[str]:
        return self.layout.text_lines(self.text)


def _mask(allowed: str) -> np.ndarray:
    m = np.zeros(len(ALPHABET), dtype=bool)
    for c in allowed:
        m[INDEX[c]] = True
    return m


@lru_cache(maxsize=8)
def _masks(types: str) -> np.ndarray:
    return np.stack([_mask(_SETS[t]) for t in types])


@lru_cache(maxsize=1)
def _country_codes() -> tuple[str, ...]:
    codes = sorted(countries._KNOWN)
    return tuple(c.ljust(3, "<") for c in codes if len(c) <= 3)


def _valid_yymmdd(raw: str) -> bool:
    if len(raw) != 6 or not raw.isdigit():
        return False
    month, day = int(raw[2:4]), int(raw[4:])
    # any century will do for the day of month, except 29 February (checked with a leap year)
    try:
        date(2000, month, day)
    except ValueError:
        return False
    return True


def _consistent(layout: Layout, text: str) -> bool:
    return all(check.ok(text) for check in layout.checks) and all(
        _valid_yymmdd(text[s:e]) for s, e in layout.dates.values()
    )


def decode(probs: ProbArray, layout: Layout) -> Decoded:
    """The most probable reading of ``probs`` (one row per cell) that ``layout`` allows."""
    if probs.shape[0] != len(layout.types):
        raise ValueError(f"{layout.name} needs {len(layout.types)} cells, got {probs.shape[0]}")
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    masked = np.where(_masks(layout.types), logp, -np.inf)
    best = masked.argmax(axis=1)
    chars = [ALPHABET[i] for i in best]
    errors: list[str] = []
    for name in layout.countries:
        start, end = layout.fields[name]
        code, problem = _decode_country(masked[start:end])
        chars[start:end] = list(code)
        if problem:
            errors.append(f"{name.replace('_', ' ')}: {problem}")
    text = "".join(chars)
    if not _consistent(layout, text):
        repaired, problem = _repair(text, masked, layout)
        if repaired is not None:
            text = repaired
        elif problem:
            errors.append(problem)
    raw = "".join(ALPHABET[i] for i in logp.argmax(axis=1))
    repairs = tuple((i, a, b) for i, (a, b) in enumerate(zip(raw, text, strict=True)) if a != b)
    failed = tuple(c.name for c in layout.checks if not c.ok(text))
    for name, (s, e) in layout.dates.items():
        if not _valid_yymmdd(text[s:e]):
            errors.append(f"{name.replace('_', ' ')} {text[s:e]!r} is not a date")
    errors.extend(f"{name} check digit fails" for name in failed)
    char_prob = tuple(float(probs[i, INDEX[c]]) for i, c in enumerate(text))
    return Decoded(
        text=text,
        layout=layout,
        checks_ok=not failed,
        failed_checks=failed,
        repairs=repairs,
        char_prob=char_prob,
        errors=tuple(dict.fromkeys(errors)),
    )


def _decode_country(masked: np.ndarray) -> tuple[str, str | None]:
    """The most probable known ICAO code; a problem when none is clearly best."""
    codes = _country_codes()
    idx = np.array([[INDEX[c] for c in code] for code in codes])
    scores = masked[np.arange(3)[None, :], idx].sum(axis=1)
    order = np.argsort(scores)[::-1]
    top = float(scores[order[0]])
    read = "".join(ALPHABET[i] for i in masked.argmax(axis=1))
    if not math.isfinite(top):
        return read, "not a known country code"
    if len(order) > 1 and top - float(scores[order[1]]) < REPAIR_MARGIN and read != codes[order[0]]:
        return read, "not a known country code, no unique correction"
    return codes[order[0]], None


def _repair(text: str, masked: np.ndarray, layout: Layout) -> tuple[str | None, str | None]:
    """The single clearly best correction of up to two characters, or (None, reason)."""
    failing = [c for c in layout.checks if not c.ok(text)]
    positions: set[int] = set()
    for check in failing:
        positions.update(check.covers())
    for s, e in layout.dates.values():
        if not _valid_yymmdd(text[s:e]):
            positions.update(range(s, e))
    if all(c.name == "composite" for c in failing):
        positions.update(i for c in layout.checks for i in c.covers())
    positions -= _unprotected_positions(layout)
    base = [masked[i, INDEX[c]] for i, c in enumerate(text)]
    alternatives: dict[int, list[tuple[str, float]]] = {}
    for i in sorted(positions):
        row = masked[i]
        alts = [
            (ALPHABET[k], float(row[k] - base[i]))
            for k in np.argsort(row)[::-1][:4]
            if ALPHABET[k] != text[i] and row[k] - base[i] > -ALTERNATIVE_LOG_RATIO
        ]
        if alts:
            alternatives[i] = alts
    found: list[tuple[float, str]] = []

    def consider(changes: Sequence[tuple[int, str, float]]) -> None:
        chars = list(text)
        cost = 0.0
        for i, c, delta in changes:
            chars[i] = c
            cost += delta
        candidate = "".join(chars)
        if _consistent(layout, candidate):
            found.append((cost, candidate))

    for i, alts in alternatives.items():
        for c, delta in alts:
            consider([(i, c, delta)])
    # pairs among the least certain positions
    uncertain = sorted(alternatives, key=lambda i: -alternatives[i][0][1])[:MAX_PAIR_POSITIONS]
    for i, j in itertools.combinations(sorted(uncertain), 2):
        for (ci, di), (cj, dj) in itertools.product(alternatives[i], alternatives[j]):
            consider([(i, ci, di), (j, cj, dj)])
    if not found:
        return None, "check digits fail and no correction of one or two characters fits"
    found.sort(key=lambda f: -f[0])
    if len(found) > 1 and found[0][0] - found[1][0] < REPAIR_MARGIN:
        return None, "check digits fail and two corrections fit equally well"
    return found[0][1], None


def _unprotected_positions(layout: Layout) -> set[int]:
    out: set[int] = set()
    for name in layout.unprotected:
        s, e = layout.fields[name]
        out.update(range(s, e))
    return out


def field_text(decoded: Decoded, name: str) -> str:
    s, e = decoded.layout.fields[name]
    return decoded.text[s:e]


def field_confidence(decoded: Decoded, name: str) -> float:
    s, e = decoded.layout.fields[name]
    return min(decoded.char_prob[s:e], default=1.0)


RepairFunction = Callable[[ProbArray, Layout], Decoded]
