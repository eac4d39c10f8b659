"""Table-driven tests of every rule, every period boundary and the preference order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from backend.policy.case import PolicyDecision
from backend.policy.engine import PolicyEngine
from bordergate.contracts import ReasonCode as R
from bordergate.countries import UnknownCountryError

from .conftest import CRUISE, VISA, make_case, transit_case


def decided(engine: PolicyEngine, **changes: Any) -> tuple[str, str | None, str | None, list[R]]:
    d = engine.decide(make_case(**changes))
    until = d.permitted_until.isoformat() if d.permitted_until else None
    return d.decision, d.scheme, until, d.reasons


def test_worked_example_240h(engine: PolicyEngine) -> None:
    decision = engine.decide(make_case())
    assert decision.decision == "admit"
    assert decision.scheme == "transit-240h"
    assert decision.permitted_until is not None
    assert decision.permitted_until.isoformat() == "2026-07-12T00:00:00+08:00"
    assert decision.reasons == []
    assert decision.model_dump(mode="json") == {
        "decision": "admit",
        "scheme": "transit-240h",
        "permitted_until": "2026-07-12T00:00:00+08:00",
        "reasons": [],
    }


def test_design_example_72h_leave_before_midnight_on_5_july(engine: PolicyEngine) -> None:
    d = engine.decide(transit_case("2016-07-01T10:30:00+08:00", "2016-07-04T23:59:00+08:00"))
    assert (d.decision, d.scheme) == ("admit", "transit-72h")
    assert d.permitted_until == datetime.fromisoformat("2016-07-05T00:00:00+08:00")


# Periods: the day before and the day each began (arrival instant in CST).
PERIODS = [
    ("2015-06-07T23:59:00+08:00", "TSN-AIRPORT", "refer", "transit-72h", None),
    ("2015-06-08T00:00:00+08:00", "TSN-AIRPORT", "admit", "transit-72h", "2015-06-12"),
    ("2017-12-27T23:59:00+08:00", "TSN-AIRPORT", "admit", "transit-72h", "2017-12-31"),
    ("2017-12-28T00:00:00+08:00", "TSN-AIRPORT", "admit", "transit-144h", "2018-01-04"),
    ("2024-12-16T12:00:00+08:00", "TSN-AIRPORT", "admit", "transit-144h", "2024-12-23"),
    ("2024-12-17T00:00:00+08:00", "TSN-AIRPORT", "admit", "transit-240h", "2024-12-28"),
    # The cruise home port had no transit scheme until the 144-hour policy.
    ("2017-12-27T12:00:00+08:00", "TSN-CRUISE", "refer", "transit-72h", None),
    ("2017-12-28T12:00:00+08:00", "TSN-CRUISE", "admit", "transit-144h", "2018-01-04"),
    ("2024-12-17T12:00:00+08:00", "TSN-CRUISE", "admit", "transit-240h", "2024-12-28"),
    # The same instants in other offsets.
    ("2024-12-16T15:59:59Z", "TSN-AIRPORT", "admit", "transit-144h", "2024-12-23"),
    ("2024-12-16T16:00:00Z", "TSN-AIRPORT", "admit", "transit-240h", "2024-12-28"),
    ("2017-12-27T11:00:00-05:00", "TSN-AIRPORT", "admit", "transit-144h", "2018-01-04"),
]


@pytest.mark.parametrize(("arrival", "port", "decision", "scheme", "until_day"), PERIODS)
def test_scheme_chosen_by_arrival_instant(
    engine: PolicyEngine, arrival: str, port: str, decision: str, scheme: str, until_day: str | None
) -> None:
    departure = (datetime.fromisoformat(arrival) + timedelta(hours=30)).isoformat()
    d = engine.decide(transit_case(arrival, departure, port=port))
    assert (d.decision, d.scheme) == (decision, scheme)
    if until_day is None:
        assert d.permitted_until is None
    else:
        assert d.permitted_until is not None
        assert d.permitted_until.isoformat() == f"{until_day}T00:00:00+08:00"


def test_before_any_period_the_scheme_is_not_in_force(engine: PolicyEngine) -> None:
    d = engine.decide(transit_case("2015-06-07T23:59:00+08:00", "2015-06-08T10:00:00+08:00"))
    assert d.reasons == [R.SCHEME_NOT_IN_FORCE]


def test_cruise_port_before_144h_is_not_designated_for_72h(engine: PolicyEngine) -> None:
    d = engine.decide(
        transit_case("2016-03-01T12:00:00+08:00", "2016-03-02T12:00:00+08:00", port="TSN-CRUISE")
    )
    assert (d.decision, d.scheme, d.reasons) == ("refer", "transit-72h", [R.PORT_NOT_DESIGNATED])


# Nationalities: the day before and the day a country joined, under the scheme in force.
JOINS = [
    ("NOR", "2023-11-16T23:59:00+08:00", "refer", "transit-144h"),
    ("NOR", "2023-11-17T00:00:00+08:00", "admit", "transit-144h"),
    ("NOR", "2023-11-16T15:59:00Z", "refer", "transit-144h"),  # 23:59 CST on the 16th
    ("NOR", "2023-11-16T16:30:00Z", "admit", "transit-144h"),  # 00:30 CST on the 17th
    ("IDN", "2025-06-11T12:00:00+08:00", "refer", "transit-240h"),
    ("IDN", "2025-06-12T00:00:00+08:00", "admit", "transit-240h"),
    ("IDN", "2025-06-11T10:59:00-05:00", "refer", "transit-240h"),  # 23:59 CST on the 11th
    ("IDN", "2025-06-11T11:00:00-05:00", "admit", "transit-240h"),  # 00:00 CST on the 12th
    ("MCO", "2016-10-31T12:00:00+08:00", "refer", "transit-72h"),
    ("MCO", "2016-11-01T12:00:00+08:00", "admit", "transit-72h"),
    ("BLR", "2017-12-27T12:00:00+08:00", "refer", "transit-72h"),
    ("BLR", "2017-12-28T12:00:00+08:00", "admit", "transit-144h"),
    ("SRB", "2015-06-08T12:00:00+08:00", "admit", "transit-72h"),
    ("D", "2015-06-08T12:00:00+08:00", "admit", "transit-72h"),
    ("DEU", "2026-07-01T12:00:00+08:00", "admit", "transit-240h"),  # ISO code read as D
    ("IND", "2026-07-01T12:00:00+08:00", "refer", "transit-240h"),
    ("TWN", "2026-07-01T12:00:00+08:00", "refer", "transit-240h"),
    ("XXA", "2026-07-01T12:00:00+08:00", "refer", "transit-240h"),
]


@pytest.mark.parametrize(("nationality", "arrival", "decision", "scheme"), JOINS)
def test_nationality_join_dates(
    engine: PolicyEngine, nationality: str, arrival: str, decision: str, scheme: str
) -> None:
    departure = (datetime.fromisoformat(arrival) + timedelta(hours=30)).isoformat()
    d = engine.decide(transit_case(arrival, departure, traveller={"nationality": nationality}))
    assert (d.decision, d.scheme) == (decision, scheme)
    assert d.reasons == ([] if decision == "admit" else [R.NATIONALITY_NOT_ELIGIBLE])


# Departure one minute before, at and after the limit (240 h from 00:00 on 2 July).
LIMITS = [
    ("2026-07-11T23:59:00+08:00", "admit"),
    ("2026-07-12T00:00:00+08:00", "refer"),
    ("2026-07-12T00:01:00+08:00", "refer"),
    ("2026-07-11T15:59:00Z", "admit"),
    ("2026-07-11T16:00:00Z", "refer"),
    ("2026-07-11T10:59:00-05:00", "admit"),
    ("2026-07-11T11:00:00-05:00", "refer"),
]


@pytest.mark.parametrize(("departure", "decision"), LIMITS)
def test_onward_departure_against_the_limit(
    engine: PolicyEngine, departure: str, decision: str
) -> None:
    d = engine.decide(transit_case("2026-07-01T10:30:00+08:00", departure))
    assert d.decision == decision
    assert d.reasons == ([] if decision == "admit" else [R.ONWARD_AFTER_LIMIT])


# Arrivals in other offsets are converted to CST first (the arrival date can change).
OFFSETS = [
    ("2026-07-01T02:30:00Z", "2026-07-12"),  # 10:30 CST, the worked example
    ("2026-06-30T20:00:00-05:00", "2026-07-12"),  # 09:00 CST on 1 July
    ("2026-06-30T16:30:00Z", "2026-07-12"),  # 00:30 CST on 1 July
    ("2026-06-30T15:59:00Z", "2026-07-11"),  # 23:59 CST on 30 June
    ("2026-07-01T23:30:00+09:00", "2026-07-12"),  # 22:30 CST on 1 July
    ("2026-07-02T00:30:00+09:00", "2026-07-12"),  # 23:30 CST on 1 July
]


@pytest.mark.parametrize(("arrival", "until_day"), OFFSETS)
def test_arrival_offsets(engine: PolicyEngine, arrival: str, until_day: str) -> None:
    d = engine.decide(transit_case(arrival, "2026-07-03T09:00:00+08:00"))
    assert d.decision == "admit"
    assert d.permitted_until is not None
    assert d.permitted_until.isoformat() == f"{until_day}T00:00:00+08:00"


# Each transit rule on its own (the base case admits under transit-240h).
RULES: list[tuple[str, dict[str, Any], list[R]]] = [
    ("journey missing", {"journey": None}, [R.JOURNEY_MISSING]),
    ("not confirmed", {"journey": {"onward_confirmed": False}}, [R.ONWARD_NOT_CONFIRMED]),
    ("onward to mainland", {"journey": {"onward_to": "CHN"}}, [R.ONWARD_TO_MAINLAND]),
    ("from mainland", {"journey": {"arrived_from": "CHN"}}, [R.ROUTE_FROM_MAINLAND]),
    ("round trip", {"journey": {"arrived_from": "KOR"}}, [R.ROUTE_ROUND_TRIP]),
    ("HKG to HKG", {"journey": {"arrived_from": "HKG", "onward_to": "HKG"}}, [R.ROUTE_ROUND_TRIP]),
    ("TWN to TWN", {"journey": {"arrived_from": "TWN", "onward_to": "TWN"}}, [R.ROUTE_ROUND_TRIP]),
    ("HKG to MAC", {"journey": {"arrived_from": "HKG", "onward_to": "MAC"}}, []),
    ("JPN to HKG", {"journey": {"onward_to": "HKG"}}, []),
    ("TWN to JPN", {"journey": {"arrived_from": "TWN", "onward_to": "JPN"}}, []),
    ("DEU to D", {"journey": {"arrived_from": "DEU", "onward_to": "D"}}, [R.ROUTE_ROUND_TRIP]),
    (
        "departure before arrival",
        {"journey": {"onward_departure": "2026-07-01T10:29:00+08:00"}},
        [R.ONWARD_BEFORE_ARRIVAL],
    ),
    ("departure at arrival", {"journey": {"onward_departure": "2026-07-01T02:30:00Z"}}, []),
    ("diplomatic passport", {"traveller": {"document_type": "PD"}}, [R.DOCUMENT_TYPE_NOT_ACCEPTED]),
    ("service passport", {"traveller": {"document_type": "PS"}}, [R.DOCUMENT_TYPE_NOT_ACCEPTED]),
    ("identity card", {"traveller": {"document_type": "I"}}, [R.DOCUMENT_TYPE_NOT_ACCEPTED]),
    ("filler type P<", {"traveller": {"document_type": "P<"}}, []),
    ("national passport PN", {"traveller": {"document_type": "PN"}}, []),
    ("not eligible", {"traveller": {"nationality": "IND"}}, [R.NATIONALITY_NOT_ELIGIBLE]),
]


@pytest.mark.parametrize(("changes", "reasons"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_transit_rules(engine: PolicyEngine, changes: dict[str, Any], reasons: list[R]) -> None:
    decision, scheme, until, got = decided(engine, **changes)
    assert got == reasons
    assert decision == ("refer" if reasons else "admit")
    assert scheme == "transit-240h"
    assert (until is None) == bool(reasons)


# Exclusions apply to every foreign scheme (arrival date 2026-07-01 in CST).
EXCLUSIONS: list[tuple[str, dict[str, Any], list[R]]] = [
    ("expired yesterday", {"document_expiry": "2026-06-30"}, [R.DOCUMENT_EXPIRED]),
    ("expires today", {"document_expiry": "2026-07-01"}, [R.DOCUMENT_VALIDITY_SHORT]),
    ("one day short", {"document_expiry": "2026-09-30"}, [R.DOCUMENT_VALIDITY_SHORT]),
    ("exactly 3 months", {"document_expiry": "2026-10-01"}, []),
    ("barred", {"record": ["barred"]}, [R.RECORD_BARRED]),
    ("visa refusal", {"record": ["visa-refusal"]}, [R.RECORD_VISA_REFUSAL]),
    ("violation", {"record": ["violation-5y"]}, [R.RECORD_VIOLATION_5Y]),
    (
        "all records",
        {"record": ["violation-5y", "barred", "visa-refusal"]},
        [R.RECORD_BARRED, R.RECORD_VISA_REFUSAL, R.RECORD_VIOLATION_5Y],
    ),
]


@pytest.mark.parametrize(
    ("traveller", "reasons"), [e[1:] for e in EXCLUSIONS], ids=[e[0] for e in EXCLUSIONS]
)
@pytest.mark.parametrize(
    ("scheme_changes", "scheme"),
    [
        ({}, "transit-240h"),
        ({"journey": None, "cruise": CRUISE, "port": "TSN-CRUISE"}, "cruise-15d"),
        ({"journey": None, "visa": VISA}, "visa"),
    ],
    ids=["transit", "cruise", "visa"],
)
def test_exclusions_apply_to_every_foreign_scheme(
    engine: PolicyEngine,
    traveller: dict[str, Any],
    reasons: list[R],
    scheme_changes: dict[str, Any],
    scheme: str,
) -> None:
    changes = dict(scheme_changes)
    visa = changes.pop("visa", None)
    decision, got_scheme, _, got = decided(
        engine, traveller={**traveller, "chinese_visa": visa}, **changes
    )
    assert got == reasons
    assert decision == ("refer" if reasons else "admit")
    assert got_scheme == scheme


def test_validity_short_uses_calendar_months_at_month_end(engine: PolicyEngine) -> None:
    arrival, departure = "2026-11-30T12:00:00+08:00", "2026-12-01T12:00:00+08:00"
    ok = transit_case(arrival, departure, traveller={"document_expiry": "2027-02-28"})
    short = transit_case(arrival, departure, traveller={"document_expiry": "2027-02-27"})
    assert engine.decide(ok).decision == "admit"
    assert engine.decide(short).reasons == [R.DOCUMENT_VALIDITY_SHORT]


def test_every_failed_rule_is_named(engine: PolicyEngine) -> None:
    d = engine.decide(
        make_case(
            traveller={"nationality": "IND", "document_expiry": "2026-08-01", "record": ["barred"]},
            journey={"onward_to": "JPN", "onward_confirmed": False},
        )
    )
    assert d.decision == "refer"
    assert d.reasons == [
        R.DOCUMENT_VALIDITY_SHORT,
        R.RECORD_BARRED,
        R.NATIONALITY_NOT_ELIGIBLE,
        R.ONWARD_NOT_CONFIRMED,
        R.ROUTE_ROUND_TRIP,
    ]


# Citizens.
CITIZENS: list[tuple[str, dict[str, Any], str, list[R]]] = [
    ("citizen", {"traveller": {"nationality": "CHN"}}, "admit", []),
    ("no journey", {"traveller": {"nationality": "CHN"}, "journey": None}, "admit", []),
    (
        "records are for foreigners",
        {"traveller": {"nationality": "CHN", "record": ["violation-5y"]}},
        "admit",
        [],
    ),
    (
        "passport valid one more month",
        {"traveller": {"nationality": "CHN", "document_expiry": "2026-08-01"}},
        "admit",
        [],
    ),
    (
        "expired passport",
        {"traveller": {"nationality": "CHN", "document_expiry": "2026-06-30"}},
        "refer",
        [R.DOCUMENT_EXPIRED],
    ),
    (
        "round trip is fine for citizens",
        {"traveller": {"nationality": "chn"}, "journey": {"onward_to": "JPN"}},
        "admit",
        [],
    ),
]


@pytest.mark.parametrize(
    ("changes", "decision", "reasons"), [c[1:] for c in CITIZENS], ids=[c[0] for c in CITIZENS]
)
def test_citizens(
    engine: PolicyEngine, changes: dict[str, Any], decision: str, reasons: list[R]
) -> None:
    assert decided(engine, **changes) == (decision, "citizen", None, reasons)


# Visas: valid on the arrival date (CST) with an entry left.
VISAS: list[tuple[str, dict[str, Any], str, list[R]]] = [
    ("valid", {}, "admit", []),
    ("last day", {"valid_until": "2026-07-01"}, "admit", []),
    ("first day", {"valid_from": "2026-07-01"}, "admit", []),
    ("expired", {"valid_until": "2026-06-30"}, "refer", [R.VISA_NOT_VALID]),
    ("not yet valid", {"valid_from": "2026-07-02"}, "refer", [R.VISA_NOT_VALID]),
    ("no entries", {"entries_left": 0}, "refer", [R.VISA_NO_ENTRIES]),
    (
        "expired and used",
        {"valid_until": "2026-06-30", "entries_left": 0},
        "refer",
        [R.VISA_NOT_VALID, R.VISA_NO_ENTRIES],
    ),
]


@pytest.mark.parametrize(
    ("visa", "decision", "reasons"), [v[1:] for v in VISAS], ids=[v[0] for v in VISAS]
)
def test_visa_alone(
    engine: PolicyEngine, visa: dict[str, Any], decision: str, reasons: list[R]
) -> None:
    traveller = {"nationality": "IND", "chinese_visa": {**VISA, **visa}}
    assert decided(engine, traveller=traveller, journey=None) == (
        decision,
        "visa",
        None,
        reasons,
    )


def test_visa_date_is_the_arrival_date_in_cst(engine: PolicyEngine) -> None:
    visa = {**VISA, "valid_until": "2026-06-30"}
    late_evening_utc = "2026-06-30T15:59:00Z"  # 23:59 CST on 30 June: valid
    next_day_cst = "2026-06-30T16:00:00Z"  # 00:00 CST on 1 July: expired
    traveller = {"nationality": "IND", "chinese_visa": visa}
    assert decided(engine, arrival=late_evening_utc, traveller=traveller, journey=None)[0] == (
        "admit"
    )
    assert decided(engine, arrival=next_day_cst, traveller=traveller, journey=None)[3] == [
        R.VISA_NOT_VALID
    ]


# Preference order: citizen, visa, cruise-15d, transit.
CRUISE_PORT = {"port": "TSN-CRUISE"}
PREFERENCE: list[tuple[str, dict[str, Any], str, str]] = [
    ("visa over transit", {"traveller": {"chinese_visa": VISA}}, "admit", "visa"),
    ("cruise over transit", {**CRUISE_PORT, "cruise": CRUISE}, "admit", "cruise-15d"),
    (
        "visa over cruise and transit",
        {**CRUISE_PORT, "cruise": CRUISE, "traveller": {"chinese_visa": VISA}},
        "admit",
        "visa",
    ),
    (
        "citizen over visa",
        {"traveller": {"nationality": "CHN", "chinese_visa": VISA}},
        "admit",
        "citizen",
    ),
    (
        "expired visa, transit admits",
        {"traveller": {"chinese_visa": {**VISA, "valid_until": "2026-01-31"}}},
        "admit",
        "transit-240h",
    ),
    (
        "cruise fails, transit admits",
        {**CRUISE_PORT, "cruise": {**CRUISE, "on_manifest": False}},
        "admit",
        "transit-240h",
    ),
    (
        "valid visa, failing journey",
        {"traveller": {"chinese_visa": VISA}, "journey": {"onward_to": "JPN"}},
        "admit",
        "visa",
    ),
]


@pytest.mark.parametrize(
    ("changes", "decision", "scheme"), [p[1:] for p in PREFERENCE], ids=[p[0] for p in PREFERENCE]
)
def test_preference_order(
    engine: PolicyEngine, changes: dict[str, Any], decision: str, scheme: str
) -> None:
    got = decided(engine, **changes)
    assert got[:2] == (decision, scheme)
    assert got[3] == []


def test_refer_names_the_closest_scheme_and_every_failure(engine: PolicyEngine) -> None:
    # Visa fails one rule, transit two: visa is closest; every failure is named.
    one = make_case(
        traveller={"chinese_visa": {**VISA, "entries_left": 0}},
        journey={"onward_to": "JPN", "onward_confirmed": False},
    )
    d = engine.decide(one)
    assert d.scheme == "visa"
    assert d.reasons == [R.VISA_NO_ENTRIES, R.ONWARD_NOT_CONFIRMED, R.ROUTE_ROUND_TRIP]
    # Visa fails two, transit one: transit is closest.
    two = make_case(
        traveller={"chinese_visa": {**VISA, "entries_left": 0, "valid_until": "2026-02-01"}},
        journey={"onward_to": "JPN"},
    )
    d = engine.decide(two)
    assert d.scheme == "transit-240h"
    assert d.reasons == [R.VISA_NOT_VALID, R.VISA_NO_ENTRIES, R.ROUTE_ROUND_TRIP]
    # A tie goes to the preferred scheme.
    tie = make_case(traveller={"chinese_visa": {**VISA, "entries_left": 0}}, journey=None)
    assert engine.decide(tie).scheme == "visa"


def test_exclusion_with_a_passing_scheme_names_only_the_exclusion(engine: PolicyEngine) -> None:
    d = engine.decide(
        make_case(
            traveller={"chinese_visa": VISA, "record": ["barred"]}, journey={"onward_to": "JPN"}
        )
    )
    assert (d.decision, d.scheme, d.permitted_until, d.reasons) == (
        "refer",
        "visa",
        None,
        [R.RECORD_BARRED],
    )


# Cruise group visa-free entry (TSN-CRUISE, from 2024-05-15, 15 days).
CRUISES: list[tuple[str, dict[str, Any], list[R]]] = [
    ("ok", {}, []),
    ("not on manifest", {"cruise": {"on_manifest": False}}, [R.CRUISE_NOT_ON_MANIFEST]),
    ("unlicensed agency", {"cruise": {"agency_licensed": False}}, [R.CRUISE_AGENCY_UNLICENSED]),
    ("group of one", {"cruise": {"group_size": 1}}, [R.CRUISE_GROUP_TOO_SMALL]),
    ("group of two", {"cruise": {"group_size": 2}}, []),
    ("not with ship", {"cruise": {"leaves_with_ship": False}}, [R.CRUISE_NOT_LEAVING_WITH_SHIP]),
    ("last minute", {"cruise": {"ship_departs": "2026-07-16T23:59:00+08:00"}}, []),
    (
        "after limit",
        {"cruise": {"ship_departs": "2026-07-17T00:00:00+08:00"}},
        [R.CRUISE_DEPARTS_AFTER_LIMIT],
    ),
    (
        "ship left before",
        {"cruise": {"ship_departs": "2026-07-01T10:00:00+08:00"}},
        [R.ONWARD_BEFORE_ARRIVAL],
    ),
    ("at the airport", {"port": "TSN-AIRPORT"}, [R.PORT_NOT_DESIGNATED]),
    ("any foreign nationality", {"traveller": {"nationality": "IND"}}, []),
    ("not a region", {"traveller": {"nationality": "TWN"}}, [R.NATIONALITY_NOT_ELIGIBLE]),
    ("not stateless", {"traveller": {"nationality": "XXA"}}, [R.NATIONALITY_NOT_ELIGIBLE]),
    ("ID card", {"traveller": {"document_type": "ID"}}, [R.DOCUMENT_TYPE_NOT_ACCEPTED]),
    (
        "day before the scheme",
        {
            "arrival": "2024-05-14T09:00:00+08:00",
            "cruise": {"ship_departs": "2024-05-16T18:00:00+08:00"},
        },
        [R.SCHEME_NOT_IN_FORCE],
    ),
    (
        "first day",
        {
            "arrival": "2024-05-15T00:00:00+08:00",
            "cruise": {"ship_departs": "2024-05-30T23:59:00+08:00"},
        },
        [],
    ),
]


@pytest.mark.parametrize(
    ("changes", "reasons"), [c[1:] for c in CRUISES], ids=[c[0] for c in CRUISES]
)
def test_cruise_rules(engine: PolicyEngine, changes: dict[str, Any], reasons: list[R]) -> None:
    cruise = {**CRUISE, **changes.pop("cruise", {})}
    base = {"port": "TSN-CRUISE", "journey": None, "cruise": cruise}
    decision, scheme, until, got = decided(engine, **{**base, **changes})
    assert (decision, scheme, got) == ("refer" if reasons else "admit", "cruise-15d", reasons)
    if not reasons:
        assert until is not None
        assert until.endswith("T00:00:00+08:00")


def test_cruise_permitted_until_is_15_days_from_next_midnight(engine: PolicyEngine) -> None:
    d = engine.decide(make_case(port="TSN-CRUISE", journey=None, cruise=CRUISE))
    assert d.permitted_until == datetime.fromisoformat("2026-07-17T00:00:00+08:00")


def test_unknown_codes_raise_not_decide(engine: PolicyEngine) -> None:
    for changes in (
        {"traveller": {"nationality": "ZZZ"}},
        {"journey": {"arrived_from": "XX"}},
        {"journey": {"onward_to": "GERMANY"}},
    ):
        with pytest.raises(UnknownCountryError):
            engine.decide(make_case(**changes))


def test_decide_explained_lists_every_rule(engine: PolicyEngine) -> None:
    case = make_case(journey={"onward_departure": "2026-07-12T00:00:00+08:00"})
    decision, results = engine.decide_explained(case)
    assert decision == engine.decide(case)
    failed = [r for r in results if not r.passed]
    assert [(r.scheme, r.rule, r.reason) for r in failed] == [
        ("transit-240h", "onward-within-stay", R.ONWARD_AFTER_LIMIT)
    ]
    assert {r.scheme for r in results} == {"exclusions", "transit-240h"}
    assert all(r.detail for r in results)
    assert all((r.reason is None) == r.passed for r in results)


IN_FORCE = [
    ("TSN-AIRPORT", "2015-06-07T23:59:59+08:00", []),
    ("TSN-AIRPORT", "2016-01-01T00:00:00+08:00", ["transit-72h"]),
    ("TSN-CRUISE", "2016-01-01T00:00:00+08:00", []),
    ("TSN-CRUISE", "2024-05-14T12:00:00+08:00", ["transit-144h"]),
    ("TSN-CRUISE", "2024-05-15T12:00:00+08:00", ["cruise-15d", "transit-144h"]),
    ("TSN-CRUISE", "2026-07-01T12:00:00+08:00", ["cruise-15d", "transit-240h"]),
    ("TSN-AIRPORT", "2026-07-01T12:00:00+08:00", ["transit-240h"]),
]


@pytest.mark.parametrize(("port", "at", "schemes"), IN_FORCE)
def test_in_force(engine: PolicyEngine, port: Any, at: str, schemes: list[str]) -> None:
    assert [p.scheme for p in engine.in_force(port, datetime.fromisoformat(at))] == schemes


def test_decision_model_invariants() -> None:
    with pytest.raises(ValueError, match="no reasons"):
        PolicyDecision(decision="admit", scheme="visa", permitted_until=None, reasons=[R.NO_SCHEME])
    with pytest.raises(ValueError, match="at least one reason"):
        PolicyDecision(decision="refer", scheme=None, permitted_until=None, reasons=[])
    utc = PolicyDecision(
        decision="admit",
        scheme="transit-72h",
        permitted_until=datetime.fromisoformat("2026-07-11T16:00:00Z"),
        reasons=[],
    )
    assert utc.model_dump(mode="json")["permitted_until"] == "2026-07-12T00:00:00+08:00"
