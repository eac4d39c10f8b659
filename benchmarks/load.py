"""Load: simulated kiosks against the backend's workers on a real Redis, beside a bare endpoint.

Run from the project root::

    .venv/bin/python benchmarks/load.py [--duration 20] [--workers 4] [--kiosks 200] [--json]
    .venv/bin/python benchmarks/load.py --quick --json        # under a minute: the smoke test's

Not a test: it prints figures. A bounded run on loopback that stops by itself and stops every
process it starts, by PID (also on Ctrl-C, SIGTERM or an error; each child also gets SIGTERM
should this process die, through PR_SET_PDEATHSIG).

What it starts: a redis-server on a free port; ``bordergate backend --workers N`` (REDIS_URL set;
records in SQLite in a temporary folder, or ``--database-url`` for PostgreSQL) with one kiosk
device registered per simulated kiosk (``backend.auth.devices.register_device``, what
``bordergate devices register`` calls); a bare FastAPI app (:func:`bare_app`: the same route
answering a constant JSON) under the same ``uvicorn.run`` options and worker count; and
``bordergate monitor`` on a Redis database of its own. Each idles while another is measured.

Each simulated kiosk has its own device token and its own connection (the kiosk's own
``kiosk.backend_client.BackendClient``: same body, headers, 2 s budget and one retry) and sends
``POST /v1/clearances`` bodies built from the seeded synthetic travellers
(``hardware_mocks.travellers``: citizens, transit passengers with boarding passes, expired and
forged passports, missing journeys; a tenth of the kiosks in the cruise hall, whose manifests are
not filed), with face results drawn per traveller (impostors and failed liveness included), so
both the admit and the refer paths run. Each request has a new request_id (idempotency key).

After a warm-up (one traveller per kiosk, a few at a time), phases of ``--duration`` seconds, for
the backend and then the bare endpoint:

- ``peak``: open loop, Poisson arrivals at the peak-hour rate (:class:`PeakHour`), each sent by
  an idle kiosk; latency runs from the arrival's scheduled time; it lasts ``--peak-duration``
  (default at least 120 s: a few hundred samples for the p99);
- ``peak_xK``: the same at K times that rate (``--stress``; 0 skips it): ten times the samples;
- ``max_kN``: closed loop with only N kiosks (``--few-kiosks``): the throughput without a queue;
- ``max``: closed loop with every kiosk, each sending its next traveller on its answer.

A kiosk that has no answer within its 2 s budget refers the traveller: that is an error here,
and not a decision. Under a closed loop whose queue outgrows the budget the workers go on
deciding for kiosks that gave up, so the backend's phases also count the clearances recorded in
their window. Figures per phase: decisions/s, p50/p90/p99/max latency, errors, the CPU seconds
of the server's processes (utime+stime of uvicorn's supervisor and its workers from /proc, before
and after) per decision made, Redis's and this client's CPU. The max closed-loop throughput is
the best closed-loop phase's decisions/s; the margin is that over the peak-hour rate.

Once the backend has stopped: every answered decision is recorded once, nothing is recorded that
was not sent, and every record's event is on the clearance stream (at least once: repeats are
counted) or still pending in the outbox.

Queue monitor: N queue events (joined and served of N/2 travellers) are added to the queue
stream in one MULTI/EXEC once a ``bordergate monitor`` is reading the group; the rate is N over
the time until the group has acknowledged them all. Then a second monitor joins the group, N more
events go in, and both consume; each monitor's ``monitor_stopped`` log line gives what it applied,
which must add up to every event once, with no duplicate, and one wait sample per traveller.
(The lane controller is off in these monitors: it decides once a minute, not per event.)
"""

from __future__ import annotations

import sys
from pathlib import Path

# As a script, this folder would be first on sys.path and its queue.py would shadow the standard
# library's ``queue``. Put the project root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import ctypes  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Awaitable, Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any  # noqa: E402

from fastapi import FastAPI  # noqa: E402

ROOT = _HERE.parent
SCRIPT = _HERE / "load.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
P99_TARGET_MS = 50.0
KIOSK_BUDGET_S = 2.0  # KioskSettings.backend_timeout_s: a slower answer is a referral
MONITOR_NAMES = ("load-monitor-1", "load-monitor-2")

# ---- the load to meet ---------------------------------------------------------------------------
# The busiest Chinese airport for border crossings is Shanghai Pudong: "inbound and outbound
# passenger traffic of 39.05 million in 2019 ... the busiest airport in China for a consecutive
# 17 years" (Global Times, 2020-01-01, http://www.globaltimes.cn/content/1175358.shtml; 2019 is
# its record year). Beijing Capital carried more passengers in all, most of them on domestic
# flights, which never reach an e-gate. From the annual crossings to the peak hour's entries,
# each assumption chosen on the high side:
# - half of the crossings are entries (over a year every entry has its exit);
# - the peak day carries 1.3 times the average day (summer, the Spring Festival);
# - 12% of the peak day's arrivals land in its busiest hour (long-haul banks);
# - every arriving traveller is decided once by a kiosk, though in 2019 only 16 million of the
#   39.05 million crossings used Pudong's 136 e-gates.
# That is 39.05e6 * 0.5 / 365 * 1.3 * 0.12 = 8,345 entries an hour, 2.3 decisions a second.
# Another bound from the same article: all 136 e-gates busy at once, one traveller each "in as
# little as 10 seconds", would send 13.6 decisions a second.
ANNUAL_CROSSINGS = 39.05e6
ARRIVAL_SHARE = 0.5
PEAK_DAY_FACTOR = 1.3
PEAK_HOUR_SHARE = 0.12
EGATES = 136
EGATE_SECONDS_PER_TRAVELLER = 10.0


