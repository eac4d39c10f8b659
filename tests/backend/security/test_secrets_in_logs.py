"""No password, session token, device or feed token (nor their hashes) ever reaches the logs."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select

from backend.audit.tables import AuditEntry
from backend.auth.feeds import FeedScope
from backend.auth.roles import Role
from backend.auth.sessions import SESSION_COOKIE
from bordergate.logging import configure_logging
from tests.access_world import ORIGIN, access_world
from tests.auth_helpers import add_user
from tests.backend.conftest import clearance_body
from tests.conftest import ReliabilityCase

PASSWORD = "Vermilion-Sparrow-4417"
WRONG_PASSWORD = "Cobalt-Heron-9921"


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """The process's logs, as ``configure_logging`` sets them up at DEBUG (the most a deployment
    could log), written to a buffer; the previous set-up is restored afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("DEBUG", json=True)
    buffer = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    root.handlers[:] = [logging.StreamHandler(buffer)]
    try:
        yield buffer
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@pytest.mark.reliability("security")
def test_secrets_never_reach_the_logs(
    tmp_path: Path, debug_logs: io.StringIO, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "the process's logs at DEBUG (structlog and the standard library) over a "
        "sign-in, a failed sign-in, a device registration through the admin API, a clearance "
        "and a referral with that device token, a schedule posted with a feed token and a "
        "sign-out"
    )
    reliability_case.asserts(
        "neither password, nor the session token, the device token or the feed token, nor the "
        "sha256 of any token (what Redis and the database keep) appears in the logs or in the "
        "audit trail"
    )
    with access_world(tmp_path) as world:
        store = world.app.state.records
        add_user(store, "li.na", Role.ADMIN, password=PASSWORD)
        debug_logs.seek(0)
        debug_logs.truncate()  # from here on, everything is examined
        client = world.client
        client.headers["Origin"] = ORIGIN
        failed = client.post(
            "/v1/auth/login", json={"username": "li.na", "password": WRONG_PASSWORD}
        )
        assert failed.status_code == 401
        signed = client.post("/v1/auth/login", json={"username": "li.na", "password": PASSWORD})
        assert signed.status_code == 200
        session = signed.cookies[SESSION_COOKIE]
        registered = client.post("/v1/devices", json={"hall": "airport", "lane_id": "A-09"})
        assert registered.status_code == 201
        device = registered.json()["token"]
        client.cookies.clear()
        kiosk = {"Authorization": f"Bearer {device}"}
        cleared = client.post("/v1/clearances", json=clearance_body(lane_id="A-09"), headers=kiosk)
        assert cleared.status_code == 200, cleared.text
        refused = client.post(
            "/v1/clearances", json=clearance_body(lane_id="A-01"), headers=kiosk
        )  # another lane's: 403, logged
        assert refused.status_code == 403
        feed = world.feeds[FeedScope.SCHEDULES]
        posted = client.post(
            "/v1/schedules", json={"arrivals": []}, headers={"Authorization": f"Bearer {feed}"}
        )
        assert posted.status_code == 422
        client.cookies.set(SESSION_COOKIE, session)
        assert client.post("/v1/auth/logout").status_code == 204
        logs = debug_logs.getvalue()
        with store.session() as db:
            audit = [
                f"{e.actor} {e.subject} {e.detail}"
                for e in db.execute(select(AuditEntry)).scalars()
            ]
    assert "http.request" in logs  # the capture did see the request log lines
    assert "li.na" in "\n".join(audit)
    secrets = {
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "session token": session,
        "session token sha256": _sha(session),
        "device token": device,
        "device token sha256": _sha(device),
        "feed token": feed,
        "feed token sha256": _sha(feed),
    }
    leaked = {name for name, value in secrets.items() if value in logs}
    assert leaked == set(), f"in the logs: {sorted(leaked)}"
    in_audit = {name for name, value in secrets.items() if value in "\n".join(audit)}
    assert in_audit == set(), f"in the audit trail: {sorted(in_audit)}"
    reliability_case.measured("log bytes examined", len(logs))
