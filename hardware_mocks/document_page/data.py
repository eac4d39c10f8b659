"""The data printed on a document: visual-zone fields and MRZ lines.

The MRZ lines come from the ``mrz`` package's generators (check digits included); the visual
zone shows the same data in full (names untruncated, dates as ``12 AUG 1974``).
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import iso3166
import mrz.generator._transliterations as _transliterations
from mrz.base.functions import transliterate
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator

from bordergate.countries import ICAO_EXTRA_CODES
from hardware_mocks.document_page.geometry import DocumentKind

if TYPE_CHECKING:
    from hardware_mocks.travellers import Traveller

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

# Issuing state -> (places of birth, issuing authority, surnames, given names).
_STATES: dict[str, tuple[tuple[str, ...], str, tuple[str, ...], tuple[str, ...]]] = {
    "USA": (
        ("NEW YORK, U.S.A.", "CALIFORNIA, U.S.A.", "TEXAS, U.S.A.", "OHIO, U.S.A."),
        "UNITED STATES DEPARTMENT OF STATE",
        ("SMITH", "JOHNSON", "WILLIAMS", "RODRIGUEZ", "O'CONNOR", "WASHINGTON-BAKER"),
        ("JOHN", "MARY ELIZABETH", "ROBERT JAMES", "LINDA", "CHRISTOPHER MICHAEL"),
    ),
    "GBR": (
        ("LONDON", "MANCHESTER", "CARDIFF", "EDINBURGH", "BELFAST"),
        "HMPO",
        ("TAYLOR", "DAVIES", "EVANS", "WILSON", "FEATHERSTONEHAUGH"),
        ("OLIVER", "AMELIA GRACE", "HARRY", "ISLA", "ALEXANDER WILLIAM GEORGE"),
    ),
    "D": (
        ("BERLIN", "MUENCHEN", "HAMBURG", "KOELN", "FRANKFURT AM MAIN"),
        "STADT KOELN",
        ("MUELLER", "SCHMIDT", "SCHNEIDER", "FISCHER", "MEYER-LUEDENSCHEIDT"),
        ("ANNA", "LUKAS", "LEA MARIE", "FELIX", "KARL-HEINZ"),
    ),
    "FRA": (
        ("PARIS", "LYON", "MARSEILLE", "TOULOUSE", "BORDEAUX"),
        "PREFECTURE DE POLICE",
        ("MARTIN", "BERNARD", "DUBOIS", "LEROY", "DE LA FONTAINE"),
        ("CHLOE", "LOUIS", "EMMA", "HUGO", "MARIE-CLAIRE"),
    ),
    "JPN": (
        ("TOKYO", "OSAKA", "KYOTO", "HOKKAIDO", "FUKUOKA"),
        "MINISTRY OF FOREIGN AFFAIRS",
        ("SATO", "SUZUKI", "TAKAHASHI", "TANAKA", "WATANABE"),
        ("HARUTO", "YUI", "SOTA", "HINA", "KENTARO"),
    ),
    "KOR": (
        ("SEOUL", "BUSAN", "INCHEON", "DAEGU"),
        "MINISTRY OF FOREIGN AFFAIRS",
        ("KIM", "LEE", "PARK", "CHOI", "JUNG"),
        ("MINJUN", "SEOYEON", "JIHO", "HAYOON", "DONGHYUN"),
    ),
    "AUS": (
        ("SYDNEY", "MELBOURNE", "BRISBANE", "PERTH"),
        "AUSTRALIAN PASSPORT OFFICE",
        ("NGUYEN", "WHITE", "KELLY", "MITCHELL", "MACDONALD"),
        ("JACK", "CHARLOTTE", "NOAH", "MIA ROSE", "WILLIAM"),
    ),
    "CHN": (
        ("TIANJIN", "BEIJING", "SHANGHAI", "GUANGDONG", "SICHUAN"),
        "NATIONAL IMMIGRATION ADMINISTRATION",
        ("WANG", "LI", "ZHANG", "LIU", "OUYANG"),
        ("WEI", "FANG", "XIUYING", "JING", "ZHIQIANG"),
    ),
    "UTO": (
        ("ZENITH", "UTOPIA CITY", "NEW ATLANTIS"),
        "PASSPORT OFFICE",
        ("ERIKSSON", "STEVENSON", "SPECIMEN", "VAN DER BERG"),
        ("ANNA MARIA", "PETER JOHN", "SAMPLE", "HENDRIK"),
    ),
}
_NUMBER_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_LATIN = _transliterations.latin_based()


def country_name(code: str) -> str:
    """The state's name as printed in a document header, in capitals."""
    extra = {"D": "BUNDESREPUBLIK DEUTSCHLAND", "UTO": "UTOPIA", "GBR": "UNITED KINGDOM"}
    if code in extra:
        return extra[code]
    if code in ICAO_EXTRA_CODES:
        return ICAO_EXTRA_CODES[code].upper()
    try:
        return str(iso3166.countries_by_alpha3[code].apolitical_name).upper()
    except KeyError:
        return code