@dataclass(frozen=True)
class PeakHour:
    airport: str = "Shanghai Pudong (PVG), 2019"
    annual_crossings: float = ANNUAL_CROSSINGS
    arrival_share: float = ARRIVAL_SHARE
    peak_day_factor: float = PEAK_DAY_FACTOR
    peak_hour_share: float = PEAK_HOUR_SHARE

    @property
    def arrivals_per_hour(self) -> float:
        per_day = self.annual_crossings * self.arrival_share / 365
        return per_day * self.peak_day_factor * self.peak_hour_share

    @property
    def rate_per_s(self) -> float:
        return self.arrivals_per_hour / 3600

    def as_dict(self) -> dict[str, Any]:
        return {
            "airport": self.airport,
            "source": "Global Times 2020-01-01: 39.05 million border crossings at PVG in 2019",
            "annual_crossings": self.annual_crossings,
            "arrival_share": self.arrival_share,
            "peak_day_factor": self.peak_day_factor,
            "peak_hour_share": self.peak_hour_share,
            "arrivals_per_hour": round(self.arrivals_per_hour),
            "rate_per_s": round(self.rate_per_s, 3),
            "all_egates_busy_per_s": EGATES / EGATE_SECONDS_PER_TRAVELLER,
        }


# ---- the bare endpoint --------------------------------------------------------------------------

BARE_ANSWER: dict[str, Any] = {"outcome": "admit", "reasons": [], "scheme": None}


def bare_app() -> FastAPI:
    """The framework's own ceiling: the clearance route answering a constant JSON."""
    app = FastAPI()

    @app.post("/v1/clearances")
    async def clearance() -> dict[str, Any]:
        return BARE_ANSWER

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_bare(port: int, workers: int, log_level: str) -> None:
    """The bare app under the same ``uvicorn.run`` options as ``backend.server.run``."""
    import uvicorn

    from backend.server import uvicorn_log_config

    uvicorn.run(
        "benchmarks.load:bare_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_config=uvicorn_log_config(log_level, True),
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
    )


# ---- processes ----------------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it should this benchmark die without cleaning up."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    return raw.rpartition(")")[2].split()


def _started(pid: int) -> str | None:
    """The process's start time (stat field 22), or None if it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else fields[19]


def _alive(pid: int, started: str | None) -> bool:
    """``pid`` is still the process that started at ``started``, and not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[19] == started and fields[0] != "Z"


def children(pid: int) -> list[int]:
    """Live descendants of ``pid`` (a scan of /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants, and of the children they have reaped."""
    total = 0
    for p in (pid, *children(pid)):
        fields = _stat_fields(p)
        if fields is not None:
            # utime, stime, cutime, cstime (stat fields 14-17; index 0 here is field 3).
            total += sum(int(v) for v in fields[11:15])
    return total / CLK_TCK


@dataclass
class Part:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_s(self) -> float:
        return tree_cpu_s(self.pid)


@dataclass
class Parts:
    """Every process this run started; :meth:`stop_all` stops them by PID, newest first."""

    workdir: Path
    running: list[Part] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Part:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as err:
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C reaches this process only, which stops them in order.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        part = Part(name, proc, log)
        self.running.append(part)
        return part

    def stop(self, part: Part, timeout_s: float = 10.0) -> None:
        # (pid, start time): a PID that ends may be reused; only the same process is signalled.
        kids = [(pid, _started(pid)) for pid in children(part.pid)]
        if part.proc.poll() is None:
            part.proc.send_signal(signal.SIGTERM)
            try:
                part.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                part.proc.kill()
                part.proc.wait()
        # uvicorn's supervisor stops its workers; any left behind are stopped by their PID.
        for pid, started in kids:
            if not _alive(pid, started):
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while _alive(pid, started) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid, started):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if part in self.running:
            self.running.remove(part)

    def stop_all(self) -> None:
        for part in reversed(list(self.running)):
            self.stop(part)


