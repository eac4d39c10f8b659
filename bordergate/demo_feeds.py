"""What the demo's authorities and agencies send the backend before the travellers arrive.

Cruise agencies file their groups' name lists (manifests) before the ship docks, and the visa
authority's feed lists the visas it issued. The demo builds both from travellers generated in
advance and posts them through the backend's own API, as the real feeds would.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from backend.journey.flights import ScheduledFlight
from hardware_mocks.travellers import CRUISE_SHIPS, PORT_AIRPORT, Traveller

DEMO_AGENCY_LICENCE = "L-TJ-CJ00001"  # in backend/cruise/data/agencies.yaml
SHIP_NAMES = dict(CRUISE_SHIPS)
MIN_GROUP = 2  # the cruise scheme's group size; smaller groups are not filed


def cruise_manifests(
    travellers: Sequence[Traveller], arrival: datetime, stay: timedelta = timedelta(days=2)
) -> list[dict[str, Any]]:
    """One manifest per ship call, listing every group of two or more."""
    groups: dict[tuple[str, str], dict[str, list[Traveller]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for t in travellers:
        if t.ship and t.voyage and t.group_id:
            groups[(t.ship, t.voyage)][t.group_id].append(t)
    manifests = []
    for (ship, voyage), by_group in sorted(groups.items()):
        filed = [
            {
                "group_id": group_id,
                "members": [
                    {"document_number": m.document_number, "nationality": m.nationality}
                    for m in members
                ],
            }
            for group_id, members in sorted(by_group.items())
            if len(members) >= MIN_GROUP
        ]
        if filed:
            manifests.append(
                {
                    "ship": {"name": SHIP_NAMES.get(ship, ship), "code": ship},
                    "voyage": voyage,
                    "port": "TSN-CRUISE",
                    "agency_licence": DEMO_AGENCY_LICENCE,
                    "arrival": arrival.isoformat(),
                    "departs_china": (arrival + stay).isoformat(),
                    "groups": filed,
                }
            )
    return manifests


def visa_entries(travellers: Sequence[Traveller], today: date) -> list[dict[str, Any]]:
    """Visas for the foreign airport travellers who carry no onward ticket (they hold a visa)."""
    return [
        {
            "document_number": t.document_number,
            "nationality": t.nationality,
            "type": "L",
            "valid_from": (today - timedelta(days=30)).isoformat(),
            "valid_until": (today + timedelta(days=150)).isoformat(),
            "entries_left": 1,
            "source": "demo visa feed",
        }
        for t in travellers
        if t.journey_case == "missing" and not t.is_citizen
    ]


def hall_schedule(
    travellers: Sequence[Traveller],
    flights: Sequence[ScheduledFlight],
    ship_arrival: datetime,
    seed: int,
) -> list[dict[str, Any]]:
    """What the airport and port operators tell the queue monitor to expect: today's inbound
    flights at TSN, and the ships whose passengers are the demo's cruise travellers."""
    rng = random.Random(seed)
    schedule: list[dict[str, Any]] = [
        {
            "kind": "flight",
            "ref": f.flight,
            "hall": "airport",
            "at": f.arrival.isoformat(),
            "passengers": rng.randint(120, 320),
            "egate_share": 0.45,
        }
        for f in flights
        if f.destination == PORT_AIRPORT
    ]
    on_ship: dict[str, int] = defaultdict(int)
    for t in travellers:
        if t.ship:
            on_ship[t.ship] += 1
    schedule += [
        {
            "kind": "ship",
            "ref": ship,
            "hall": "cruise",
            "at": ship_arrival.isoformat(),
            "passengers": count,
            "egate_share": 0.55,
            "disembark_per_min": 30,
        }
        for ship, count in sorted(on_ship.items())
    ]
    return schedule


async def post_feeds(
    base_url: str,
    tokens: Mapping[str, str],
    manifests: Sequence[dict[str, Any]],
    visas: Sequence[dict[str, Any]],
    schedule: Sequence[dict[str, Any]] = (),
) -> None:
    """POST each manifest and visa, and the schedule, each with its feed's token (``tokens`` by
    scope: manifests, registry, schedules); a refusal is an error in the demo's data."""

    def bearer(scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[scope]}"}

    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        if schedule:
            response = await client.post(
                "/v1/schedules", json={"arrivals": list(schedule)}, headers=bearer("schedules")
            )
            if response.status_code >= 300:
                raise RuntimeError(f"/v1/schedules refused demo data: {response.text[:300]}")
        feeds = (
            ("/v1/manifests", "manifests", manifests),
            ("/v1/registry/visas", "registry", visas),
        )
        for path, scope, bodies in feeds:
            for body in bodies:
                response = await client.post(path, json=body, headers=bearer(scope))
                if response.status_code >= 300:
                    raise RuntimeError(f"{path} refused demo data: {response.text[:300]}")
