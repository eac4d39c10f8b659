"""The visa and records registries: lookups, the feed endpoints, the seed loader."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import func, select

import backend.registries as registries_package
from backend.policy.case import ChineseVisa
from backend.records.store import RecordsStore
from backend.records.tables import RecordRegistryEntry, VisaRegistryEntry
from backend.registries.models import RecordEntryIn, VisaEntryIn
from backend.registries.service import Registries, load_seed
from tests.backend.conftest import make_settings, running

ON = date(2025, 7, 1)
SEED_YAML = """\
visas:
  - {document_number: V1000001, nationality: USA, type: L, valid_from: 2025-01-01,
     valid_until: 2025-12-31, entries_left: 1, source: demo}
  - {document_number: V1000002, nationality: DEU, type: M, valid_from: 2024-01-01,
     valid_until: 2024-12-31, entries_left: 2}
records:
  - {document_number: R1000001, nationality: GBR, flag: barred, date: 2019-03-01,
     source: demo bar}
  - {document_number: R1000002, nationality: FRA, flag: violation-5y, date: 2023-05-05,
     source: demo overstay}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordsStore]:
    records = RecordsStore(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    records.ensure_schema()
    yield records
    records.dispose()


@pytest.fixture
def registries(store: RecordsStore) -> Registries:
    return Registries(store)


def visa(number: str = "V1", **fields: Any) -> VisaEntryIn:
    values: dict[str, Any] = {
        "document_number": number,
        "nationality": "USA",
        "type": "L",
        "valid_from": date(2025, 1, 1),
        "valid_until": date(2025, 12, 31),
        "entries_left": 1,
    }
    values.update(fields)
    return VisaEntryIn.model_validate(values)


def flag(kind: str, on: date, number: str = "P1", nationality: str = "USA") -> RecordEntryIn:
    return RecordEntryIn.model_validate(
        {
            "document_number": number,
            "nationality": nationality,
            "flag": kind,
            "date": on,
            "source": "test",
        }
    )


def counts(store: RecordsStore) -> tuple[int, int]:
    with store.session() as session:
        visas = session.execute(select(func.count()).select_from(VisaRegistryEntry)).scalar_one()
        records = session.execute(select(func.count()).select_from(RecordRegistryEntry))
        return visas, records.scalar_one()


# --- visas --------------------------------------------------------------------------------------


def test_visa_validity_window_is_inclusive(registries: Registries) -> None:
    registries.add_visa(visa())
    expected = ChineseVisa(
        type="L", valid_from=date(2025, 1, 1), valid_until=date(2025, 12, 31), entries_left=1
    )
    assert registries.find_visa("V1", "USA", date(2025, 1, 1)) == expected
    assert registries.find_visa("V1", "USA", date(2025, 12, 31)) == expected


def test_the_visa_valid_on_the_day_wins(registries: Registries) -> None:
    registries.add_visa(visa(valid_from=date(2023, 1, 1), valid_until=date(2023, 12, 31)))
    registries.add_visa(visa(type="M", valid_from=date(2025, 3, 1), valid_until=date(2025, 9, 1)))
    registries.add_visa(visa(type="Q2", valid_from=date(2026, 1, 1), valid_until=date(2026, 6, 1)))
    found = registries.find_visa("V1", "USA", ON)
    assert found is not None
    assert found.type == "M"
    # Before any window: the next one; after all of them: the latest expired one.
    before = registries.find_visa("V1", "USA", date(2022, 6, 1))
    assert before is not None
    assert before.type == "L"
    later = registries.find_visa("V1", "USA", date(2027, 1, 1))
    assert later is not None
    assert later.type == "Q2"
    between = registries.find_visa("V1", "USA", date(2025, 10, 1))
    assert between is not None
    assert between.type == "Q2"  # not yet valid is preferred to expired


def test_a_visa_with_entries_left_beats_a_used_one(
    registries: Registries, store: RecordsStore
) -> None:
    registries.add_visa(visa(type="L", entries_left=0, valid_until=date(2025, 12, 31)))
    registries.add_visa(visa(type="M", entries_left=2, valid_until=date(2025, 8, 1)))
    found = registries.find_visa("V1", "USA", ON)
    assert found is not None
    assert (found.type, found.entries_left) == ("M", 2)
    registries.add_visa(visa("V2", entries_left=0))  # another person, only a used visa
    used = registries.find_visa("V2", "USA", ON)
    assert used is not None
    assert used.entries_left == 0


def test_visa_lookup_by_person(registries: Registries) -> None:
    registries.add_visa(visa(nationality="DEU"))
    assert registries.find_visa("V1", "D", ON) is not None  # ICAO D and ISO DEU are one
    assert registries.find_visa("v1<<", "DEU", ON) is not None
    assert registries.find_visa("V1", "USA", ON) is None
    assert registries.find_visa("V2", "D", ON) is None
    assert registries.find_visa("V1", "ZZZ", ON) is None


def test_visa_upsert_statuses(registries: Registries, store: RecordsStore) -> None:
    first = registries.add_visa(visa())
    assert first.status == "created"
    assert registries.add_visa(visa()) == first.model_copy(update={"status": "unchanged"})
    used = registries.add_visa(visa(entries_left=0))
    assert (used.entry_id, used.status) == (first.entry_id, "updated")
    assert registries.find_visa("V1", "USA", ON) == ChineseVisa(
        type="L", valid_from=date(2025, 1, 1), valid_until=date(2025, 12, 31), entries_left=0
    )
    assert registries.add_visa(visa(valid_from=date(2025, 2, 1))).status == "created"
    assert counts(store) == (2, 0)


# --- records ------------------------------------------------------------------------------------


def test_unknown_person_has_no_flags(registries: Registries) -> None:
    assert registries.record_flags("P1", "USA", ON) == []
    registries.add_record(flag("barred", date(2020, 1, 1)))
    assert registries.record_flags("P1", "CAN", ON) == []
    assert registries.record_flags("P1", "ZZZ", ON) == []


def test_standing_flags_do_not_expire(registries: Registries) -> None:
    registries.add_record(flag("barred", date(2001, 1, 1)))
    registries.add_record(flag("visa-refusal", date(2002, 1, 1)))
    assert registries.record_flags("P1", "USA", ON) == ["barred", "visa-refusal"]


@pytest.mark.parametrize(
    ("violation", "counted"),
    [
        (date(2025, 6, 30), True),
        (date(2021, 1, 1), True),
        (date(2020, 7, 1), True),  # exactly 5 years before
        (date(2020, 6, 30), False),
        (date(2015, 1, 1), False),
        (date(2025, 7, 2), True),  # dated after the day: still counted, never let through
    ],
)
def test_violations_count_for_five_years(
    registries: Registries, violation: date, counted: bool
) -> None:
    registries.add_record(flag("violation-5y", violation))
    assert registries.record_flags("P1", "USA", ON) == (["violation-5y"] if counted else [])


def test_five_years_from_a_leap_day(registries: Registries) -> None:
    registries.add_record(flag("violation-5y", date(2019, 2, 28)))
    assert registries.record_flags("P1", "USA", date(2024, 2, 29)) == ["violation-5y"]
    assert registries.record_flags("P1", "USA", date(2024, 3, 1)) == []


def test_flags_are_listed_once_in_a_fixed_order(registries: Registries) -> None:
    registries.add_record(flag("violation-5y", date(2024, 1, 1)))
    registries.add_record(flag("violation-5y", date(2023, 1, 1)))
    registries.add_record(flag("barred", date(2024, 2, 1)))
    assert registries.record_flags("P1", "USA", ON) == ["barred", "violation-5y"]


# --- the feed endpoints -------------------------------------------------------------------------


@pytest.fixture
async def app_client(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running(make_settings(tmp_path), embedded_redis) as pair:
        yield pair


VISA_BODY = {
    "document_number": "E1234567",
    "nationality": "CAN",
    "type": "L",
    "valid_from": "2025-01-01",
    "valid_until": "2025-12-31",
    "entries_left": 1,
    "source": "NIA feed 2025-01-01",
}
RECORD_BODY = {
    "document_number": "E1234567",
    "nationality": "CAN",
    "flag": "violation-5y",
    "date": "2022-03-04",
    "source": "overstay, Tianjin EEB case 17",
}


async def test_post_visa_then_lookup(app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    created = await client.post("/v1/registry/visas", json=VISA_BODY)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "created"
    again = await client.post("/v1/registry/visas", json=VISA_BODY)
    assert (again.status_code, again.json()["status"]) == (200, "unchanged")
    used = await client.post("/v1/registry/visas", json={**VISA_BODY, "entries_left": 0})
    assert (used.status_code, used.json()["status"]) == (200, "updated")
    found = app.state.registries.find_visa("E1234567", "CAN", ON)
    assert found.entries_left == 0


async def test_post_record_then_lookup(app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    with structlog.testing.capture_logs() as logs:
        created = await client.post("/v1/registry/records", json=RECORD_BODY)
    assert created.status_code == 201, created.text
    assert "E1234567" not in repr(logs)
    assert app.state.registries.record_flags("E1234567", "CAN", ON) == ["violation-5y"]
    assert app.state.registries.record_flags("E1234567", "CAN", date(2027, 3, 5)) == []


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("visas", {**VISA_BODY, "valid_until": "2024-12-31"}, "body"),
        ("visas", {**VISA_BODY, "nationality": "XYZ"}, "nationality"),
        ("visas", {**VISA_BODY, "entries_left": -1}, "entries_left"),
        ("visas", {**VISA_BODY, "entries_left": "1"}, "entries_left"),
        ("visas", {**VISA_BODY, "type": ""}, "type"),
        ("visas", {**VISA_BODY, "valid_from": "yesterday"}, "valid_from"),
        ("records", {**RECORD_BODY, "flag": "suspicious"}, "flag"),
        ("records", {**RECORD_BODY, "source": ""}, "source"),
        ("records", {**RECORD_BODY, "document_number": "E 123"}, "document_number"),
        ("records", {**RECORD_BODY, "note": "x"}, "note"),
    ],
)
async def test_invalid_entries_are_422(
    app_client: tuple[FastAPI, httpx.AsyncClient], path: str, body: dict[str, Any], loc: str
) -> None:
    app, client = app_client
    response = await client.post(f"/v1/registry/{path}", json=body)
    assert response.status_code == 422
    assert loc in [d["loc"][-1] for d in response.json()["detail"]]
    assert "E1234567" not in response.text
    assert counts(app.state.records) == (0, 0)


# --- the seed loader ----------------------------------------------------------------------------


def test_seed_loading_is_idempotent(tmp_path: Path, store: RecordsStore) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(SEED_YAML, encoding="utf-8")
    first = load_seed(store, path)
    assert (first.created, first.updated, first.unchanged) == (4, 0, 0)
    second = load_seed(store, path)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 4)
    assert counts(store) == (2, 2)
    registries = Registries(store)
    assert registries.record_flags("R1000001", "GBR", ON) == ["barred"]
    assert registries.record_flags("R1000002", "FRA", ON) == ["violation-5y"]
    found = registries.find_visa("V1000002", "D", ON)
    assert found is not None
    assert found.type == "M"


def test_seed_accepts_json(tmp_path: Path, store: RecordsStore) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"visas": [VISA_BODY], "records": [RECORD_BODY]}), "utf-8")
    summary = load_seed(store, path)
    assert summary.created == 2
    assert counts(store) == (1, 1)