def part_env(**extra: str) -> dict[str, str]:
    """This environment without bordergate's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BORDERGATE_")}
    env.pop("REDIS_URL", None)
    env.update({"PYTHONUNBUFFERED": "1", "BORDERGATE_LOG_JSON": "true"})
    env.update(extra)
    return env


def log_count(part: Part, text: str) -> int:
    try:
        return part.log.read_text(errors="replace").count(text)
    except OSError:
        return 0


async def wait_for(
    check: Callable[[], Awaitable[bool]], part: Part, what: str, timeout_s: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if part.proc.poll() is not None:
            tail = part.log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{part.name} exited with {part.proc.returncode}: {tail}")
        with contextlib.suppress(Exception):
            if await check():
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{what} within {timeout_s:.0f} s")


async def start_redis(parts: Parts) -> tuple[Part, str]:
    import redis.asyncio as aioredis

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (scripts/setup.sh test installs it)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(parts.workdir)]
    args += ["--save", "", "--appendonly", "no"]  # nothing to keep after the run
    part = parts.start("redis", args, part_env())
    url = f"redis://127.0.0.1:{port}/0"
    client = aioredis.Redis.from_url(url)
    try:
        await wait_for(client.ping, part, "redis-server answering")
    finally:
        await client.aclose()
    return part, url


async def server_ready(part: Part, base: str, workers: int) -> None:
    """Ready once every worker has logged its startup and /readyz answers 200."""
    import httpx

    async def ready() -> bool:
        if log_count(part, "Application startup complete") < workers:
            return False
        async with httpx.AsyncClient(base_url=base, timeout=2.0) as client:
            return (await client.get("/readyz")).status_code == 200

    await wait_for(ready, part, f"{part.name}'s {workers} workers started", timeout_s=120)


# ---- the kiosks' requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class Kiosk:
    hall: str
    lane_id: str
    token: str


def kiosk_lanes(n: int) -> list[tuple[str, str]]:
    """(hall, lane) for ``n`` kiosks: one in ten at the cruise terminal."""
    lanes = []
    for i in range(n):
        if i % 10 == 9:
            lanes.append(("cruise", f"C{i:03d}"))
        else:
            lanes.append(("airport", f"A{i:03d}"))
    return lanes


def register_kiosks(database_url: str, n: int) -> list[Kiosk]:
    """One device per kiosk, as ``bordergate devices register`` does, before the backend starts."""
    from backend.auth.devices import register_device
    from backend.records.store import RecordsStore

    store = RecordsStore(database_url)
    try:
        kiosks = []
        for hall, lane in kiosk_lanes(n):
            new = register_device(store, hall=hall, lane_id=lane, actor="load-benchmark")
            kiosks.append(Kiosk(hall=hall, lane_id=lane, token=new.token))
        return kiosks
    finally:
        store.dispose()


def traveller_requests(hall: str, n: int, seed: int) -> list[Any]:
    """``n`` clearance requests as kiosks send them, for the seeded travellers of ``hall``.

    The face result is drawn per traveller: impostors (no match) and failed liveness refer.
    request_id, arrival_time and lane_id are replaced on each send.
    """
    from bordergate.clearance_api import ClearanceRequest, FaceResult, JourneyEvidence
    from bordergate.contracts import Hall
    from hardware_mocks.travellers import TravellerFactory
    from kiosk.document import parse_mrz

    today = date.today()
    factory = TravellerFactory(seed=seed, hall=Hall(hall), faces_dir=None, today=today)
    rng = random.Random(seed)
    out = []
    for traveller in factory.generate(n):
        document = parse_mrz(traveller.mrz_lines, today)
        # A forged page no longer matches the chip; otherwise passive authentication passed.
        document = document.model_copy(update={"chip_authenticated": not traveller.forged})
        draw = rng.random()
        if draw < 0.04:  # an impostor
            face = FaceResult(matched=False, score=rng.uniform(0.2, 0.5), liveness="passed")
        elif draw < 0.08:  # a presentation attack
            face = FaceResult(matched=True, score=rng.uniform(0.7, 0.9), liveness="failed")
        else:
            face = FaceResult(matched=True, score=rng.uniform(0.75, 0.97), liveness="passed")
        journey = [
            JourneyEvidence(
                kind="cruise_card" if code.startswith("BGCRUISE") else "boarding_pass",
                payload=code,
            )
            for code in traveller.journey_barcodes
        ]
        out.append(
            ClearanceRequest(
                request_id=uuid.uuid4(),
                hall=Hall(hall),
                lane_id="X",
                arrival_time=datetime.now(UTC),
                document=document,
                face=face,
                journey=journey,
            )
        )
    return out


@dataclass
class PhaseResult:
    name: str
    mode: str
    target_rate_per_s: float | None
    latencies_s: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    elapsed_s: float = 0.0
    server_cpu_s: float = 0.0
    redis_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    late_starts: int = 0
    window: tuple[datetime, datetime] | None = None
    recorded: int | None = None
    """Backend only: clearances the store recorded in the phase's window (answered or not)."""

    @property
    def decisions(self) -> int:
        return sum(self.outcomes.values())

    @property
    def made(self) -> int:
        return self.decisions if self.recorded is None else self.recorded

    def as_dict(self) -> dict[str, Any]:
        ms = sorted(t * 1000 for t in self.latencies_s)
        decisions = self.decisions
        return {
            "mode": self.mode,
            "target_rate_per_s": (
                None if self.target_rate_per_s is None else round(self.target_rate_per_s, 3)
            ),
            "elapsed_s": round(self.elapsed_s, 2),
            "decisions": decisions,
            "decisions_per_s": round(decisions / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "outcomes": dict(self.outcomes),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "retries": self.retries,
            # None without samples (JSON has no NaN).
            "latency_ms": {
                "p50": percentile(ms, 0.50),
                "p90": percentile(ms, 0.90),
                "p99": percentile(ms, 0.99),
                "max": percentile(ms, 1.0),
                "samples": len(ms),
            },
            "server_cpu_s": round(self.server_cpu_s, 2),
            # Per decision the server made in the phase: recorded ones for the backend (the kiosk
            # may have given up on some), answered ones for the bare endpoint.
            "cpu_ms_per_decision": (
                round(1000 * self.server_cpu_s / made, 3) if (made := self.made) else None
            ),
            "redis_cpu_s": round(self.redis_cpu_s, 2),
            "client_cpu_s": round(self.client_cpu_s, 2),
            "late_starts": self.late_starts,
            **(
                {}
                if self.recorded is None
                else {
                    "recorded": self.recorded,
                    "recorded_per_s": round(self.recorded / self.elapsed_s, 1),
                }
            ),
        }


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, to 0.01 (the value at or above which 1-q of the samples lie)."""
    if not sorted_values:
        return None
    rank = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return round(sorted_values[rank], 2)


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


Sender = Callable[[Kiosk, random.Random], Awaitable[tuple[str, int]]]
"""Send one traveller from a kiosk: (outcome or 'error:<kind>', attempts)."""


def next_request(requests: dict[str, list[Any]], kiosk: Kiosk, rng: random.Random) -> Any:
    """A traveller of the kiosk's hall, as a new request of this kiosk arriving now."""
    return rng.choice(requests[kiosk.hall]).model_copy(
        update={
            "request_id": uuid.uuid4(),
            "lane_id": kiosk.lane_id,
            "arrival_time": datetime.now(UTC),
        }
    )


class BackendSenders:
    """The kiosk's own client, one per kiosk (its own connection), for ``POST /v1/clearances``."""

    def __init__(self, base_url: str, kiosks: list[Kiosk], requests: dict[str, list[Any]]) -> None:
        import httpx

        from kiosk.backend_client import BackendClient

        self._requests = requests
        tls = ssl.create_default_context()  # one for all: httpx builds one per client otherwise
        self.clients = {
            k.lane_id: BackendClient(
                base_url,
                KIOSK_BUDGET_S,
                device_token=k.token,
                transport=httpx.AsyncHTTPTransport(verify=tls),
            )
            for k in kiosks
        }
        self.sent: set[uuid.UUID] = set()
        self.answered: list[uuid.UUID] = []

    async def send(self, kiosk: Kiosk, rng: random.Random) -> tuple[str, int]:
        from kiosk.backend_client import BackendClientError

        client = self.clients[kiosk.lane_id]
        request = next_request(self._requests, kiosk, rng)
        before = client.attempts
        self.sent.add(request.request_id)
        try:
            decision = await client.request_clearance(request)
        except BackendClientError as exc:
            return f"error:{type(exc).__name__}:{exc}"[:120], client.attempts - before
        self.answered.append(decision.request_id)
        return str(decision.outcome), client.attempts - before

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


class BareSenders:
    """The same bodies and headers, one connection per kiosk, to the bare endpoint."""

    def __init__(self, base_url: str, kiosks: list[Kiosk], requests: dict[str, list[Any]]) -> None:
        import httpx

        self._requests = requests
        tls = ssl.create_default_context()
        self.clients = {
            k.lane_id: httpx.AsyncClient(
                base_url=base_url,
                transport=httpx.AsyncHTTPTransport(verify=tls),
                timeout=httpx.Timeout(KIOSK_BUDGET_S),
                headers={"Accept": "application/json", "Authorization": f"Bearer {k.token}"},
            )
            for k in kiosks
        }

    async def send(self, kiosk: Kiosk, rng: random.Random) -> tuple[str, int]:
        import httpx

        request = next_request(self._requests, kiosk, rng)
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(request.request_id)}
        try:
            async with asyncio.timeout(KIOSK_BUDGET_S):
                response = await self.clients[kiosk.lane_id].post(
                    "/v1/clearances", content=request.model_dump_json(), headers=headers
                )
        except (TimeoutError, httpx.HTTPError) as exc:
            return f"error:{type(exc).__name__}", 1
        if response.status_code != 200:
            return f"error:HTTP {response.status_code}", 1
        return str(response.json()["outcome"]), 1

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def _record(result: PhaseResult, outcome: str, attempts: int, latency_s: float) -> None:
    result.retries += max(0, attempts - 1)
    if outcome.startswith("error:"):
        result.errors[outcome.removeprefix("error:")] += 1
    else:
        result.outcomes[outcome] += 1
        result.latencies_s.append(latency_s)


