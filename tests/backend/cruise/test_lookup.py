"""CruiseService.find_cruise_passenger: the clearance service's view of the manifests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backend.cruise.agencies import Agency, AgencyRegistry
from backend.cruise.models import ManifestIn
from backend.cruise.service import CruiseService
from backend.records.store import RecordsStore
from tests.backend.cruise.conftest import OTHER_VALID, VALID, manifest_body, member

CST = timezone(timedelta(hours=8))
NOW = datetime(2025, 6, 1, 9, 0, tzinfo=CST)
ARRIVAL = datetime(2025, 7, 1, 8, 0, tzinfo=CST)  # the ship docks at 08:00 CST
SHORT_LIVED = "L-TJ-CJ00050"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordsStore]:
    records = RecordsStore(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    records.ensure_schema()
    yield records
    records.dispose()


@pytest.fixture
def service(store: RecordsStore) -> CruiseService:
    forever = (date(2020, 1, 1), date(2099, 1, 1))
    agencies = AgencyRegistry(
        [
            Agency(licence=VALID, name="A", valid_from=forever[0], valid_until=forever[1]),
            Agency(licence=OTHER_VALID, name="B", valid_from=forever[0], valid_until=forever[1]),
            # Licensed when the list is submitted, expired by the time the ship arrives.
            Agency(
                licence=SHORT_LIVED,
                name="C",
                valid_from=forever[0],
                valid_until=date(2025, 6, 30),
            ),
        ]
    )
    return CruiseService(store, agencies, lead_time=timedelta(hours=24), clock=lambda: NOW)


def submit(service: CruiseService, arrival: datetime = ARRIVAL, **top: Any) -> str:
    body = manifest_body(arrival, **top)
    return service.submit(ManifestIn.model_validate_json(_json(body))).receipt.manifest_id


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body)


def test_found_on_the_arrival_day(service: CruiseService) -> None:
    submit(service)
    facts = service.find_cruise_passenger("X1000002", "D", ARRIVAL + timedelta(hours=1, minutes=5))
    assert facts is not None
    assert facts.ship == "BDSTAR"
    assert facts.agency_licence == VALID
    assert facts.agency_licensed is True
    assert facts.on_manifest is True
    assert facts.group_size == 3
    assert facts.ship_departs == ARRIVAL + timedelta(days=2)
    assert facts.leaves_with_ship is True
    # Same CST day, hours before the scheduled docking (the ship was early), and DEU spelling.
    early = datetime(2025, 7, 1, 0, 30, tzinfo=CST)
    assert service.find_cruise_passenger("X1000002", "DEU", early) is not None


def test_group_size_is_the_travellers_own_group(service: CruiseService) -> None:
    submit(service)
    second = service.find_cruise_passenger("Y2000001", "JPN", ARRIVAL)
    assert second is not None
    assert second.group_size == 2


def test_wrong_day_wrong_nationality_or_unknown_person(service: CruiseService) -> None:
    submit(service)
    assert service.find_cruise_passenger("X1000001", "USA", ARRIVAL + timedelta(days=1)) is None
    assert service.find_cruise_passenger("X1000001", "USA", ARRIVAL - timedelta(days=1)) is None
    assert service.find_cruise_passenger("X1000001", "CAN", ARRIVAL) is None
    assert service.find_cruise_passenger("X9999999", "USA", ARRIVAL) is None
    assert service.find_cruise_passenger("X1000001", "ZZZ", ARRIVAL) is None


def test_late_evening_ship_matches_after_midnight(service: CruiseService) -> None:
    late = datetime(2025, 7, 1, 22, 30, tzinfo=CST)
    submit(service, late)
    after_midnight = datetime(2025, 7, 2, 1, 15, tzinfo=CST)
    assert service.find_cruise_passenger("X1000001", "USA", after_midnight) is not None
    next_noon = datetime(2025, 7, 2, 12, 0, tzinfo=CST)
    assert service.find_cruise_passenger("X1000001", "USA", next_noon) is None


def test_day_is_counted_in_china_standard_time(service: CruiseService) -> None:
    submit(service)
    # 2025-06-30T23:30Z is 07:30 CST on 1 July: the same day as the ship.
    assert service.find_cruise_passenger(
        "X1000001", "USA", datetime(2025, 6, 30, 23, 30, tzinfo=UTC)
    )
    with pytest.raises(ValueError, match="aware"):
        service.find_cruise_passenger("X1000001", "USA", ARRIVAL.replace(tzinfo=None))


def test_cruise_card_ship_and_voyage_narrow_the_search(service: CruiseService) -> None:
    submit(service)
    other_ship = manifest_body(ARRIVAL + timedelta(hours=3))
    other_ship["ship"] = {"name": "Ocean Pearl", "code": "OPEARL"}
    other_ship["voyage"] = "OP77"
    other_ship["groups"] = [{"group_id": "P", "members": [member("X1000001"), member("Q1")]}]
    service.submit(ManifestIn.model_validate_json(_json(other_ship)))

    unnarrowed = service.find_cruise_passenger("X1000001", "USA", ARRIVAL + timedelta(hours=3))
    assert unnarrowed is not None
    assert unnarrowed.ship == "OPEARL"  # the closest arrival wins without a cruise card
    by_ship = service.find_cruise_passenger(
        "X1000001", "USA", ARRIVAL + timedelta(hours=3), ship_code="bdstar"
    )
    assert by_ship is not None
    assert (by_ship.ship, by_ship.group_size) == ("BDSTAR", 3)
    by_voyage = service.find_cruise_passenger("X1000001", "USA", ARRIVAL, voyage="OP77")
    assert by_voyage is not None
    assert (by_voyage.ship, by_voyage.group_size) == ("OPEARL", 2)
    assert service.find_cruise_passenger("X1000001", "USA", ARRIVAL, ship_code="NOPE") is None
    mismatch = service.find_cruise_passenger(
        "X1000001", "USA", ARRIVAL, ship_code="OPEARL", voyage="BD2507-03"
    )
    assert mismatch is None


def test_mrz_fillers_and_case_in_the_document_number(service: CruiseService) -> None:
    submit(service)
    assert service.find_cruise_passenger("x1000001<", "USA", ARRIVAL) is not None


def test_licence_is_rechecked_for_the_arrival_day(service: CruiseService) -> None:
    submit(service, agency_licence=SHORT_LIVED)
    facts = service.find_cruise_passenger("X1000001", "USA", ARRIVAL)
    assert facts is not None
    assert facts.agency_licence == SHORT_LIVED
    assert facts.agency_licensed is False


def test_amended_manifest_drops_removed_members(service: CruiseService) -> None:
    first = submit(service)
    body = manifest_body(ARRIVAL)
    body["groups"][0]["members"].pop()  # X1000003 leaves the group
    receipt = service.submit(ManifestIn.model_validate_json(_json(body))).receipt
    assert (receipt.manifest_id, receipt.version) == (first, 2)
    assert service.find_cruise_passenger("X1000003", "GBR", ARRIVAL) is None
    remaining = service.find_cruise_passenger("X1000001", "USA", ARRIVAL)
    assert remaining is not None
    assert remaining.group_size == 2


async def test_async_variant(service: CruiseService) -> None:
    submit(service)
    facts = await service.afind_cruise_passenger("Y2000002", "KOR", ARRIVAL, voyage="BD2507-03")
    assert facts is not None
    assert facts.group_size == 2
