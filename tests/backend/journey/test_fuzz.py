"""Hostile barcodes: IATA boarding passes and cruise cards as a kiosk might scan them.

``parse_bcbp`` raises only ``BCBPError``, ``parse_cruise_card`` only ``CruiseCardError``, and the
journey assessment the clearance service runs raises only ``JourneyEvidenceError`` (or
ValueError for a naive arrival): never anything a request would turn into a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.journey.bcbp import BCBPError, BoardingPass, Leg, parse_bcbp
from backend.journey.cruise_card import PREFIX, CruiseCard, CruiseCardError, parse_cruise_card
from backend.journey.evidence import JourneyAssessment, JourneyEvidenceError, assess_journey
from bordergate.clearance_api import JourneyEvidence
from hardware_mocks.boarding_pass import encode_bcbp
from tests.backend.journey.test_bcbp import passes
from tests.conftest import ReliabilityCase
from tests.fuzzing import bounded

EXAMPLES = 400
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
AIRPORTS = ("TSN", "PEK", "PVG", "FRA", "ICN", "NRT", "LHR", "JFK", "HKG", "SIN", "XXX")

pytestmark = pytest.mark.reliability("hostile")


def _mutate(text: str, edits: list[tuple[str, int, str]]) -> str:
    """Replace, insert or delete characters at positions (taken modulo the length)."""
    chars = list(text)
    for op, at, ch in edits:
        i = at % (len(chars) + 1)
        if op == "replace" and i < len(chars):
            chars[i] = ch
        elif op == "insert":
            chars.insert(i, ch)
        elif op == "delete" and i < len(chars):
            del chars[i]
    return "".join(chars)


edits = st.lists(
    st.tuples(
        st.sampled_from(["replace", "insert", "delete"]),
        st.integers(0, 400),
        st.one_of(PRINTABLE, st.characters(codec="utf-8")),  # any encodable character
    ),
    max_size=5,
)
mutated_passes = st.tuples(passes.map(encode_bcbp), edits).map(lambda t: _mutate(*t))
bcbp_texts = st.one_of(
    st.text(max_size=300),
    st.text(PRINTABLE, min_size=55, max_size=300).map(lambda s: "M" + s),
    mutated_passes,
)


def test_bcbp_parser_answers_or_refuses(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{EXAMPLES} boarding-pass texts (hypothesis): arbitrary Unicode, printable text behind "
        "the format code M, and valid encoded passes with up to five characters replaced, "
        "inserted or deleted (any UTF-8-encodable character)"
    )
    seen = {"parsed": 0, "refused": 0}

    @bounded(EXAMPLES)
    @given(text=bcbp_texts)
    def fuzz(text: str) -> None:
        try:
            boarding_pass = parse_bcbp(text)
        except BCBPError as exc:
            refusal = exc
        else:
            assert isinstance(boarding_pass, BoardingPass)
            assert 1 <= len(boarding_pass.legs) <= 4
            seen["parsed"] += 1
            return
        assert refusal.field
        assert 0 <= refusal.position <= len(text)
        seen["refused"] += 1

    fuzz()
    reliability_case.measured("passes parsed", seen["parsed"])
    reliability_case.measured("passes refused with BCBPError", seen["refused"])
    reliability_case.asserts(
        "parse_bcbp returns a boarding pass with 1-4 legs or raises BCBPError naming the field "
        "and an offset inside the text; nothing else"
    )
    assert seen["parsed"]
    assert seen["refused"]


field_text = st.one_of(
    st.text(max_size=12), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
valid_cards = st.tuples(
    st.text(ALNUM, min_size=2, max_size=10),
    st.text(ALNUM + "-", min_size=1, max_size=16),
    st.text(ALNUM, min_size=1, max_size=9),
    st.sampled_from(["D", "USA", "JPN", "GBR", "KOR", "UTO", "ZZZ"]),
    st.text(ALNUM, min_size=1, max_size=6),
).map(lambda fields: "|".join([PREFIX, *fields]))
card_texts = st.one_of(
    st.text(max_size=200),
    valid_cards,
    st.tuples(valid_cards, edits).map(lambda t: _mutate(*t)),
    st.lists(field_text, min_size=0, max_size=8).map(lambda parts: "|".join([PREFIX, *parts])),
    st.tuples(
        st.lists(field_text, min_size=5, max_size=5).map(lambda parts: "|".join([PREFIX, *parts])),
        edits,
    ).map(lambda t: _mutate(*t)),
    st.text(min_size=100, max_size=400).map(lambda s: PREFIX + "|" + s),
)


def test_cruise_card_parser_answers_or_refuses(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{EXAMPLES} cruise-card texts (hypothesis): arbitrary Unicode, the BGCRUISE1 tag with "
        "0-8 '|'-separated fields of any text, mutated five-field cards, over-long texts"
    )
    seen = {"parsed": 0, "refused": 0}

    @bounded(EXAMPLES)
    @given(text=card_texts)
    def fuzz(text: str) -> None:
        try:
            card = parse_cruise_card(text)
        except CruiseCardError as exc:
            refusal = exc
        else:
            assert isinstance(card, CruiseCard)
            assert parse_cruise_card(card.text()) == card
            seen["parsed"] += 1
            return
        assert str(refusal)
        seen["refused"] += 1

    fuzz()
    reliability_case.measured("cards parsed", seen["parsed"])
    reliability_case.measured("cards refused with CruiseCardError", seen["refused"])
    reliability_case.asserts(
        "parse_cruise_card returns a card (whose text parses back to it) or raises "
        "CruiseCardError; nothing else"
    )
    assert seen["parsed"]
    assert seen["refused"]


def _with_airports(boarding_pass: BoardingPass, codes: list[str]) -> BoardingPass:
    legs = []
    for i, leg in enumerate(boarding_pass.legs):
        origin, destination = codes[(2 * i) % len(codes)], codes[(2 * i + 1) % len(codes)]
        legs.append(Leg(**{**leg.model_dump(), "origin": origin, "destination": destination}))
    return boarding_pass.model_copy(update={"legs": tuple(legs)})


real_passes = st.tuples(passes, st.lists(st.sampled_from(AIRPORTS), min_size=2, max_size=8)).map(
    lambda t: encode_bcbp(_with_airports(*t))
)
evidence_items = st.one_of(
    real_passes.map(lambda p: JourneyEvidence(kind="boarding_pass", payload=p)),
    mutated_passes.filter(lambda p: len(p) <= 2048).map(
        lambda p: JourneyEvidence(kind="boarding_pass", payload=p)
    ),
    card_texts.filter(lambda c: len(c) <= 2048).map(
        lambda c: JourneyEvidence(kind="cruise_card", payload=c)
    ),
)
arrivals = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-12)), timezone.max]
    ),
)


def test_journey_assessment_answers_or_refuses(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{EXAMPLES} journeys (hypothesis): 0-4 barcodes each (valid passes between real and "
        "unknown airports on any day of the year, mutated passes, cruise-card texts) and an "
        "arrival time anywhere from year 1 to 9999 in any offset"
    )
    seen = {"assessed": 0, "refused": 0}

    @bounded(EXAMPLES)
    @given(evidence=st.lists(evidence_items, max_size=4), arrival=arrivals)
    def fuzz(evidence: list[JourneyEvidence], arrival: datetime) -> None:
        try:
            assessment = assess_journey(evidence, arrival)
        except JourneyEvidenceError as exc:
            refusal = exc
        else:
            assert isinstance(assessment, JourneyAssessment)
            assert (assessment.facts is None) == bool(assessment.missing)
            seen["assessed"] += 1
            return
        assert refusal.problems
        seen["refused"] += 1

    fuzz()
    reliability_case.measured("journeys assessed", seen["assessed"])
    reliability_case.measured("journeys refused with JourneyEvidenceError", seen["refused"])
    reliability_case.asserts(
        "assess_journey returns facts (or what is missing) or raises JourneyEvidenceError "
        "listing the problems; nothing else, whatever the arrival date"
    )
    assert seen["assessed"]
    assert seen["refused"]