async def closed_loop(
    name: str, send: Sender, kiosks: list[Kiosk], duration_s: float, seed: int
) -> PhaseResult:
    """Every kiosk sends its next traveller as soon as it has its answer, for ``duration_s``."""
    result = PhaseResult(name=name, mode="closed", target_rate_per_s=None)
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + duration_s

    async def kiosk_loop(kiosk: Kiosk, rng: random.Random) -> None:
        while loop.time() < deadline:
            t = time.perf_counter()
            outcome, attempts = await send(kiosk, rng)
            _record(result, outcome, attempts, time.perf_counter() - t)

    await asyncio.gather(
        *(kiosk_loop(k, random.Random(f"{seed}-{i}")) for i, k in enumerate(kiosks))
    )
    result.elapsed_s = loop.time() - start
    return result


async def open_loop(
    name: str, send: Sender, kiosks: list[Kiosk], rate_per_s: float, duration_s: float, seed: int
) -> PhaseResult:
    """Poisson arrivals at ``rate_per_s`` for ``duration_s``, each sent by an idle kiosk.

    Latency runs from the arrival's scheduled time, so a late send (no idle kiosk, a busy
    client loop) counts against it rather than hiding (no coordinated omission).
    """
    result = PhaseResult(name=name, mode="open", target_rate_per_s=rate_per_s)
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    idle: asyncio.Queue[tuple[Kiosk, random.Random]] = asyncio.Queue()
    order = list(range(len(kiosks)))
    rng.shuffle(order)
    for i in order:
        idle.put_nowait((kiosks[i], random.Random(f"{seed}-{i}")))
    tasks: set[asyncio.Task[None]] = set()
    start = loop.time()
    perf_offset = time.perf_counter() - start

    async def serve(kiosk: Kiosk, kiosk_rng: random.Random, due: float) -> None:
        try:
            outcome, attempts = await send(kiosk, kiosk_rng)
            # The arrival's scheduled time on the perf_counter clock.
            _record(result, outcome, attempts, time.perf_counter() - (due + perf_offset))
        finally:
            idle.put_nowait((kiosk, kiosk_rng))

    due = start + rng.expovariate(rate_per_s)
    while due < start + duration_s:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            result.late_starts += 1
        kiosk, kiosk_rng = await idle.get()
        task = asyncio.create_task(serve(kiosk, kiosk_rng, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        due += rng.expovariate(rate_per_s)
    if tasks:
        await asyncio.gather(*tasks)
    result.elapsed_s = duration_s
    return result


WARMUP_CONCURRENCY = 8
PEAK_PHASE_MIN_S = 120.0


async def warm_up(send: Sender, kiosks: list[Kiosk], seed: int) -> None:
    """Every kiosk opens its connection with one traveller, a few at a time (no backlog left)."""
    gate = asyncio.Semaphore(WARMUP_CONCURRENCY)

    async def one(kiosk: Kiosk, rng: random.Random) -> None:
        async with gate:
            await send(kiosk, rng)

    await asyncio.gather(*(one(k, random.Random(f"{seed}-{i}")) for i, k in enumerate(kiosks)))
    await asyncio.sleep(0.5)


async def measured(
    phase: Callable[[], Awaitable[PhaseResult]], server: Part, redis_part: Part
) -> PhaseResult:
    """Run one phase with the server's, Redis's and this process's CPU measured around it.

    This process's garbage collector is off during the phase: its full passes over 200 kiosks'
    clients stopped every simulated kiosk at once for 10-50 ms (measured), which counted as
    server latency. Real kiosks are separate machines; the servers keep their own collectors.
    """
    gc.collect()
    gc.disable()
    cpu0, redis0, own0 = server.cpu_s(), redis_part.cpu_s(), time.process_time()
    began = datetime.now(UTC)
    try:
        result = await phase()
    finally:
        gc.enable()
    result.window = (began, datetime.now(UTC))
    result.server_cpu_s = server.cpu_s() - cpu0
    result.redis_cpu_s = redis_part.cpu_s() - redis0
    result.client_cpu_s = time.process_time() - own0
    return result


_T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - _T0:5.1f} s] {text}", file=sys.stderr, flush=True)


@dataclass
class Config:
    duration_s: float
    peak_duration_s: float
    """The peak-hour phase's own length: at 2.3 arrivals/s it needs minutes for a p99 that is
    not just the slowest of a few dozen samples."""
    workers: int
    kiosks: int
    stress: float
    few_kiosks: int
    monitor_events: int
    database_url: str | None
    seed: int
    log_level: str


