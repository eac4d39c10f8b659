"""Schemathesis against the traveller screen's HTTP API (its OpenAPI schema is not served: the
kiosk publishes no docs, so the schema FastAPI builds for the app is loaded directly)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python import asgi

from bordergate.contracts import ReasonCode
from kiosk.screen.app import create_screen_app
from kiosk.screen.hub import ScreenHub
from kiosk.session import SessionState
from tests.conftest import ReliabilityCase
from tests.kiosk.screen.conftest import Updates
from tests.schema_fuzz import Case, fuzz_schema

MAX_EXAMPLES = 25


@pytest.fixture
def screen_app() -> Iterator[FastAPI]:
    hub = ScreenHub()
    zone = ZoneInfo("Asia/Shanghai")
    hub.add_lane("A1", "3", zone)
    referred = hub.add_lane("A2", "4", zone)
    updates = Updates("s-1", "A2")
    updates.nationality = "JPN"
    referred.update(updates.state(SessionState.DOCUMENT))
    referred.update(updates.refer(ReasonCode.FACE_MISMATCH))
    try:
        yield create_screen_app(hub)
    finally:
        asgi.shutdown_lifespans()


def no_credentials(case: Case) -> tuple[dict[str, str], dict[str, str]]:
    return {}, {}  # the traveller's page is open on the kiosk's own loopback


@pytest.mark.slow
@pytest.mark.reliability("hostile")
def test_every_screen_operation_survives_generated_input(
    screen_app: FastAPI, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        f"schemathesis: {MAX_EXAMPLES} schema-valid and {MAX_EXAMPLES} schema-invalid generated "
        "requests per operation of the traveller screen's HTTP API (lanes A1 idle, A2 referred)"
    )
    schema = schemathesis.openapi.from_dict(screen_app.openapi())
    schema.app = screen_app
    with asgi.get_client(screen_app) as client:  # type: ignore[arg-type]
        run = fuzz_schema(
            schema,
            client,
            no_credentials,
            max_examples=MAX_EXAMPLES,
            known_ids={"lane_id": "A2"},
        )
    reliability_case.measured("operations", len(run.operations))
    reliability_case.measured("requests", run.examples)
    reliability_case.measured("statuses", json.dumps(dict(sorted(run.statuses.items()))))
    reliability_case.asserts(
        "no 5xx; every status code, content type and body is the one the schema documents; "
        "every schema-invalid request is refused with a 4xx"
    )
    assert len(run.operations) >= 4, run.operations
    assert not run.failures, run.summary()
    assert run.by_operation["GET /lanes/{lane_id}/view"].get(200), run.by_operation
