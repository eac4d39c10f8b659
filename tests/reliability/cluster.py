"""Real processes for fault tests: a redis-server this test may kill, backend, monitors, kiosks.

    with Cluster(tmp_path, aof=True) as c:
        c.redis.start()
        backend = c.start_backend()
        c.start_monitor("m1")
        kiosk = ApiKiosk(c.backend_url, c.register_device("airport", "S1"), c.redis.url, ...)
        ...
        c.redis.kill()          # SIGKILL; c.redis.start() brings it back on the same port/dir

Every process is started here and stopped here by its PID (SIGTERM, then SIGKILL). Nothing in
this module asserts: the tests do. ``ApiKiosk`` is a kiosk without devices: it asks the backend
through the kiosk's own ``BackendClient`` and maps any failure to "refer", as ``KioskSession``
does, and publishes queue events through the kiosk's own ``EventSpool``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import httpx
import pytest
import redis
import sqlalchemy as sa

from backend.auth.roles import Role
from backend.records.store import RecordsStore
from bordergate.clearance_api import ClearanceRequest, DocumentData, FaceResult
from bordergate.contracts import (
    GROUP_QUEUE_MONITOR,
    STREAM_QUEUE,
    Event,
    Hall,
    Outcome,
    QueueJoined,
    QueueServed,
    ReasonCode,
    decode_event,
)
from bordergate.redis_conn import open_redis
from kiosk.event_spool import EventSpool
from tests.auth_helpers import add_user, device_token
from tests.conftest import free_port
from tests.processes import part_env, start_part, stop_part, wait_http_ok

OFFICER = "officer1"
OFFICER_PASSWORD = "correct horse battery"
# What the console page's fetch sends: its CSRF header, and the browser's same-origin marker.
CONSOLE_HEADERS = {"X-Bordergate-Console": "1", "Sec-Fetch-Site": "same-origin"}


def wait_until(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.1) -> float:
    """Poll ``predicate`` until true; the seconds it took. Raises TimeoutError."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"condition not met within {timeout_s} s")
        time.sleep(step_s)


class RedisServer:
    """A redis-server on a fixed loopback port and data folder, so it can be killed and come
    back where it was (with its AOF, if configured: ``appendonly yes``, ``appendfsync always``)."""

    def __init__(self, workdir: Path, *, aof: bool) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.aof = aof
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else [
            "--appendonly", "no"
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.workdir), *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.starts += 1
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    if client.ping():  # answers only once the AOF is loaded
                        return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown save, clients see their connections reset."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=2.0)