async def http_phases(
    redis_part: Part,
    server: Part,
    senders: BackendSenders | BareSenders,
    kiosks: list[Kiosk],
    cfg: Config,
    label: str,
) -> dict[str, PhaseResult]:
    rate = PeakHour().rate_per_s
    send = senders.send
    say(f"{label}: warming up (one traveller per kiosk, {WARMUP_CONCURRENCY} at a time)")
    await warm_up(send, kiosks, cfg.seed + 99)
    results: dict[str, PhaseResult] = {}
    # (name, seconds, the phase for that many seconds)
    plan: list[tuple[str, float, Callable[[float], Awaitable[PhaseResult]]]] = [
        (
            "peak",
            cfg.peak_duration_s,
            lambda s: open_loop("peak", send, kiosks, rate, s, cfg.seed + 1),
        )
    ]
    if cfg.stress > 0:
        key = f"peak_x{cfg.stress:g}"
        plan.append(
            (
                key,
                cfg.duration_s,
                lambda s: open_loop(key, send, kiosks, rate * cfg.stress, s, cfg.seed + 2),
            )
        )
    if 0 < cfg.few_kiosks < len(kiosks):
        few = f"max_k{cfg.few_kiosks}"
        plan.append(
            (
                few,
                cfg.duration_s,
                lambda s: closed_loop(few, send, kiosks[: cfg.few_kiosks], s, cfg.seed + 4),
            )
        )
    plan.append(
        ("max", cfg.duration_s, lambda s: closed_loop("max", send, kiosks, s, cfg.seed + 3))
    )
    for key, seconds, phase in plan:
        say(f"{label}: {key} for {seconds:.0f} s")
        results[key] = await measured(functools.partial(phase, seconds), server, redis_part)
        r = results[key].as_dict()
        say(
            f"  {r['decisions']} decisions, {r['decisions_per_s']}/s, p99 "
            f"{r['latency_ms']['p99']} ms, errors {r['errors']}"
        )
    return results


async def check_records(
    database_url: str,
    redis_url: str,
    senders: BackendSenders,
    phases: dict[str, PhaseResult],
    since: datetime,
) -> dict[str, Any]:
    """After the backend stopped: every answered decision recorded once, nothing recorded that
    was not sent, and every record's event on the clearance stream or pending in the outbox.

    A request the kiosk gave up on (its 2 s budget) may still have been recorded: allowed (the
    kiosk referred the traveller; the record says what the backend decided). Publishing is at
    least once (consumers de-duplicate on the event id): the repeats on the stream are counted.
    Also fills in each phase's ``recorded`` (rows decided within its window). Only rows decided
    ``since`` the first request count (a PostgreSQL database may hold earlier runs').
    """
    import redis.asyncio as aioredis
    from sqlalchemy import create_engine, select

    from backend.records.tables import ClearanceRecord, OutboxEntry
    from bordergate.contracts import STREAM_CLEARANCES

    def event_clearance(fields: Any) -> str:
        return str(json.loads(fields["data"])["clearance_id"])

    engine = create_engine(database_url)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(
                        ClearanceRecord.clearance_id,
                        ClearanceRecord.request_id,
                        ClearanceRecord.decided_at,
                    ).where(ClearanceRecord.decided_at >= since)
                )
            )
            pending = [
                event_clearance(fields)
                for fields in conn.execute(
                    select(OutboxEntry.fields).where(
                        OutboxEntry.stream == STREAM_CLEARANCES,
                        OutboxEntry.published_at.is_(None),
                        OutboxEntry.created_at >= since,
                    )
                ).scalars()
            ]
        entries: Any = await client.xrange(STREAM_CLEARANCES)
    finally:
        engine.dispose()
        await client.aclose()
    on_stream = [event_clearance(fields) for _, fields in entries]
    recorded_ids = {str(r.clearance_id) for r in rows}
    request_ids = {r.request_id for r in rows}
    for phase in phases.values():
        if phase.window is not None:
            began, ended = phase.window
            phase.recorded = sum(1 for r in rows if began <= _utc(r.decided_at) <= ended)
    answered = set(senders.answered)
    match = (
        len(answered) == len(senders.answered)
        and len(request_ids) == len(rows)
        and answered <= request_ids <= senders.sent
        and set(on_stream) | set(pending) == recorded_ids
    )
    return {
        "sent": len(senders.sent),
        "answered": len(senders.answered),
        "recorded": len(rows),
        "published_distinct": len(set(on_stream)),
        "published_repeats": len(on_stream) - len(set(on_stream)),
        "outbox_pending": len(set(pending) - set(on_stream)),
        "answered_not_recorded": len(answered - request_ids),
        "recorded_not_answered": len(request_ids - answered),
        "match": match,
    }


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# ---- the queue monitor --------------------------------------------------------------------------


def queue_events(n: int, seed: int) -> list[Any]:
    """``n`` queue events: joined then served of n/2 travellers, all within the last hour.

    (The monitor's statistics window is an hour of served times: older samples are trimmed.)
    """
    from bordergate.contracts import Hall, QueueJoined, QueueServed

    rng = random.Random(seed)
    now = datetime.now(UTC)
    travellers = n // 2
    events: list[Any] = []
    for i in range(travellers):
        ref = f"{rng.getrandbits(128):032x}"
        joined = now - timedelta(seconds=3000 - 1400 * i / travellers)
        served = joined + timedelta(seconds=rng.uniform(30, 1500))
        events.append(QueueJoined(at=joined, hall=Hall.AIRPORT, traveller_ref=ref, counter_id="Q1"))
        events.append(QueueServed(at=served, hall=Hall.AIRPORT, traveller_ref=ref, lane_id="A001"))
    events.sort(key=lambda e: e.at)
    return events


def start_monitor(parts: Parts, name: str, redis_url: str) -> Part:
    env = part_env(
        REDIS_URL=redis_url,
        BORDERGATE_LOG_LEVEL="INFO",  # its monitor_stopped line counts what it applied
        BORDERGATE_MONITOR_CONTROL_ENABLED="false",
    )
    args = [sys.executable, "-m", "bordergate.cli", "monitor", "--consumer-name", name]
    return parts.start(name, args, env)


def applied_counts(part: Part) -> Counter[str]:
    """What a stopped monitor applied, from its ``monitor_stopped`` log line."""
    for line in reversed(part.log.read_text(errors="replace").splitlines()):
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("event") == "monitor_stopped":
                return Counter({str(k): int(v) for k, v in entry.get("counts", {}).items()})
    raise RuntimeError(f"{part.name} logged no monitor_stopped line")