def nationality_name(code: str) -> str:
    names = {
        "USA": "UNITED STATES OF AMERICA",
        "GBR": "BRITISH CITIZEN",
        "D": "DEUTSCH",
        "FRA": "FRANCAISE",
        "JPN": "JAPAN",
        "KOR": "REPUBLIC OF KOREA",
        "CHN": "CHINESE",
        "AUS": "AUSTRALIAN",
        "UTO": "UTOPIAN",
        "RUS": "RUSSIAN FEDERATION",
    }
    return names.get(code, country_name(code))


def add_years(day: date, years: int) -> date:
    """``day`` moved by whole years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def viz_date(day: date) -> str:
    """Doc 9303-3 section 3.8 style: ``12 AUG 1974``."""
    return f"{day.day:02d} {_MONTHS[day.month - 1]} {day.year}"


def mrz_name_parts(name: str) -> list[str]:
    """Name components as the MRZ writes them (Doc 9303-3 section 4.6 punctuation rules)."""
    cleaned = re.sub(r"['.]", "", name.upper())
    parts = [part for part in re.split(r"[\s,\-]+", cleaned) if part]
    return [transliterate(part, _LATIN, " ") for part in parts]


def fit_mrz_name(surname: str, given_names: str, limit: int) -> tuple[str, str]:
    """(surname, given names) shortened, components first, so ``S<<G`` fits ``limit`` chars."""
    primary = mrz_name_parts(surname)
    secondary = mrz_name_parts(given_names)

    def length() -> int:
        # The MRZ generators always write the "<<" separator, given names or not.
        return len("<".join(primary)) + 2 + len("<".join(secondary))

    while length() > limit and len(secondary) > 1:
        secondary.pop()
    while length() > limit and secondary:
        secondary[-1] = secondary[-1][:-1]
        if not secondary[-1]:
            secondary.pop()
    if length() > limit:  # the primary identifier alone is too long: cut it to fit with "<<"
        primary = [part for part in "<".join(primary)[: limit - 2].split("<") if part]
    return " ".join(primary), " ".join(secondary)


@dataclass(frozen=True, slots=True)
class PageData:
    """Everything printed on a TD3 data page or a TD1 card."""

    kind: DocumentKind
    document_code: str
    """``P`` (passport) or ``I``/``ID`` (identity card)."""
    issuing_state: str
    document_number: str
    surname: str
    given_names: str
    nationality: str
    birth_date: date
    sex: str
    """``M``, ``F`` or ``X``."""
    place_of_birth: str
    issue_date: date
    expiry_date: date
    authority: str
    personal_number: str
    """Optional data (TD3 line 2, TD1 line 1); empty if none."""
    mrz_lines: tuple[str, ...]

    @property
    def issuing_state_name(self) -> str:
        return country_name(self.issuing_state)

    @property
    def nationality_name(self) -> str:
        return nationality_name(self.nationality)

    def fields(self) -> dict[str, Any]:
        """The fields as JSON-ready values (dates ISO 8601), MRZ lines excluded."""
        out = asdict(self)
        del out["mrz_lines"]
        for key in ("birth_date", "issue_date", "expiry_date"):
            out[key] = out[key].isoformat()
        return out

    @classmethod
    def build(
        cls,
        *,
        kind: DocumentKind,
        issuing_state: str,
        document_number: str,
        surname: str,
        given_names: str,
        nationality: str,
        birth_date: date,
        sex: str,
        expiry_date: date,
        place_of_birth: str = "",
        issue_date: date | None = None,
        authority: str = "",
        personal_number: str = "",
        document_code: str | None = None,
    ) -> PageData:
        """Standalone: the MRZ lines are generated from the fields (names truncated to fit)."""
        code = document_code or ("P" if kind == "TD3" else "I")
        if issue_date is None:
            issue_date = add_years(expiry_date, -10) + timedelta(days=1)
        mrz_sex = sex if sex in ("M", "F") else "<"
        if kind == "TD3":
            mrz_surname, mrz_given = fit_mrz_name(surname, given_names, 39)
            text = str(
                TD3CodeGenerator(
                    code, issuing_state, mrz_surname, mrz_given, document_number, nationality,
                    f"{birth_date:%y%m%d}", mrz_sex, f"{expiry_date:%y%m%d}", personal_number,
                    force=True,
                )
            )  # fmt: skip
        else:
            mrz_surname, mrz_given = fit_mrz_name(surname, given_names, 30)
            text = str(
                TD1CodeGenerator(
                    code, issuing_state, document_number, f"{birth_date:%y%m%d}", mrz_sex,
                    f"{expiry_date:%y%m%d}", nationality, mrz_surname, mrz_given,
                    personal_number, "", force=True,
                )
            )  # fmt: skip
        return cls(
            kind=kind,
            document_code=code,
            issuing_state=issuing_state,
            document_number=document_number,
            surname=surname,
            given_names=given_names,
            nationality=nationality,
            birth_date=birth_date,
            sex=sex,
            place_of_birth=place_of_birth,
            issue_date=issue_date,
            expiry_date=expiry_date,
            authority=authority,
            personal_number=personal_number,
            mrz_lines=tuple(text.split("\n")),
        )

    @classmethod
    def random(
        cls, rng: random.Random, kind: DocumentKind = "TD3", *, today: date | None = None
    ) -> PageData:
        """A plausible document of a seeded random holder (some with long or composite names)."""
        today = today or date(2025, 6, 1)
        state = rng.choice(sorted(_STATES))
        places, authority, surnames, givens = _STATES[state]
        surname = rng.choice(surnames)
        given = rng.choice(givens)
        if rng.random() < 0.15:  # a long double-barrelled name, truncated in the MRZ
            second = rng.choice([s for s in surnames if s != surname])
            surname = f"{surname}-{second}".replace("'", "")
            given = f"{given} {rng.choice([g for g in givens if g != given])}"
        number_len = rng.choice((8, 9, 9, 9))
        number = rng.choice(_NUMBER_CHARS[:23]) + "".join(
            rng.choice(_NUMBER_CHARS) for _ in range(number_len - 1)
        )
        issue = today - timedelta(days=rng.randint(30, 9 * 365))
        birth = issue - timedelta(days=rng.randint(365, 80 * 365))
        years = 10 if kind == "TD3" or rng.random() < 0.5 else 5
        expiry = add_years(issue, years) - timedelta(days=1)
        personal = ""
        if rng.random() < 0.35:
            personal = "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 12)))
        return cls.build(
            kind=kind,
            issuing_state=state,
            document_number=number,
            surname=surname,
            given_names=given,
            nationality=state,
            birth_date=birth,
            sex=rng.choice("MMFFX" if rng.random() < 0.05 else "MF"),
            expiry_date=expiry,
            place_of_birth=rng.choice(places),
            issue_date=issue,
            authority=authority,
            personal_number=personal,
            document_code=("P" if kind == "TD3" else rng.choice(("I", "ID"))),
        )

    @classmethod
    def from_traveller(cls, traveller: Traveller, *, today: date | None = None) -> PageData:
        """The TD3 data page of a traveller's passport, keeping the traveller's MRZ lines exactly
        (a forged check digit stays forged); the fields not in the MRZ are derived, seeded by the
        traveller's reference."""
        line1, line2 = traveller.mrz_lines
        today = today or date.today()
        rng = random.Random(traveller.traveller_ref)
        state = line1[2:5].rstrip("<")
        places, authority, _, _ = _STATES.get(state, (("",), "PASSPORT OFFICE", (), ()))
        birth = _mrz_date(line2[13:19], past=True, today=today)
        expiry = _mrz_date(line2[21:27], past=False, today=today)
        issue = add_years(expiry, -10) + timedelta(days=1)
        sex = line2[20] if line2[20] in "MF" else "X"
        return cls(
            kind="TD3",
            document_code=line1[0:2].rstrip("<"),
            issuing_state=state,
            document_number=traveller.document_number,
            surname=traveller.surname,
            given_names=traveller.given_names,
            nationality=line2[10:13].rstrip("<"),
            birth_date=birth,
            sex=sex,
            place_of_birth=rng.choice(places),
            issue_date=issue,
            expiry_date=expiry,
            authority=authority,
            personal_number=line2[28:42].rstrip("<"),
            mrz_lines=(line1, line2),
        )


def _mrz_date(text: str, *, past: bool, today: date) -> date:
    """A YYMMDD date: birth dates in the past century window, expiry dates within 2000-2099."""
    yy, mm, dd = int(text[0:2]), int(text[2:4]), int(text[4:6])
    year = (2000 + yy if 2000 + yy <= today.year else 1900 + yy) if past else 2000 + yy
    return date(year, mm, dd)
