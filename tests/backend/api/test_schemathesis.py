"""Schemathesis against the backend's own OpenAPI schema, in-process, signed in.

The app runs on fakeredis and a tmp SQLite file. Staff APIs get an admin's session cookie (the
admin role may call every staff API) and the console's CSRF header; kiosk APIs get a device
token registered for the body's hall and lane, so generated requests reach the handlers instead
of stopping at 401/403.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python import asgi

from backend.app import create_app
from backend.auth.devices import DeviceError, register_device
from backend.auth.roles import Role
from backend.auth.sessions import SESSION_COOKIE
from backend.records.store import RecordsStore
from backend.referrals.api import CONSOLE_HEADER
from bordergate.clearance_api import DECISION_BUDGET_HEADER
from tests.auth_helpers import TEST_PASSWORD, add_user, device_token, feed_scope_of, feed_token
from tests.backend.conftest import make_settings
from tests.conftest import ReliabilityCase
from tests.schema_fuzz import Case, fuzz_schema

MAX_EXAMPLES = 15  # per operation and mode (valid and invalid input)
KIOSK_PATHS = ("/v1/clearances", "/v1/referrals", "/v1/referrals/{referral_id}/photos")
DEFAULT_LANE = ("airport", "A-01")
# Country fields are validated against the ICAO list, which the schema only gives as a pattern:
# valid cases draw real codes so they reach the handlers instead of stopping at 422.
COUNTRY_FIELDS = ("nationality", "issuing_state")
COUNTRIES = ("CHN", "USA", "GBR", "D", "FRA", "JPN", "KOR", "RUS", "AUS", "HKG", "NOR", "UTO")


def _real_countries(value: Any, rng: random.Random) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in COUNTRY_FIELDS and isinstance(item, str):
                value[key] = rng.choice(COUNTRIES)
            else:
                _real_countries(item, rng)
    elif isinstance(value, list):
        for item in value:
            _real_countries(item, rng)


FOREIGN = tuple(c for c in COUNTRIES if c not in ("CHN", "HKG"))
LICENCE = "L-TJ-CJ00001"  # a licensed agency in the shipped agencies file


def tune(case: Case, rng: random.Random) -> Case:
    body: Any = case.body
    if case.operation.path == "/v1/manifests" and isinstance(body, dict):
        # A licensed agency's ship due in two days: the manifest reaches the store.
        now = datetime.now(UTC)
        body["agency_licence"] = LICENCE
        body["arrival"] = (now + timedelta(days=2)).isoformat()
        body["departs_china"] = (now + timedelta(days=5)).isoformat()
        for group in body.get("groups") or []:
            for member in group.get("members") or []:
                member["nationality"] = rng.choice(FOREIGN)
        return case
    if case.operation.path == "/v1/clearances" and case.headers:
        # A budget shorter than a decision takes is answered 503 decision_late by design (the
        # kiosk has referred by then; tests/backend/api/test_clearances.py): give the generated
        # ones time, so the fuzzing reaches the decision.
        budget = case.headers.get(DECISION_BUDGET_HEADER)
        if isinstance(budget, str) and budget.isdigit() and 1 <= int(budget) < 2000:
            case.headers[DECISION_BUDGET_HEADER] = "2000"
    _real_countries(body, rng)
    return case


class Kiosks:
    """A device token per (hall, lane) named in a body, registered on first use."""

    def __init__(self, store: RecordsStore) -> None:
        self.store = store
        self.tokens: dict[tuple[str, str], str] = {}

    def token_for(self, case: Case) -> str:
        lane = DEFAULT_LANE
        body = case.body
        if isinstance(body, dict) and isinstance(body.get("hall"), str):
            lane = (str(body["hall"]), str(body.get("lane_id")))
        if lane not in self.tokens:
            try:
                self.tokens[lane] = device_token(self.store, *lane)
            except DeviceError:  # a hall or lane id the schema refuses anyway
                return self.token_for_default()
        return self.tokens[lane]

    def token_for_default(self) -> str:
        if DEFAULT_LANE not in self.tokens:
            self.tokens[DEFAULT_LANE] = device_token(self.store, *DEFAULT_LANE)
        return self.tokens[DEFAULT_LANE]


@pytest.fixture
def backend_app(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(make_settings(tmp_path), embedded_redis=fakeredis.FakeServer())
    try:
        yield app
    finally:
        # schemathesis keeps an app's lifespan running until told; stop ours (records, tasks).
        asgi.shutdown_lifespans()


def _order(label: str) -> int:
    # Signing out ends the session every other staff call uses: it goes last.
    return 1 if label == "POST /v1/auth/logout" else 0


@pytest.mark.slow
@pytest.mark.reliability("hostile")
def test_every_backend_operation_survives_generated_input(
    backend_app: FastAPI, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        f"schemathesis: {MAX_EXAMPLES} schema-valid and {MAX_EXAMPLES} schema-invalid generated "
        "requests per backend OpenAPI operation: staff APIs signed in as an admin from the "
        "same origin, kiosk APIs with a device token for the body's lane, feeds with a feed "
        "client token"
    )
    started = time.perf_counter()
    with asgi.get_client(backend_app) as client:  # type: ignore[arg-type]  # starts the lifespan
        store: RecordsStore = backend_app.state.records
        add_user(store, "fuzz-admin", Role.ADMIN)
        signed_in = client.post(
            "/v1/auth/login", json={"username": "fuzz-admin", "password": TEST_PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        session = {SESSION_COOKIE: str(signed_in.cookies[SESSION_COOKIE])}
        client.cookies.clear()  # sent per case below
        kiosks = Kiosks(store)
        # Existing resources, so valid cases also reach past "not found".
        opened = client.post(
            "/v1/referrals",
            json={"request_id": str(uuid.uuid4()), "reasons": ["timeout"]},
            headers={"Authorization": f"Bearer {kiosks.token_for_default()}"},
        )
        assert opened.status_code == 201, opened.text
        spare = register_device(store, hall="airport", lane_id="SPARE-1", actor="test")
        known_ids = {
            "referral_id": opened.json()["referral_id"],
            "device_id": spare.device.device_id,
        }

        feeds: dict[str, str] = {}

        def credentials(case: Case) -> tuple[dict[str, str], dict[str, str]]:
            path = case.operation.path
            if path in KIOSK_PATHS and case.method.upper() in ("POST", "PUT"):
                return {"Authorization": f"Bearer {kiosks.token_for(case)}"}, {}
            if (scope := feed_scope_of(path)) is not None:
                if scope not in feeds:
                    feeds[scope] = feed_token(store, scope)
                return {"Authorization": f"Bearer {feeds[scope]}"}, {}
            # The console's own page: same-origin, with its header.
            return {CONSOLE_HEADER: "1", "Sec-Fetch-Site": "same-origin"}, session

        schema = schemathesis.openapi.from_asgi("/openapi.json", backend_app)
        run = fuzz_schema(
            schema,
            client,
            credentials,
            max_examples=MAX_EXAMPLES,
            order=_order,
            tune=tune,
            known_ids=known_ids,
        )
    elapsed = time.perf_counter() - started

    reliability_case.measured("operations", len(run.operations))
    reliability_case.measured("requests", run.examples)
    reliability_case.measured("run time", round(elapsed, 1), "s")
    reliability_case.measured("statuses", json.dumps(dict(sorted(run.statuses.items()))))
    reliability_case.asserts(
        "no 5xx; every status code, content type and body is the one the schema documents; "
        "every schema-invalid request is refused with a 4xx"
    )
    assert len(run.operations) >= 25, run.operations
    assert not run.failures, run.summary()
    assert 500 not in run.statuses