async def monitor_phases(
    parts: Parts, redis_part: Part, first: Part, redis_url: str, cfg: Config
) -> dict[str, Any]:
    """``first`` was started on ``redis_url`` (a database of its own) at the beginning."""
    import redis.asyncio as aioredis

    from bordergate.contracts import (
        GROUP_QUEUE_MONITOR,
        STREAM_MAXLEN,
        STREAM_QUEUE,
        Hall,
        encode_event,
        queue_waiting_key,
        wait_samples_key,
    )

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)

    async def reading(names: tuple[str, ...]) -> bool:
        consumers = await client.xinfo_consumers(STREAM_QUEUE, GROUP_QUEUE_MONITOR)
        return set(names) <= {c["name"] for c in consumers}

    async def consume(n: int, seed: int, monitors: list[Part]) -> dict[str, Any]:
        events = queue_events(n, seed)
        cpu0 = [m.cpu_s() for m in monitors]
        redis0 = redis_part.cpu_s()
        # One MULTI/EXEC: the monitors see all n at once, already waiting on XREADGROUP.
        async with client.pipeline(transaction=True) as pipe:
            for event in events:
                fields: dict[Any, Any] = encode_event(event)
                pipe.xadd(STREAM_QUEUE, fields, maxlen=STREAM_MAXLEN, approximate=True)
            ids = await pipe.execute()
        t0 = time.perf_counter()
        deadline = t0 + max(60.0, n / 50)
        while True:
            groups = await client.xinfo_groups(STREAM_QUEUE)
            group = next(g for g in groups if g["name"] == GROUP_QUEUE_MONITOR)
            if group["last-delivered-id"] == ids[-1] and int(group["pending"]) == 0:
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the monitors did not acknowledge {n} events")
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - t0
        cpu = sum(m.cpu_s() - c for m, c in zip(monitors, cpu0, strict=True))
        return {
            "events": n,
            "elapsed_s": round(elapsed, 3),
            "events_per_s": round(n / elapsed, 1),
            "monitor_cpu_s": round(cpu, 2),
            "cpu_ms_per_event": round(1000 * cpu / n, 3),
            "redis_cpu_s": round(redis_part.cpu_s() - redis0, 2),
        }

    n = cfg.monitor_events
    try:
        await wait_for(lambda: reading(MONITOR_NAMES[:1]), first, "monitor 1 reading the group")
        say(f"monitor: {n} events, one monitor")
        one = await consume(n, cfg.seed + 10, [first])
        second = start_monitor(parts, MONITOR_NAMES[1], redis_url)
        await wait_for(lambda: reading(MONITOR_NAMES), second, "monitor 2 reading the group")
        say(f"monitor: {n} more events, two monitors sharing the group")
        two = await consume(n, cfg.seed + 11, [first, second])
        samples = int(await client.zcard(wait_samples_key(Hall.AIRPORT)))
        waiting = int(await client.zcard(queue_waiting_key(Hall.AIRPORT)))
    finally:
        await client.aclose()
    parts.stop(second)
    parts.stop(first)
    counts = [applied_counts(first), applied_counts(second)]
    applied = [sum(c[k] for k in ("waiting", "parked", "paired")) for c in counts]
    not_applied = {
        k: sum(c[k] for c in counts) for k in ("duplicate", "failed", "malformed", "ignored")
    }
    travellers = 2 * (n // 2)
    # Monitor 1 was alone for the first n events: its share of the second n is the rest.
    two["applied_by_monitor"] = [applied[0] - n, applied[1]]
    two["not_applied"] = not_applied
    two["wait_samples"] = samples
    two["waiting_left"] = waiting
    two["each_event_once"] = (
        sum(applied) == 2 * n and not any(not_applied.values()) and samples == travellers
    ) and waiting == 0
    return {"one_monitor": one, "two_monitors": two}


# ---- the run ------------------------------------------------------------------------------------


async def run(parts: Parts, cfg: Config) -> dict[str, Any]:
    workdir = parts.workdir
    database_url = cfg.database_url or f"sqlite:///{workdir / 'records.sqlite3'}"
    redis_part, redis_url = await start_redis(parts)
    # The monitors use a database of their own: the backend's clearance events are not theirs.
    monitor_url = redis_url.removesuffix("/0") + "/1"
    # The bare endpoint and the first monitor start now, the backend once its kiosks are
    # registered; each idles while another is measured.
    say(f"starting the bare endpoint ({cfg.workers} workers) and a queue monitor")
    backend_port, bare_port = free_port(), free_port()
    args = [sys.executable, str(SCRIPT), "--serve-bare", str(bare_port)]
    args += ["--workers", str(cfg.workers), "--log-level", cfg.log_level]
    bare = parts.start("bare", args, part_env())
    first_monitor = start_monitor(parts, MONITOR_NAMES[0], monitor_url)
    say(f"registering {cfg.kiosks} kiosk devices")
    kiosks = await asyncio.to_thread(register_kiosks, database_url, cfg.kiosks)
    say(f"starting the backend: {cfg.workers} workers on {redis_url}")
    args = [sys.executable, "-m", "bordergate.cli", "backend", "--port", str(backend_port)]
    args += ["--workers", str(cfg.workers)]
    env = part_env(
        REDIS_URL=redis_url,
        BORDERGATE_DATABASE_URL=database_url,
        BORDERGATE_LOG_LEVEL=cfg.log_level,
    )
    backend = parts.start("backend", args, env)
    requests = {
        hall: traveller_requests(hall, 600 if hall == "airport" else 150, cfg.seed)
        for hall in {k.hall for k in kiosks}
    }
    base, bare_base = f"http://127.0.0.1:{backend_port}", f"http://127.0.0.1:{bare_port}"
    await server_ready(backend, base, cfg.workers)
    await server_ready(bare, bare_base, cfg.workers)

    say("servers ready")
    since = datetime.now(UTC)
    backend_senders = BackendSenders(base, kiosks, requests)
    try:
        backend_results = await http_phases(
            redis_part, backend, backend_senders, kiosks, cfg, "backend"
        )
    finally:
        await backend_senders.aclose()
    # Requests the kiosks gave up on may still be in the workers: let them finish (a graceful
    # stop waits for them, up to uvicorn's 5 s), then compare what was recorded and published.
    await asyncio.sleep(1.0)
    parts.stop(backend)
    say("backend stopped: checking the records against the answers")
    records = await check_records(database_url, redis_url, backend_senders, backend_results, since)

    bare_senders = BareSenders(bare_base, kiosks, requests)
    try:
        bare_results = await http_phases(redis_part, bare, bare_senders, kiosks, cfg, "bare")
    finally:
        await bare_senders.aclose()
    parts.stop(bare)

    monitor = await monitor_phases(parts, redis_part, first_monitor, monitor_url, cfg)
    return summarise(cfg, backend_results, bare_results, records, monitor)


def summarise(
    cfg: Config,
    backend: dict[str, PhaseResult],
    bare: dict[str, PhaseResult],
    records: dict[str, Any],
    monitor: dict[str, Any],
) -> dict[str, Any]:
    peak = PeakHour()
    b = {k: v.as_dict() for k, v in backend.items()}
    f = {k: v.as_dict() for k, v in bare.items()}
    p99 = b["peak"]["latency_ms"]["p99"]
    # The max closed-loop throughput: the best closed-loop phase, in decisions the kiosks got
    # within their budget (a late answer is a referral, not a decision).
    best = max(
        (k for k, r in b.items() if r["mode"] == "closed"), key=lambda k: b[k]["decisions_per_s"]
    )
    max_rate = b[best]["decisions_per_s"]
    bare_best = max(r["decisions_per_s"] for r in f.values() if r["mode"] == "closed")
    margin = max_rate / peak.rate_per_s

    def quotient(x: float | None, y: float | None, digits: int = 2) -> float | None:
        return round(x / y, digits) if x and y else None

    ratio = {
        "max_throughput": quotient(max_rate, bare_best, 3),
        "cpu_per_decision": quotient(
            b["max"]["cpu_ms_per_decision"], f["max"]["cpu_ms_per_decision"]
        ),
        "p50_at_peak": quotient(b["peak"]["latency_ms"]["p50"], f["peak"]["latency_ms"]["p50"]),
        "p99_at_peak": quotient(p99, f["peak"]["latency_ms"]["p99"]),
    }
    errors = {k: r["errors"] for k, r in b.items() if r["errors"]}
    met = p99 is not None and p99 < P99_TARGET_MS and b["peak"]["errors"] == 0
    one, two = monitor["one_monitor"], monitor["two_monitors"]
    headroom = quotient(P99_TARGET_MS, p99, 1)
    stressed = next((k for k in b if k.startswith("peak_x")), None)
    at_stress = (
        f"; at {stressed.removeprefix('peak_x')}x that rate p99 "
        f"{fmt(b[stressed]['latency_ms']['p99'])} ms"
        if stressed
        else ""
    )
    summary = (
        f"{cfg.kiosks} kiosks, {cfg.workers} backend workers, {cfg.duration_s:g} s a phase "
        f"({cfg.peak_duration_s:g} s at the peak-hour rate). "
        f"Peak-hour load {peak.arrivals_per_hour:,.0f} entries/h ({peak.rate_per_s:.2f}/s, "
        f"{peak.airport}): p99 {fmt(p99)} ms against {P99_TARGET_MS:.0f} ms "
        f"({'met' if met else 'NOT met'}, {headroom}x under it; "
        f"{b['peak']['latency_ms']['samples']} samples; p50 {fmt(b['peak']['latency_ms']['p50'])}"
        f" ms; bare endpoint p50 {fmt(f['peak']['latency_ms']['p50'])}, p99 "
        f"{fmt(f['peak']['latency_ms']['p99'])} ms{at_stress}). Max closed-loop throughput "
        f"{max_rate:.0f} decisions/s answered within the kiosk's {KIOSK_BUDGET_S:g} s ({best}), "
        f"{margin:.0f}x the peak-hour rate; bare FastAPI {bare_best:.0f}/s (ratio "
        f"{ratio['max_throughput']}); CPU {b['max']['cpu_ms_per_decision']} ms a decision vs "
        f"{f['max']['cpu_ms_per_decision']} ms. Errors by phase {errors or 'none'}; records "
        f"match: {records['match']}. Queue monitor {one['events_per_s']:.0f} events/s alone, "
        f"{two['events_per_s']:.0f}/s with two (each event once: {two['each_event_once']})."
    )
    database = "sqlite"
    if cfg.database_url and cfg.database_url.startswith("postgres"):
        database = "postgresql"
    return {
        "summary": summary,
        "config": {
            "workers": cfg.workers,
            "kiosks": cfg.kiosks,
            "duration_s": cfg.duration_s,
            "peak_duration_s": cfg.peak_duration_s,
            "database": database,
            "server_log_level": cfg.log_level,
            "kiosk_budget_s": KIOSK_BUDGET_S,
            "cpus": os.cpu_count(),
            "seed": cfg.seed,
        },
        "peak_hour": peak.as_dict(),
        "target": {
            "p99_ms_at_peak": p99,
            "limit_ms": P99_TARGET_MS,
            "met": met,
            "p99_headroom": headroom,
            "max_phase": best,
            "max_decisions_per_s": max_rate,
            "margin": round(margin, 1),
            "margin_all_egates_busy": round(max_rate / (EGATES / EGATE_SECONDS_PER_TRAVELLER), 1),
        },
        "backend": b,
        "bare": f,
        "ratio": ratio,
        "records": records,
        "monitor": monitor,
    }


def print_table(figures: dict[str, Any]) -> None:
    head = (
        f"{'server':<8}{'phase':<10}{'rate/s':>8}{'decided':>9}{'per s':>8}{'p50':>8}"
        f"{'p90':>8}{'p99':>8}{'max':>8}{'errors':>7}{'cpu ms':>8}{'redis s':>8}{'client s':>9}"
    )
    print(head)
    print("-" * len(head))
    for server in ("backend", "bare"):
        for phase, r in figures[server].items():
            lat = r["latency_ms"]
            rate = r["target_rate_per_s"]
            print(
                f"{server:<8}{phase:<10}{'-' if rate is None else f'{rate:.1f}':>8}"
                f"{r['decisions']:>9}{r['decisions_per_s']:>8.1f}{fmt(lat['p50']):>8}"
                f"{fmt(lat['p90']):>8}{fmt(lat['p99']):>8}{fmt(lat['max']):>8}{r['errors']:>7}"
                f"{r['cpu_ms_per_decision'] or 0:>8.2f}{r['redis_cpu_s']:>8.2f}"
                f"{r['client_cpu_s']:>9.2f}"
            )
    print(
        "(latencies in ms; per s: decisions answered within the kiosk's budget; cpu ms: the "
        "server's CPU per decision it made, for the backend the ones it recorded)"
    )
    rec_rates = {p: r["recorded_per_s"] for p, r in figures["backend"].items()}
    print(f"backend clearances recorded per s (answered in time or not): {rec_rates}")
    for server in ("backend", "bare"):
        kinds = {p: r["error_kinds"] for p, r in figures[server].items() if r["error_kinds"]}
        if kinds:
            print(f"{server} errors: {kinds}")
    peak = figures["peak_hour"]
    print()
    print(
        f"Peak-hour load: {peak['airport']}, {peak['annual_crossings'] / 1e6:.2f} M crossings/yr"
        f" x {peak['arrival_share']} arriving / 365 x {peak['peak_day_factor']} peak day x "
        f"{peak['peak_hour_share']} in the busiest hour = {peak['arrivals_per_hour']:,} /h "
        f"= {peak['rate_per_s']:.2f} decisions/s (all {EGATES} e-gates busy: "
        f"{peak['all_egates_busy_per_s']:.1f}/s)"
    )
    t = figures["target"]
    print(
        f"p99 at the peak-hour rate: {fmt(t['p99_ms_at_peak'])} ms against {t['limit_ms']:.0f} ms"
        f" -> {'PASS' if t['met'] else 'FAIL'}; margin (max throughput, {t['max_phase']}, / "
        f"peak-hour rate): {t['margin']:.0f}x ({t['margin_all_egates_busy']:.1f}x all "
        f"{EGATES} e-gates busy)"
    )
    ratio = figures["ratio"]
    print(
        f"backend / bare: max throughput {ratio['max_throughput']}, CPU per decision "
        f"{ratio['cpu_per_decision']}x, p50 at peak {ratio['p50_at_peak']}x, p99 at peak "
        f"{ratio['p99_at_peak']}x"
    )
    rec = figures["records"]
    print(
        f"records: {rec['sent']} sent, {rec['answered']} answered, {rec['recorded']} recorded, "
        f"{rec['published_distinct']} published ({rec['published_repeats']} repeated: at least "
        f"once), {rec['outbox_pending']} pending in the outbox -> "
        f"{'PASS' if rec['match'] else 'FAIL'}"
    )
    one, two = figures["monitor"]["one_monitor"], figures["monitor"]["two_monitors"]
    print(
        f"queue monitor: one {one['events_per_s']:.0f} events/s ({one['cpu_ms_per_event']} ms "
        f"CPU each); two {two['events_per_s']:.0f} events/s (applied {two['applied_by_monitor']},"
        f" each once: {'PASS' if two['each_event_once'] else 'FAIL'})"
    )


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # A SIGTERM unwinds like Ctrl-C, so the finally below stops every process started.
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="bordergate-load-"))
    try:
        yield path
    finally:
        if keep:
            say(f"logs kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds per phase")
    parser.add_argument(
        "--peak-duration", type=float, help="Seconds of the peak-hour phase (default: the larger "
        "of --duration and 120, for a few hundred samples)"
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="A short run (under a minute)")
    parser.add_argument("--workers", type=int, default=4, help="uvicorn workers of each server")
    parser.add_argument("--kiosks", type=int, default=200, help="Simulated kiosks (>= 200)")
    parser.add_argument(
        "--stress", type=float, default=10.0, help="Also an open-loop phase at this many times "
        "the peak-hour rate (0: none)"
    )  # fmt: skip
    parser.add_argument(
        "--few-kiosks", type=int, default=40, help="Also a closed-loop phase with only this "
        "many kiosks (0: none): the throughput without a queue past the kiosks' 2 s budget"
    )  # fmt: skip
    parser.add_argument("--monitor-events", type=int, default=10_000)
    parser.add_argument("--database-url", help="Records store (default: SQLite in a tmp dir)")
    parser.add_argument("--log-level", default="INFO", help="The servers' log level")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--keep-logs", action="store_true", help="Keep the servers' logs")
    parser.add_argument("--json", action="store_true", help="Print one JSON object")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers, args.log_level)
        return 0
    if args.kiosks < 1 or args.workers < 1 or args.duration <= 0 or args.monitor_events < 2:
        parser.error("kiosks, workers, duration and monitor events must be positive")
    if args.peak_duration is not None and args.peak_duration <= 0:
        parser.error("the peak-hour phase's duration must be positive")
    cfg = Config(
        duration_s=min(args.duration, 3.0) if args.quick else args.duration,
        peak_duration_s=(
            min(args.duration, 3.0)
            if args.quick
            else args.peak_duration or max(args.duration, PEAK_PHASE_MIN_S)
        ),
        workers=min(args.workers, 2) if args.quick else args.workers,
        kiosks=args.kiosks,
        stress=args.stress,
        few_kiosks=0 if args.quick else args.few_kiosks,
        monitor_events=min(args.monitor_events, 1000) if args.quick else args.monitor_events,
        database_url=args.database_url,
        seed=args.seed,
        log_level=args.log_level,
    )
    signal.signal(signal.SIGTERM, _terminate)
    from bordergate.logging import configure_logging

    # This process's own log lines (the kiosk client's retries) go to stderr, never into --json.
    configure_logging("WARNING", json=False)
    started = time.monotonic()
    with workspace(args.keep_logs) as workdir:
        parts = Parts(workdir)
        try:
            figures = asyncio.run(run(parts, cfg))
        except KeyboardInterrupt:
            say("interrupted: stopping every process started")
            return 130
        finally:
            parts.stop_all()
    figures["config"]["wall_s"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(figures, allow_nan=False))
    else:
        print_table(figures)
        print(f"\n{figures['summary']}  ({figures['config']['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