def test_invalid_seed_writes_nothing(tmp_path: Path, store: RecordsStore) -> None:
    path = tmp_path / "seed.json"
    bad = {"visas": [VISA_BODY, {**VISA_BODY, "nationality": "XYZ"}]}
    path.write_text(json.dumps(bad), "utf-8")
    with pytest.raises(ValueError, match=r"visas\.1\.nationality") as info:
        load_seed(store, path)
    assert "E1234567" not in str(info.value)
    assert counts(store) == (0, 0)
    with pytest.raises(ValueError, match="cannot read"):
        load_seed(store, tmp_path / "missing.yaml")


async def test_seed_file_setting_loads_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(SEED_YAML, encoding="utf-8")
    monkeypatch.setenv("BORDERGATE_REGISTRY_SEED_FILE", str(path))
    settings = make_settings(tmp_path)
    for _ in range(2):  # a restart loads it again without duplicates
        async with running(settings, embedded_redis) as (app, _):
            assert app.state.registries.record_flags("R1000001", "GBR", ON) == ["barred"]
            assert counts(app.state.records) == (2, 2)


def test_shipped_demo_seed_loads(store: RecordsStore) -> None:
    path = Path(registries_package.__file__).parent / "data" / "demo_seed.yaml"
    assert load_seed(store, path).created == 6
    registries = Registries(store)
    assert registries.record_flags("DR0000003", "DEU", ON) == ["violation-5y"]
    dv = registries.find_visa("DV0000001", "USA", ON)
    assert dv is not None
    assert dv.entries_left == 2
