"""PostgreSQL stopped and restarted (or frozen and thawed) under a backend serving clearances.

Real processes: a PostgreSQL server of this test's own (tests/postgres.py), the ``redis_url``
fixture's redis-server, and ``bordergate backend`` on both. Three device-less kiosks (``ApiKiosk``:
the kiosk's own client and its fail-closed mapping) ask for decisions without pause while the
database is shut down (a fast shutdown, or an immediate one: as a crash, with WAL recovery at the
next start), kept down for a few seconds, and started again on the same port and data folder; or
while every PostgreSQL process is stopped with SIGSTOP (a hung database: connections stay open,
nothing answers) and then continued. The backend is never restarted: it must notice the database
is back on its own (pool pre-ping).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
import sqlalchemy as sa

from backend.audit.chain import _PG_LOCK_KEY
from bordergate.contracts import STREAM_CLEARANCES, ClearanceOutcome, Hall, Outcome, ReasonCode
from tests.auth_helpers import register_device_for
from tests.conftest import REPO_ROOT, ReliabilityCase, free_port
from tests.postgres import PostgresServer, StopMode
from tests.processes import part_env, start_part, stop_part, wait_http_ok
from tests.reliability.cluster import (
    ApiKiosk,
    KioskOutcome,
    log_events,
    percentile,
    stream_events,
    wait_until,
)

LANES = ("P1", "P2", "P3")
WARM_UP_DECISIONS = 3  # per kiosk, before the fault
OUTAGE_S = 5.0  # over two kiosk budgets: some requests start and end inside it
AFTER_S = 3.0
RECOVERY_LIMIT_S = 15.0
KIOSK_BUDGET_S = 2.0  # a kiosk's time budget for one decision (the kiosk's default)
NO_DECISION = {ReasonCode.BACKEND_UNAVAILABLE, ReasonCode.BACKEND_ERROR}


@dataclass(frozen=True)
class Timed:
    """One traveller at one kiosk, with when the kiosk asked and when it had its answer."""

    sent: float
    done: float
    outcome: KioskOutcome

    @property
    def decided(self) -> bool:
        return self.outcome.clearance_id is not None


async def keep_serving(kiosk: ApiKiosk, stop: asyncio.Event, out: list[Timed]) -> None:
    """Travellers one after another until ``stop`` (every fourth a face mismatch: a referral)."""
    n = 0
    while not stop.is_set():
        n += 1
        sent = time.monotonic()
        outcome = await kiosk.traveller(match=n % 4 != 0)
        out.append(Timed(sent, time.monotonic(), outcome))
        await asyncio.sleep(0.02)


async def poll_ready(url: str, stop: asyncio.Event, out: list[tuple[float, float, int]]) -> None:
    """``/readyz`` every 0.1 s: (sent, answered, status)."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        while not stop.is_set():
            sent = time.monotonic()
            try:
                status = (await client.get(f"{url}/readyz")).status_code
            except httpx.HTTPError:
                status = 0
            out.append((sent, time.monotonic(), status))
            await asyncio.sleep(0.1)


def audit_verify(database_url: str, log: Path) -> tuple[int, dict[str, object]]:
    """``bordergate audit verify --json`` as an operator runs it, against ``database_url``."""
    with log.open("ab") as err:
        result = subprocess.run(
            [sys.executable, "-m", "bordergate.cli", "audit", "verify", "--json"],
            cwd=REPO_ROOT,
            env=part_env(BORDERGATE_DATABASE_URL=database_url),
            stdout=subprocess.PIPE,
            stderr=err,
            timeout=60,
            check=False,
        )
    return result.returncode, json.loads(result.stdout)


