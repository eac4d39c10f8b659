"""POST /v1/clearances decided by the policy engine from the backend's own sources: boarding
passes against the flight registry, cruise cards against the manifests, the visa and records
registries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import httpx
import pytest
from fastapi import FastAPI

from backend.journey.bcbp import Leg
from backend.policy.clock import CST
from backend.settings import BackendSettings
from hardware_mocks.boarding_pass import bcbp_text
from tests.backend.conftest import clearance_body, count_rows, running
from tests.backend.journey.test_evidence import leg

URL = "/v1/clearances"
# A Sunday at 10:30 in Tianjin, under the 240-hour scheme; KE805 ICN-TSN and KE806 TSN-ICN fly
# daily, NH906 TSN-NRT daily.
ARRIVAL = datetime(2026, 7, 5, 10, 30, tzinfo=CST)


def passes(*legs: Leg) -> list[dict[str, str]]:
    return [{"kind": "boarding_pass", "payload": bcbp_text("MUELLER/ANNA", [x])} for x in legs]


INBOUND = leg("KE805", "ICN", "TSN", ARRIVAL.date())
ONWARD = leg("NH906", "TSN", "NRT", ARRIVAL.date() + timedelta(days=2))


def traveller(nationality: str = "D", number: str = "C01X00T47", **top: Any) -> dict[str, Any]:
    return clearance_body(
        document={"nationality": nationality, "issuing_state": nationality,
                  "document_number": number},
        **{"arrival_time": ARRIVAL.isoformat(), **top},
    )  # fmt: skip


@pytest.fixture
async def app_client(
    settings: BackendSettings, embedded_redis: fakeredis.FakeServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    monkeypatch.setenv("BORDERGATE_CRUISE_MANIFEST_LEAD_TIME_H", "0")
    async with running(settings, embedded_redis) as pair:
        yield pair


async def decide(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(URL, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_transit_traveller_with_both_passes_is_admitted_for_240_hours(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    decision = await decide(client, traveller(journey=passes(INBOUND, ONWARD)))
    assert decision["outcome"] == "admit", decision
    assert decision["scheme"] == "transit-240h"
    assert decision["permitted_until"] == "2026-07-16T00:00:00+08:00"
    assert decision["reasons"] == []
    # The explanation is kept for the officer console: every rule tried, with its result.
    record = (
        await app.state.records.afind_explanation(decision["clearance_id"])
        if hasattr(app.state.records, "afind_explanation")
        else None
    )
    assert record is None or record["policy"]["scheme"] == "transit-240h"


@pytest.mark.parametrize(
    ("journey", "reasons"),
    [
        (passes(INBOUND, leg("KE806", "TSN", "ICN", ARRIVAL.date() + timedelta(days=1))),
         ["route-round-trip"]),
        (passes(INBOUND, leg("NH906", "TSN", "NRT", ARRIVAL.date() + timedelta(days=14))),
         ["onward-after-limit"]),
        (passes(INBOUND, leg("NH906", "TSN", "NRT", ARRIVAL.date(), seat=None)),
         ["onward-not-confirmed"]),
        (passes(INBOUND), ["journey-missing"]),
        ([], ["journey-missing"]),
        ([{"kind": "boarding_pass", "payload": "M1BROKEN"}],
         ["journey-invalid", "journey-missing"]),
    ],
    ids=["round-trip", "after-limit", "no-seat", "no-onward", "nothing", "corrupt-barcode"],
)  # fmt: skip
async def test_transit_journey_problems_refer_with_their_reason(
    app_client: tuple[FastAPI, httpx.AsyncClient],
    journey: list[dict[str, str]],
    reasons: list[str],
) -> None:
    _, client = app_client
    decision = await decide(client, traveller(journey=journey))
    assert decision["outcome"] == "refer"
    assert decision["reasons"] == reasons
    assert decision["permitted_until"] is None


async def test_visa_holder_needs_no_onward_ticket_and_a_barred_person_is_refused(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_client
    visa = {"document_number": "V1234567", "nationality": "IND", "type": "L",
            "valid_from": "2026-01-01", "valid_until": "2026-12-31", "entries_left": 1}  # fmt: skip
    assert (await client.post("/v1/registry/visas", json=visa)).status_code == 201
    decision = await decide(client, traveller("IND", "V1234567"))
    assert (decision["outcome"], decision["scheme"]) == ("admit", "visa")
    assert decision["permitted_until"] is None

    barred = {"document_number": "B7654321", "nationality": "D", "flag": "barred",
              "date": "2020-01-01", "source": "test"}  # fmt: skip
    assert (await client.post("/v1/registry/records", json=barred)).status_code == 201
    decision = await decide(client, traveller("D", "B7654321", journey=passes(INBOUND, ONWARD)))
    assert decision["outcome"] == "refer"
    assert decision["reasons"] == ["record-barred"]


def manifest(members: list[tuple[str, str]], arrival: datetime) -> dict[str, Any]:
    return {
        "ship": {"name": "Blue Dream Star", "code": "BDSTAR"},
        "voyage": "BD2607-01",
        "port": "TSN-CRUISE",
        "agency_licence": "L-TJ-CJ00001",
        "arrival": arrival.isoformat(),
        "departs_china": (arrival + timedelta(days=3)).isoformat(),
        "groups": [{"group_id": "G1",
                    "members": [{"document_number": n, "nationality": c} for n, c in members]}],
    }  # fmt: skip


async def test_cruise_group_member_is_admitted_for_15_days_and_others_are_referred(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    arrival = datetime.now(UTC).astimezone(CST).replace(microsecond=0) + timedelta(hours=2)
    body = manifest([("K1111111", "USA"), ("K2222222", "JPN")], arrival)
    assert (await client.post("/v1/manifests", json=body)).status_code == 201

    def card(number: str, nationality: str) -> list[dict[str, str]]:
        text = f"BGCRUISE1|BDSTAR|BD2607-01|{number}|{nationality}|8214"
        return [{"kind": "cruise_card", "payload": text}]

    def at_cruise_port(number: str, nationality: str, **top: Any) -> dict[str, Any]:
        return traveller(nationality, number, hall="cruise", lane_id="C-01",
                         **{"arrival_time": arrival.isoformat(), **top})  # fmt: skip

    decision = await decide(client, at_cruise_port("K1111111", "USA",
                                                    journey=card("K1111111", "USA")))  # fmt: skip
    assert decision["outcome"] == "admit", decision
    assert decision["scheme"] == "cruise-15d"
    expected_until = datetime.combine(arrival.date() + timedelta(days=16), datetime.min.time(), CST)
    assert decision["permitted_until"] == expected_until.isoformat()

    # Not on any manifest, a card of someone else, and no card but on the manifest.
    stranger = await decide(client, at_cruise_port("K9999999", "USA",
                                                   journey=card("K9999999", "USA")))  # fmt: skip
    assert stranger["outcome"] == "refer"
    assert "cruise-not-on-manifest" in stranger["reasons"]
    borrowed = await decide(client, at_cruise_port("K9999999", "USA",
                                                   journey=card("K2222222", "JPN")))  # fmt: skip
    assert borrowed["outcome"] == "refer"
    assert "journey-invalid" in borrowed["reasons"]
    no_card = await decide(client, at_cruise_port("K2222222", "JPN"))
    assert (no_card["outcome"], no_card["scheme"]) == ("admit", "cruise-15d")
    assert count_rows(app, "clearances") == 4


async def test_unknown_nationality_is_a_clear_error_and_records_nothing(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    response = await client.post(URL, json=traveller("ZZZ"))
    assert response.status_code == 422
    assert "unknown country" in response.text
    assert count_rows(app, "clearances") == 0
