"""Too many sign-in attempts lock the account; every failure, refusal and lock is audited."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import fakeredis
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from backend.audit.chain import verify_chain
from backend.audit.tables import AuditEntry
from backend.auth.roles import Role
from backend.auth.sessions import SESSION_COOKIE
from tests.auth_helpers import TEST_PASSWORD, add_user
from tests.backend.conftest import make_settings, running
from tests.conftest import ReliabilityCase

MAX_FAILURES = 5


@pytest.fixture
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with an officer; locks last 1.5 s unless parametrized (indirect) otherwise."""
    lockout_s = float(getattr(request, "param", 1.5))
    cfg = make_settings(tmp_path, login_max_failures=MAX_FAILURES, login_lockout_s=lockout_s)
    async with running(cfg, embedded_redis) as (app, client):
        add_user(app.state.records, "olga", Role.OFFICER)
        yield app, client


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    client.cookies.clear()
    return await client.post("/v1/auth/login", json={"username": username, "password": password})


def _audit(app: FastAPI, subject: str) -> list[AuditEntry]:
    with app.state.records.session() as session:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.seq)
        ).scalars()
        return [r for r in rows if r.kind.startswith(("sign-in", "account-"))]


@pytest.mark.reliability("security")
async def test_failures_lock_the_account_and_each_step_is_audited(
    backend: tuple[FastAPI, httpx.AsyncClient], reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    reliability_case.injects(
        f"{MAX_FAILURES} wrong passwords for an officer through POST /v1/auth/login, then the "
        "right password while locked, then the right password after the lock ran out"
    )
    reliability_case.asserts(
        f"{MAX_FAILURES} x 401 each audited sign-in-failed, the last also account-locked; the "
        "right password is refused 429 with Retry-After and audited sign-in-refused (locked), "
        "no session cookie; after the lock it signs in (audited) and the audit chain verifies"
    )
    for i in range(MAX_FAILURES):
        r = await _login(client, "olga", f"guess-{i}")
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_credentials"
    locked = await _login(client, "olga", TEST_PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["error"] == "account_locked"
    assert int(locked.headers["retry-after"]) >= 1
    assert SESSION_COOKIE not in locked.cookies
    kinds = [e.kind for e in _audit(app, "olga")]
    assert kinds == ["sign-in-failed"] * MAX_FAILURES + ["account-locked", "sign-in-refused"]
    entries = _audit(app, "olga")
    assert entries[MAX_FAILURES].detail["failures"] == MAX_FAILURES
    assert entries[-1].detail["why"] == "locked"
    assert all("client" in e.detail for e in entries)
    await asyncio.sleep(1.6)
    again = await _login(client, "olga", TEST_PASSWORD)
    assert again.status_code == 200
    assert _audit(app, "olga")[-1].kind == "sign-in"
    assert verify_chain(app.state.records) is None


@pytest.mark.reliability("security")
@pytest.mark.parametrize("backend", [300], indirect=True, ids=["lockout-300s"])
async def test_a_burst_of_parallel_guesses_gets_no_more_checks_than_the_limit(
    backend: tuple[FastAPI, httpx.AsyncClient], reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    burst = 30
    reliability_case.injects(f"{burst} wrong-password sign-ins for one officer sent at once")
    reliability_case.asserts(
        f"at most {MAX_FAILURES} passwords are checked; the rest are refused 429 unchecked, "
        "the account is locked once, every attempt is audited, and the right password sent "
        "next is refused"
    )

    async def attempt(password: str) -> int:
        async with httpx.AsyncClient(transport=client._transport, base_url="http://b") as own:
            r = await own.post("/v1/auth/login", json={"username": "olga", "password": password})
            return r.status_code

    statuses = await asyncio.gather(*(attempt(f"guess-{i}") for i in range(burst)))
    counts = Counter(statuses)
    kinds = Counter(e.kind for e in _audit(app, "olga"))
    assert set(counts) <= {401, 429}
    assert kinds["sign-in-failed"] == counts[401] <= MAX_FAILURES
    assert counts[429] >= burst - MAX_FAILURES
    assert kinds["account-locked"] == 1
    assert kinds["sign-in-refused"] == counts[429]
    assert (await attempt(TEST_PASSWORD)) == 429
    reliability_case.measured("passwords checked", kinds["sign-in-failed"])
    reliability_case.measured("attempts refused unchecked", counts[429])


@pytest.mark.reliability("security")
async def test_unknown_usernames_are_locked_and_audited_alike(
    backend: tuple[FastAPI, httpx.AsyncClient], reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    reliability_case.injects(f"{MAX_FAILURES + 1} attempts for a username that does not exist")
    reliability_case.asserts(
        "the same 401 text as a wrong password, then 429: no way to tell which accounts "
        "exist; each attempt audited"
    )
    answers = [await _login(client, "nobody", "guess") for _ in range(MAX_FAILURES + 1)]
    wrong_password = await _login(client, "olga", "guess")
    assert [r.status_code for r in answers] == [401] * MAX_FAILURES + [429]
    assert answers[0].json() == wrong_password.json()
    kinds = [e.kind for e in _audit(app, "nobody")]
    assert kinds == ["sign-in-failed"] * MAX_FAILURES + ["account-locked", "sign-in-refused"]
