"""Hostile manifests: the body parser, the store behind it and the agencies file loader.

A manifest body is a ``ManifestIn`` or a pydantic ``ValidationError``; a valid one is stored or
refused with the service's documented errors; the agencies file loads or raises ``ValueError``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from backend.cruise.agencies import AgencyRegistry, load_agencies
from backend.cruise.models import ManifestIn
from backend.cruise.service import (
    AgencyNotLicensedError,
    CruiseService,
    ManifestTooLateError,
)
from backend.cruise.store import ConflictingMembersError
from backend.records.store import RecordsStore
from tests.backend.cruise.conftest import AGENCIES_YAML, manifest_body
from tests.conftest import ReliabilityCase
from tests.fuzzing import bounded, json_values

EXAMPLES = 250
STORE_EXAMPLES = 120
FILE_EXAMPLES = 150

pytestmark = pytest.mark.reliability("hostile")


PATHS = [
    ("ship",),
    ("ship", "code"),
    ("voyage",),
    ("port",),
    ("arrival",),
    ("departs_china",),
    ("agency_licence",),
    ("groups",),
    ("groups", 0, "group_id"),
    ("groups", 0, "members"),
    ("groups", 0, "members", 0),
    ("groups", 0, "members", 0, "nationality"),
    ("groups", 0, "members", 1, "document_number"),
    ("groups", 1, "members", 0, "surname"),
]
instants = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
).map(lambda d: d.isoformat())
values = st.one_of(
    json_values,
    instants,
    st.sampled_from(["CHN", "HKG", "D", "DEU", "ZZZ", "X1000001", "", "<", "L-TJ-CJ00090"]),
)


def _set(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = body
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict) or (
        isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node)
    ):
        node[path[-1]] = value  # type: ignore[index]


def _mutated(changes: list[tuple[tuple[str | int, ...], Any]]) -> dict[str, Any]:
    body = manifest_body()
    for path, value in changes:
        _set(body, path, value)
    return body


mutated_bodies = st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=4).map(
    _mutated
)


def test_manifest_bodies_parse_or_are_refused(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{EXAMPLES} manifest bodies (hypothesis): raw bytes, any JSON value, and a valid "
        "manifest with 1-4 fields (ship, voyage, dates, licence, groups, members, nationality, "
        "document numbers) replaced by any JSON value, instants in years 1-9999, Chinese or "
        "unknown nationalities, duplicates"
    )
    seen = {"valid": 0, "refused": 0}

    @bounded(EXAMPLES)
    @given(
        raw=st.one_of(
            st.binary(max_size=200),
            json_values.map(lambda v: json.dumps(v).encode()),
            mutated_bodies.map(lambda b: json.dumps(b).encode()),
        )
    )
    def fuzz(raw: bytes) -> None:
        try:
            ManifestIn.model_validate_json(raw)
        except ValidationError as exc:
            count = exc.error_count()
        else:
            seen["valid"] += 1
            return
        assert count > 0
        seen["refused"] += 1

    fuzz()
    reliability_case.measured("bodies valid", seen["valid"])
    reliability_case.measured("bodies refused with ValidationError", seen["refused"])
    reliability_case.asserts(
        "ManifestIn parses a body or raises pydantic's ValidationError (the API's 422); "
        "nothing else"
    )
    assert seen["valid"]
    assert seen["refused"]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CruiseService]:
    agencies_file = tmp_path / "agencies.yaml"
    agencies_file.write_text(AGENCIES_YAML)
    store = RecordsStore(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    store.ensure_schema()
    try:
        yield CruiseService(store, load_agencies(agencies_file))
    finally:
        store.dispose()


LICENCES = ["L-TJ-CJ00001", "L-TJ-CJ00002", "L-TJ-CJ00090", "L-TJ-CJ00091", "L-TJ-CJ00092"]
stored_manifests = st.builds(
    lambda arrival, stay, licence, voyage, docs: _manifest(arrival, stay, licence, voyage, docs),
    arrival=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 20), timezones=st.just(UTC)
    ),
    stay=st.integers(1, 10_000),
    licence=st.sampled_from(LICENCES),
    voyage=st.sampled_from(["V1", "V2"]),
    docs=st.lists(st.sampled_from(["A1", "A2", "A3", "B1", "B2", "C9"]), min_size=2, max_size=4),
)


def _manifest(
    arrival: datetime, stay_min: int, licence: str, voyage: str, docs: list[str]
) -> ManifestIn | None:
    body = copy.deepcopy(manifest_body())
    departs = arrival + timedelta(minutes=stay_min)
    body.update(
        arrival=arrival.isoformat(),
        departs_china=departs.isoformat(),
        agency_licence=licence,
        voyage=voyage,
    )
    unique = list(dict.fromkeys(docs))
    if len(unique) < 2:
        return None
    body["groups"] = [
        {
            "group_id": "G1",
            "members": [{"document_number": d, "nationality": "USA"} for d in unique],
        }
    ]
    return ManifestIn.model_validate(body)


def test_valid_manifests_are_stored_or_refused_with_a_reason(
    service: CruiseService, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        f"{STORE_EXAMPLES} schema-valid manifests submitted in turn to one store (hypothesis): "
        "arrivals from year 1 to 9999, stays up to a week, licences valid, expired, revoked and "
        "not yet valid, overlapping travellers across agencies and voyages; each stored one is "
        "then looked up for a traveller at its arrival"
    )
    seen = {"stored": 0, "refused": 0, "found": 0}
    refusals = (AgencyNotLicensedError, ManifestTooLateError, ConflictingMembersError)

    @bounded(STORE_EXAMPLES)
    @given(manifest=stored_manifests)
    def fuzz(manifest: ManifestIn | None) -> None:
        if manifest is None:
            return
        try:
            result = service.submit(manifest)
        except refusals:
            seen["refused"] += 1
            return
        assert result.receipt.members == manifest.member_count
        seen["stored"] += 1
        member = manifest.groups[0].members[0]
        match = service.find_cruise_passenger(
            member.document_number, member.nationality, manifest.arrival
        )
        seen["found"] += match is not None

    fuzz()
    reliability_case.measured("manifests stored", seen["stored"])
    reliability_case.measured("manifests refused (licence, lead time, conflict)", seen["refused"])
    reliability_case.measured("stored travellers found at their arrival", seen["found"])
    reliability_case.asserts(
        "submit stores the manifest or raises AgencyNotLicensedError, ManifestTooLateError or "
        "ConflictingMembersError; the lookup answers for any stored arrival; nothing else raises"
    )
    assert seen["stored"]
    assert seen["refused"]


agency_files = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda entries: json.dumps({"agencies": entries}).encode(),
        st.lists(
            st.fixed_dictionaries(
                {
                    "licence": st.one_of(st.sampled_from(LICENCES), st.text(max_size=12)),
                    "name": st.text(max_size=12),
                    "valid_from": st.one_of(st.dates().map(str), json_values),
                    "valid_until": st.one_of(st.dates().map(str), json_values),
                },
                optional={"revoked": st.one_of(st.booleans(), json_values)},
            ),
            max_size=4,
        ),
    ),
    st.just(AGENCIES_YAML.encode()),
)


def test_agencies_file_loads_or_raises_value_error(
    tmp_path: Path, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        f"{FILE_EXAMPLES} agencies files (hypothesis): random bytes, any JSON value, agency lists "
        "with any licence, name, dates and revoked flag; and YAML nested 50 and 5,000 deep "
        "(past the interpreter's recursion limit)"
    )
    seen = {"loaded": 0, "refused": 0}
    path = tmp_path / "agencies.yaml"

    @bounded(FILE_EXAMPLES)
    @given(content=agency_files)
    def fuzz(content: bytes) -> None:
        path.write_bytes(content)
        try:
            registry = load_agencies(path)
        except ValueError as exc:
            reason = str(exc)
        else:
            assert isinstance(registry, AgencyRegistry)
            seen["loaded"] += 1
            return
        assert reason
        seen["refused"] += 1

    fuzz()
    for depth in (50, 5_000):  # parsing recursion: slow to hit, so a few fixed cases
        path.write_bytes(b"[" * depth + b"]" * depth)
        with pytest.raises(ValueError, match="agencies file"):
            load_agencies(path)
    reliability_case.measured("files loaded", seen["loaded"])
    reliability_case.measured("files refused with ValueError", seen["refused"])
    reliability_case.asserts(
        "load_agencies returns the registry or raises ValueError saying why (the backend then "
        "refuses to start); nothing else"
    )
    assert seen["loaded"]
    assert seen["refused"]
