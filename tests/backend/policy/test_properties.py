"""Properties over many generated cases (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.policy.case import PolicyCase
from backend.policy.clock import CST
from backend.policy.engine import PolicyEngine

ENGINE = PolicyEngine.load()  # hypothesis and function-scoped fixtures do not mix
STAYS = {p.scheme: p.stay.duration for p in ENGINE.rules.periods}

PLACES = ["JPN", "KOR", "USA", "D", "GBR", "HKG", "MAC", "TWN", "SGP", "RUS", "AUS", "IND"]
NATIONALITIES = ["D", "FRA", "USA", "NOR", "IDN", "BLR", "MCO", "IND", "TWN", "XXA", "CHN"]
PORTS = ["TSN-AIRPORT", "TSN-CRUISE"]

offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(
    lambda q: timezone(timedelta(minutes=15 * q))
)
instants = st.builds(
    lambda naive, tz: naive.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(2014, 1, 1), max_value=datetime(2032, 12, 31)),
    offsets,
)
after = st.timedeltas(min_value=timedelta(minutes=-90), max_value=timedelta(days=17))


def _case(
    port: str,
    arrival: datetime,
    traveller: dict[str, Any],
    journey: dict[str, Any] | None,
    cruise: dict[str, Any] | None,
) -> PolicyCase:
    return PolicyCase.model_validate(
        {"port": port, "arrival": arrival, "traveller": traveller, "journey": journey,
         "cruise": cruise}
    )  # fmt: skip


def _traveller(nationality: str, expiry: date = date(2040, 1, 1), **extra: Any) -> dict[str, Any]:
    return {"nationality": nationality, "document_type": "P", "document_expiry": expiry, **extra}


@settings(max_examples=300, deadline=None)
@given(
    port=st.sampled_from(PORTS),
    arrival=instants,
    nationality=st.sampled_from([n for n in NATIONALITIES if n != "CHN"]),
    place=st.sampled_from(PLACES),
    stay=after,
    tz=offsets,
    confirmed=st.booleans(),
)
def test_a_round_trip_is_never_admitted_under_transit(
    port: str,
    arrival: datetime,
    nationality: str,
    place: str,
    stay: timedelta,
    tz: timezone,
    confirmed: bool,
) -> None:
    journey = {
        "arrived_from": place,
        "onward_to": place,
        "onward_departure": (arrival + stay).astimezone(tz),
        "onward_confirmed": confirmed,
    }
    decision = ENGINE.decide(_case(port, arrival, _traveller(nationality), journey, None))
    assert decision.decision == "refer"
    assert decision.reasons


@settings(max_examples=300, deadline=None)
@given(
    port=st.sampled_from(PORTS),
    arrival=instants,
    nationality=st.sampled_from(NATIONALITIES),
    route=st.lists(st.sampled_from(PLACES), min_size=2, max_size=2, unique=True),
    stay=after,
    cruise=st.booleans(),
)
def test_permitted_until_never_exceeds_the_scheme_limit(
    port: str,
    arrival: datetime,
    nationality: str,
    route: list[str],
    stay: timedelta,
    cruise: bool,
) -> None:
    departs = arrival + stay
    journey = {"arrived_from": route[0], "onward_to": route[1], "onward_departure": departs,
               "onward_confirmed": True}  # fmt: skip
    ship = {"ship": "S", "agency_licence": "L-1", "agency_licensed": True, "group_size": 4,
            "on_manifest": True, "ship_departs": departs, "leaves_with_ship": True}  # fmt: skip
    case = _case(port, arrival, _traveller(nationality), None if cruise else journey,
                 ship if cruise else None)  # fmt: skip
    decision = ENGINE.decide(case)
    if decision.permitted_until is None:
        assert decision.decision == "refer" or decision.scheme in ("citizen", "visa")
        return
    assert decision.decision == "admit"
    assert decision.scheme in STAYS
    limit = STAYS[decision.scheme]
    until = decision.permitted_until
    # At most the stay plus the rest of the arrival day; at least the full stay.
    assert limit < until - arrival <= limit + timedelta(days=1)
    assert until.utcoffset() == timedelta(hours=8)
    assert until.time() == time(0, 0)
    assert until.date() == arrival.astimezone(CST).date() + timedelta(days=1) + limit
    assert arrival <= departs < until


record_flags = st.lists(
    st.sampled_from(["barred", "visa-refusal", "violation-5y"]), max_size=2, unique=True
)
visas = st.none() | st.fixed_dictionaries(
    {
        "type": st.sampled_from(["L", "M", "Q2"]),
        "valid_from": st.dates(date(2014, 1, 1), date(2032, 12, 31)),
        "valid_until": st.dates(date(2014, 1, 1), date(2032, 12, 31)),
        "entries_left": st.integers(0, 2),
    }
)


@settings(max_examples=400, deadline=None)
@given(
    port=st.sampled_from(PORTS),
    arrival=instants,
    nationality=st.sampled_from(NATIONALITIES),
    document_type=st.sampled_from(["P", "P<", "PD", "I", "ID"]),
    expiry=st.dates(date(2014, 1, 1), date(2034, 12, 31)),
    record=record_flags,
    visa=visas,
    route=st.lists(st.sampled_from([*PLACES, "CHN"]), min_size=2, max_size=2),
    stay=after,
    has_journey=st.booleans(),
    has_cruise=st.booleans(),
    flags=st.lists(st.booleans(), min_size=5, max_size=5),
    group=st.integers(0, 5),
)
def test_a_referred_case_always_has_a_reason(
    port: str,
    arrival: datetime,
    nationality: str,
    document_type: str,
    expiry: date,
    record: list[str],
    visa: dict[str, Any] | None,
    route: list[str],
    stay: timedelta,
    has_journey: bool,
    has_cruise: bool,
    flags: list[bool],
    group: int,
) -> None:
    traveller = _traveller(nationality, expiry, record=record, chinese_visa=visa)
    traveller["document_type"] = document_type
    journey = {"arrived_from": route[0], "onward_to": route[1],
               "onward_departure": arrival + stay, "onward_confirmed": flags[0]}  # fmt: skip
    ship = {"ship": "S", "agency_licence": "L-1", "agency_licensed": flags[1], "group_size": group,
            "on_manifest": flags[2], "ship_departs": arrival + stay,
            "leaves_with_ship": flags[3]}  # fmt: skip
    case = _case(port, arrival, traveller, journey if has_journey else None,
                 ship if has_cruise else None)  # fmt: skip
    decision, results = ENGINE.decide_explained(case)
    assert decision == ENGINE.decide(case)  # deterministic
    if decision.decision == "refer":
        assert decision.reasons
        assert decision.permitted_until is None
        failed = {r.reason for r in results if r.reason is not None}
        assert set(decision.reasons) <= failed
    else:
        assert decision.reasons == []
        assert decision.scheme is not None
    assert len(set(decision.reasons)) == len(decision.reasons)