@dataclass
class Run:
    """One run: the database, the backend on it, the kiosks and a /readyz poller."""

    pg: PostgresServer
    database: str
    backend: subprocess.Popen[bytes]
    backend_url: str
    backend_log: Path
    kiosks: list[ApiKiosk]
    timed: list[Timed] = field(default_factory=list)
    ready: list[tuple[float, float, int]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return self.pg.url(self.database)

    def begin(self) -> None:
        self.tasks = [
            asyncio.create_task(keep_serving(k, self.stop, self.timed)) for k in self.kiosks
        ]
        self.tasks.append(asyncio.create_task(poll_ready(self.backend_url, self.stop, self.ready)))

    async def warm_up(self) -> None:
        """Serve until every kiosk has had decisions (a loaded machine starts slowly)."""
        await asyncio.to_thread(
            wait_until,
            lambda: all(
                sum(t.decided and t.outcome.traveller_ref.startswith(k.lane) for t in self.timed)
                >= WARM_UP_DECISIONS
                for k in self.kiosks
            ),
            60,
        )

    async def recover(self, up: float) -> None:
        """Wait for a decision asked for after ``up`` (asserted later), then serve a while."""
        with contextlib.suppress(TimeoutError):
            await asyncio.to_thread(
                wait_until,
                lambda: any(t.decided and t.sent >= up for t in self.timed),
                RECOVERY_LIMIT_S,
            )
        await asyncio.sleep(AFTER_S)
        self.stop.set()
        await asyncio.gather(*self.tasks)
        assert self.backend.poll() is None, "the backend exited during the outage"

    def failures(self) -> Counter[str]:
        """Store operations the backend logged as failed (records.unavailable), by name."""
        events = log_events(self.backend_log, "records.unavailable")
        return Counter(str(e.get("operation")) for e in events)


@contextlib.asynccontextmanager
async def serving(pg: PostgresServer, redis_url: str, tmp_path: Path) -> AsyncIterator[Run]:
    """Start PostgreSQL, register the kiosks, start ``bordergate backend``; stop it all after."""
    pg.start()
    database = pg.create_database()
    database_url = pg.url(database)
    tokens = {lane: register_device_for(database_url, "airport", lane) for lane in LANES}
    port = free_port()
    backend_url = f"http://127.0.0.1:{port}"
    env = part_env(
        REDIS_URL=redis_url,
        BORDERGATE_DATABASE_URL=database_url,
        BORDERGATE_PORT=str(port),
        BORDERGATE_OUTBOX_REPLAY_INTERVAL_S="0.5",
        BORDERGATE_OUTBOX_REPLAY_GRACE_S="1.0",
    )
    log = tmp_path / "backend.log"
    backend = start_part(["backend"], env, log)
    kiosks = [
        ApiKiosk(
            backend_url,
            tokens[lane],
            redis_url,
            hall=Hall.AIRPORT,
            lane=lane,
            timeout_s=KIOSK_BUDGET_S,
        )
        for lane in LANES
    ]
    run = Run(pg, database, backend, backend_url, log, kiosks)
    try:
        await asyncio.to_thread(wait_http_ok, f"{backend_url}/readyz", backend)
        run.begin()
        yield run
    finally:
        run.stop.set()
        for task in run.tasks:
            task.cancel()
        await asyncio.gather(*run.tasks, return_exceptions=True)
        for k in kiosks:
            await k.aclose()
        stop_part(backend)


def assert_no_gate_without_a_decision(timed: list[Timed]) -> None:
    """Whatever failed, anywhere in the run, the kiosk referred (as it does with no decision)."""
    for t in timed:
        if not t.decided:
            assert t.outcome.outcome is Outcome.REFER
            assert set(t.outcome.reasons) <= NO_DECISION


@dataclass(frozen=True)
class Kept:
    answered: int
    recorded: int
    audit_entries: int

    @property
    def unanswered_on_record(self) -> int:
        return self.recorded - self.answered


async def assert_kept(run: Run, redis_url: str, tmp_path: Path) -> Kept:
    """Every answer a kiosk got is on record once, with its outbox row, referral, audit entry
    and stream event; nothing is half-written; the chain verifies."""
    engine = sa.create_engine(run.database_url)
    try:

        def published_all() -> bool:
            with engine.connect() as conn:
                n = conn.execute(
                    sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                ).scalar_one()
            return bool(n == 0)

        await asyncio.to_thread(wait_until, published_all, 15)
        with engine.connect() as conn:

            def column(sql: str) -> list[str]:
                return [str(v) for (v,) in conn.execute(sa.text(sql))]

            rows = conn.execute(
                sa.text("SELECT request_id, clearance_id, outcome FROM clearances")
            ).all()
            outbox_rows = conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one()
            referred = Counter(column("SELECT clearance_id FROM referrals"))
            audited = Counter(column("SELECT subject FROM audit_log WHERE kind = 'clearance'"))
            audit_total = conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
    finally:
        engine.dispose()
    recorded = {uuid.UUID(str(r[0])): (uuid.UUID(str(r[1])), str(r[2])) for r in rows}
    assert len(recorded) == len(rows)  # one row per request_id
    answered = [t.outcome for t in run.timed if t.decided]
    for o in answered:  # every answer the kiosks were given is on record, exactly once
        assert recorded.get(o.request_id) == (o.clearance_id, str(o.outcome)), o
    # Nothing half-written: each record has its outbox row, its audit entry and (if referred)
    # its referral, and none of those exists without its record.
    clearance_ids = {str(c) for c, _ in recorded.values()}
    referral_ids = {str(c) for c, outcome in recorded.values() if outcome == "refer"}
    assert outbox_rows == len(rows)
    assert set(audited) == clearance_ids
    assert max(audited.values()) == 1
    assert set(referred) == referral_ids
    assert max(referred.values(), default=1) == 1

    code, verdict = await asyncio.to_thread(audit_verify, run.database_url, tmp_path / "verify.log")
    assert code == 0, verdict
    assert verdict == {"intact": True, "entries": audit_total, "first_broken_seq": None,
                       "reason": None}  # fmt: skip

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        events = stream_events(client, STREAM_CLEARANCES)
    finally:
        client.close()
    published = Counter(e.clearance_id for e in events if isinstance(e, ClearanceOutcome))
    assert set(published) == clearance_ids
    assert max(published.values()) == 1
    return Kept(answered=len(answered), recorded=len(rows), audit_entries=audit_total)


KEPT = (
    "every decision a kiosk received is in the records store exactly once with the same "
    "clearance id and outcome; every record has exactly one outbox row, audit entry, stream "
    "event and (if referred) referral, and none of those exists without its record; "
    "`bordergate audit verify` finds the hash chain intact"
)


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.reliability("faults")
@pytest.mark.parametrize("shutdown", ["fast", "immediate"], ids=["fast-shutdown", "crash"])
async def test_postgres_stopped_and_restarted_under_clearances(
    shutdown: StopMode,
    postgres_process: PostgresServer,
    redis_url: str,
    tmp_path: Path,
    reliability_case: ReliabilityCase,
) -> None:
    how = "a fast shutdown" if shutdown == "fast" else "an immediate shutdown (as a crash)"
    reliability_case.injects(
        f"PostgreSQL, the backend's records store, stopped by {how} for {OUTAGE_S:.0f} s while "
        f"{len(LANES)} kiosks ask for clearances without pause, with clearances waiting inside "
        "their transactions at that moment; then started again on the same port and data "
        "folder; the backend process keeps running throughout"
    )
    pg = postgres_process
    async with serving(pg, redis_url, tmp_path) as run:
        await run.warm_up()
        # Hold the audit chain's append lock for a moment first, so the clearances in flight
        # wait inside their transactions (record, outbox row and referral written, audit entry
        # pending) and the shutdown cuts them off there, not only between requests.
        holder = await psycopg.AsyncConnection.connect(pg.conninfo(run.database), autocommit=True)
        await holder.execute("SELECT pg_advisory_lock(%s)", (_PG_LOCK_KEY,))
        await asyncio.sleep(0.3)
        stopping = time.monotonic()
        await asyncio.to_thread(pg.stop, shutdown)
        with contextlib.suppress(psycopg.Error):
            await holder.close()
        down = time.monotonic()
        await asyncio.sleep(OUTAGE_S)
        restarting = time.monotonic()
        await asyncio.to_thread(pg.start)
        up = time.monotonic()  # accepting connections again
        await run.recover(up)

        timed = run.timed
        before = [t for t in timed if t.done < stopping]
        during = [t for t in timed if t.sent >= down and t.done <= restarting]
        after = [t for t in timed if t.sent >= up]
        assert any(t.decided for t in before), "no decisions before the outage"
        assert during, "no traveller asked while the database was down"
        assert not any(t.decided for t in during)
        assert_no_gate_without_a_decision(timed)
        cut_off = run.failures()["record_clearance"]
        assert cut_off >= 1, f"no clearance was cut off inside its transaction: {run.failures()}"
        first_after = min((t.done for t in after if t.decided), default=None)
        assert first_after is not None, f"no decision within {RECOVERY_LIMIT_S} s of the restart"
        assert any(t.outcome.outcome is Outcome.ADMIT for t in after)
        ready_down = [s for sent, done, s in run.ready if sent >= down and done <= restarting]
        assert ready_down
        assert all(s == 503 for s in ready_down), ready_down
        ready_again = min((done for sent, done, s in run.ready if sent >= up and s == 200),
                          default=None)  # fmt: skip
        assert ready_again is not None, "/readyz never came back to 200"
        kept = await assert_kept(run, redis_url, tmp_path)

    reliability_case.asserts(
        "while the database was down every clearance request was refused and the kiosk referred "
        "the traveller (backend-error or backend-unavailable): no decision, no admit, no gate "
        "opened; /readyz answered 503 throughout; the clearances cut off inside their "
        "transaction were rolled back whole"
    )
    reliability_case.asserts(
        "the same backend process answered again once the database was back, without a restart "
        "(pooled connections re-checked before use)"
    )
    reliability_case.asserts(KEPT)
    record_figures(reliability_case, run, kept, outage_s=up - stopping, during=during)
    reliability_case.measured("clearances cut off inside their transaction", cut_off)
    reliability_case.measured("recovery to the first decision", round(first_after - up, 2), "s")
    reliability_case.measured("recovery of /readyz", round(ready_again - up, 2), "s")


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.reliability("faults")
async def test_postgres_frozen_and_thawed_under_clearances(
    postgres_process: PostgresServer,
    redis_url: str,
    tmp_path: Path,
    reliability_case: ReliabilityCase,
) -> None:
    reliability_case.injects(
        f"every PostgreSQL process stopped with SIGSTOP for {OUTAGE_S:.0f} s (a hung database: "
        f"connections stay open, nothing answers) while {len(LANES)} kiosks ask for clearances "
        "without pause, then continued; the backend process keeps running throughout"
    )
    pg = postgres_process
    async with serving(pg, redis_url, tmp_path) as run:
        await run.warm_up()
        frozen = time.monotonic()
        pg.pause()
        await asyncio.sleep(OUTAGE_S)
        thawing = time.monotonic()
        pg.resume()
        await run.recover(thawing)

        timed = run.timed
        before = [t for t in timed if t.done < frozen]
        during = [t for t in timed if t.sent >= frozen and t.done <= thawing]
        after = [t for t in timed if t.sent >= thawing]
        assert any(t.decided for t in before), "no decisions before the freeze"
        assert during, "no traveller asked while the database was frozen"
        assert not any(t.decided for t in during)
        assert {r for t in during for r in t.outcome.reasons} == {ReasonCode.BACKEND_UNAVAILABLE}
        assert max(t.done - t.sent for t in during) < KIOSK_BUDGET_S + 0.5
        assert_no_gate_without_a_decision(timed)
        first_after = min((t.done for t in after if t.decided), default=None)
        assert first_after is not None, f"no decision within {RECOVERY_LIMIT_S} s of the thaw"
        assert any(t.outcome.outcome is Outcome.ADMIT for t in after)
        ready_frozen = [s for sent, done, s in run.ready if sent >= frozen + 1 and done <= thawing]
        assert ready_frozen
        assert 200 not in ready_frozen, ready_frozen
        kept = await assert_kept(run, redis_url, tmp_path)
        # Each kiosk sends its remaining budget; the backend checks it just before COMMIT and
        # rolls back what is late. Only a COMMIT already under way when the database froze can
        # land late: at most one per kiosk (each has one request in flight).
        assert kept.unanswered_on_record <= len(LANES)

    reliability_case.asserts(
        "decisions still in flight when the database thawed were rolled back at their deadline "
        "(the kiosk's remaining budget, header X-Decision-Budget-Ms, counted from the "
        "request's arrival); only a COMMIT already under way at the freeze can land after its "
        "kiosk gave up, at most one per kiosk"
    )
    reliability_case.asserts(
        f"while the database hung no kiosk received a decision: each gave up within its "
        f"{KIOSK_BUDGET_S:.0f} s "
        "budget and referred the traveller (backend-unavailable); no gate opened; /readyz never "
        "answered 200"
    )
    reliability_case.asserts(
        "the same backend process answered again once the database continued, without a restart"
    )
    reliability_case.asserts(KEPT)
    record_figures(reliability_case, run, kept, outage_s=thawing - frozen, during=during)
    reliability_case.measured(
        "recovery to the first decision", round(first_after - thawing, 2), "s"
    )


def record_figures(
    case: ReliabilityCase, run: Run, kept: Kept, *, outage_s: float, during: list[Timed]
) -> None:
    latencies = [t.done - t.sent for t in run.timed]
    case.measured("outage", round(outage_s, 2), "s")
    case.measured("requests during the outage", len(during))
    case.measured("answered during the outage", sum(t.decided for t in during))
    case.measured("refused in the whole run", sum(not t.decided for t in run.timed))
    case.measured("answered in the whole run", kept.answered)
    # A clearance committed after its kiosk had given up is on record though the kiosk referred
    # the traveller. The deadline check before COMMIT prevents it when the database is slow; a
    # connection dropped right after COMMIT can still leave one (a record without an admit).
    case.measured(
        "clearances committed after their kiosk had referred the traveller",
        kept.unanswered_on_record,
    )
    case.measured("audit entries", kept.audit_entries)
    case.measured("p99 kiosk latency", round(percentile(latencies, 99) * 1000), "ms")