@dataclass
class Cluster:
    """The parts of one fault test, in ``tmp``: a Redis (killable), a SQLite records store."""

    tmp: Path
    aof: bool = False
    redis: RedisServer = field(init=False)
    backend_port: int = field(init=False)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.redis = RedisServer(self.tmp / "redis", aof=self.aof)
        self.backend_port = free_port()

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.tmp / 'records.sqlite3'}"

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"

    def env(self, **extra: str) -> dict[str, str]:
        return part_env(
            REDIS_URL=self.redis.url,
            BORDERGATE_DATABASE_URL=self.database_url,
            BORDERGATE_PORT=str(self.backend_port),
            **extra,
        )

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start(self, name: str, args: list[str], **env: str) -> subprocess.Popen[bytes]:
        proc = start_part(args, self.env(**env), self.log(name))
        self.procs[name] = proc
        return proc

    def start_backend(self, **env: str) -> subprocess.Popen[bytes]:
        """``bordergate backend`` (outbox replay every 0.5 s); returns once /readyz is 200."""
        env = {
            "BORDERGATE_OUTBOX_REPLAY_INTERVAL_S": "0.5",
            "BORDERGATE_OUTBOX_REPLAY_GRACE_S": "1.0",
            **env,
        }
        proc = self.start("backend", ["backend"], **env)
        wait_http_ok(f"{self.backend_url}/readyz", proc)
        return proc

    def start_monitor(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        """``bordergate monitor --consumer-name NAME``, logging JSON at INFO to ``NAME.log``."""
        env = {"BORDERGATE_MONITOR_LOG_LEVEL": "INFO", "BORDERGATE_MONITOR_LOG_JSON": "true", **env}
        return self.start(name, ["monitor", "--consumer-name", name], **env)

    def start_kiosk(
        self, lane: str, *, travellers: int, hall: str = "airport", speed: float = 10.0,
        arrivals_per_min: float = 30.0, token: str, **env: str,
    ) -> subprocess.Popen[bytes]:  # fmt: skip
        """``bordergate kiosk`` with its own simulated travellers; stdout is its JSON summary.
        ``env``: more settings, e.g. ``BORDERGATE_FACE_LIVENESS="false"`` to spare CPU."""
        args = ["kiosk", "--lane", lane, "--hall", hall, "--backend-url", self.backend_url,
                "--speed", str(speed), "--arrivals-per-min", str(arrivals_per_min),
                "--max-travellers", str(travellers)]  # fmt: skip
        return self.start(f"kiosk-{lane}", args, BORDERGATE_DEVICE_TOKEN=token, **env)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        stop_part(self.procs[name])

    def register_device(self, hall: str, lane: str) -> str:
        store = RecordsStore(self.database_url)
        try:
            store.ensure_schema()
            return device_token(store, hall, lane)
        finally:
            store.dispose()

    def add_officer(self, username: str = OFFICER) -> str:
        store = RecordsStore(self.database_url)
        try:
            store.ensure_schema()
            return add_user(store, username, Role.OFFICER, password=OFFICER_PASSWORD)
        finally:
            store.dispose()

    def readyz(self) -> int:
        try:
            return httpx.get(f"{self.backend_url}/readyz", timeout=2.0).status_code
        except httpx.HTTPError:
            return 0

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of one SELECT on the records store (read directly, as an auditor would)."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(sa.text(sql)).all()]
        finally:
            engine.dispose()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for proc in reversed(list(self.procs.values())):
            stop_part(proc)
        self.redis.stop()


# ---- reading what was kept ------------------------------------------------------------------


def stream_events(client: redis.Redis, stream: str) -> list[Event]:
    """Every event on ``stream``, oldest first (a client with ``decode_responses``)."""
    entries = cast(list[tuple[str, dict[str, str]]], client.xrange(stream))
    return [decode_event(fields) for _, fields in entries]


def group_info(
    client: redis.Redis, stream: str, group: str = GROUP_QUEUE_MONITOR
) -> dict[str, Any]:
    """XINFO GROUPS of ``group`` on ``stream`` (empty if the stream or group is missing)."""
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:
        return {}
    for info in groups:
        if info["name"] == group:
            return dict(info)
    return {}


def log_events(path: Path, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``path`` whose ``event`` is ``event``."""
    import json

    out = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == event:
                out.append(record)
    return out


def sample_refs(client: redis.Redis, key: str) -> list[str]:
    """The traveller refs of a hall's wait samples (one member per paired traveller)."""
    members = cast(list[str], client.zrange(key, 0, -1))
    return [m.partition("|")[2] for m in members]


# ---- a kiosk without devices ----------------------------------------------------------------


def citizen_document(number: str) -> DocumentData:
    return DocumentData(
        document_type="P", issuing_state="CHN", nationality="CHN", document_number=number,
        surname="TESTER", given_names="RELIABLE", birth_date=date(1980, 1, 1),
        expiry_date=date.today() + timedelta(days=3650), sex="F",
        check_digits_valid=True, chip_authenticated=True,
    )  # fmt: skip


@dataclass(frozen=True)
class KioskOutcome:
    """What one simulated kiosk did with one traveller."""

    request_id: uuid.UUID
    traveller_ref: str
    outcome: Outcome
    reasons: list[ReasonCode]
    clearance_id: uuid.UUID | None
    latency_s: float
    queue_published: bool
    """Both its queue events (joined and served) reached Redis."""


class ApiKiosk:
    """A lane's decisions without devices: the kiosk's client, its fail-closed mapping, its
    queue-event publisher. ``match=False`` makes a face mismatch (the backend refers)."""

    def __init__(
        self, backend_url: str, token: str, redis_url: str, *, hall: Hall, lane: str,
        timeout_s: float = 2.0,
    ) -> None:  # fmt: skip
        # The kiosk's modules load here, so the monitor-only tests do not depend on them.
        from kiosk.backend_client import BackendClient

        self.hall = hall
        self.lane = lane
        self.client = BackendClient(backend_url, timeout_s, device_token=token)
        self.redis = open_redis(redis_url)
        # As a kiosk does: queue events Redis does not take are kept and replayed.
        self.spool = EventSpool(self.redis, timeout_s=0.5)
        self.outcomes: list[KioskOutcome] = []
        self._n = 0

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.redis.aclose()

    async def traveller(
        self, *, match: bool = True, wait_s: float = 60.0, clock_offset_s: float = 0.0
    ) -> KioskOutcome:
        from kiosk.backend_client import BackendClientError

        await self.spool.drain()  # a kiosk's spool drains in the background; here, per traveller
        self._n += 1
        ref = f"{self.lane}-{uuid.uuid4().hex[:10]}"
        now = datetime.now(UTC) + timedelta(seconds=clock_offset_s)
        joined = QueueJoined(
            hall=self.hall, traveller_ref=ref, counter_id=f"{self.lane}-in",
            at=now - timedelta(seconds=wait_s),
        )  # fmt: skip
        served = QueueServed(hall=self.hall, traveller_ref=ref, lane_id=self.lane, at=now)
        published = await self.spool.publish(joined, STREAM_QUEUE)
        published = await self.spool.publish(served, STREAM_QUEUE) and published
        request = ClearanceRequest(
            request_id=uuid.uuid4(), hall=self.hall, lane_id=self.lane, arrival_time=now,
            document=citizen_document(f"T{self._n:08d}"[-9:]),
            face=FaceResult(matched=match, score=0.9 if match else 0.2, liveness="passed"),
        )  # fmt: skip
        started = time.monotonic()
        try:
            decision = await self.client.request_clearance(request)
        except BackendClientError as exc:  # as KioskSession: no decision, refer
            outcome, reasons, clearance_id = Outcome.REFER, [exc.reason], None
        else:
            outcome, reasons = decision.outcome, decision.reasons
            clearance_id = decision.clearance_id
        result = KioskOutcome(
            request.request_id, ref, outcome, reasons, clearance_id,
            time.monotonic() - started, published,
        )  # fmt: skip
        self.outcomes.append(result)
        return result


class Officer:
    """An officer at the console, through the API (sign-in cookie, CSRF header)."""

    def __init__(self, backend_url: str, username: str = OFFICER) -> None:
        self.http = httpx.Client(base_url=backend_url, timeout=5.0)
        self.username = username

    def sign_in(self) -> int:
        r = self.http.post(
            "/v1/auth/login", json={"username": self.username, "password": OFFICER_PASSWORD}
        )
        return r.status_code

    def open_referrals(self, hall: str = "airport") -> list[dict[str, Any]]:
        r = self.http.get("/v1/referrals", params={"hall": hall})
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()
        return items

    def decide(self, referral_id: str, decision: str = "refuse") -> int:
        try:
            r = self.http.post(
                f"/v1/referrals/{referral_id}/decision",
                json={"decision": decision, "note": "reliability test"},
                headers=CONSOLE_HEADERS,
            )
        except httpx.HTTPError:
            return 0
        return r.status_code

    def close(self) -> None:
        self.http.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def ids(rows: Iterator[Any] | list[Any]) -> set[str]:
    return {str(uuid.UUID(str(r[0]))) for r in rows}
