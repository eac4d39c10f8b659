"""Process faults: a backend worker killed mid-request, a kiosk killed mid-transaction.

Real processes on loopback (``tests.reliability.cluster``): redis-server, ``bordergate backend
--workers 2`` under uvicorn's supervisor, ``bordergate kiosk``. Workers are found and killed by
PID (SIGKILL), the one serving a given connection read from ``/proc`` (Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from backend.audit.chain import verify_chain_counted
from backend.records.store import RecordsStore
from bordergate.clearance_api import ClearanceRequest, FaceResult
from bordergate.contracts import Hall, Outcome, ReasonCode
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import PopulationMix, TravellerFactory
from kiosk.backend_client import BackendClient
from kiosk.session import KioskSession, SessionState
from kiosk.settings import KioskSettings
from kiosk.transaction_marker import MARKER_FIELDS, TransactionMarker
from tests.conftest import ReliabilityCase
from tests.kiosk.conftest import FakeVerifier
from tests.processes import wait_http_ok
from tests.reliability.cluster import Cluster, citizen_document, wait_until

pytestmark = [pytest.mark.reliability("faults"), pytest.mark.slow]

CITIZENS_ONLY = PopulationMix(
    citizens=1.0, expired=0.0, forged_check_digit=0.0, impostors=0.0, walk_away=0.0
)


# ---- uvicorn's workers, from /proc ---------------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_pids(supervisor: int) -> set[int]:
    """The live worker processes uvicorn's supervisor ``supervisor`` runs."""
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) != supervisor or fields[0] == "Z":
            continue
        cmd = _cmdline(int(entry.name))
        if "multiprocessing" in cmd and "resource_tracker" not in cmd:
            pids.add(int(entry.name))
    return pids


def _socket_inode(local_port: int, remote_port: int) -> int | None:
    """The inode of the loopback TCP socket ``local_port`` <- ``remote_port`` (IPv4)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local, remote, inode = cols[1], cols[2], int(cols[9])
        if (
            int(local.split(":")[1], 16) == local_port
            and int(remote.split(":")[1], 16) == remote_port
        ):
            return inode or None
    return None


def _fd_sockets(pid: int) -> set[int]:
    inodes: set[int] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(int(link[8:-1]))
    return inodes


def busiest_worker(supervisor: int, backend_port: int) -> tuple[int, int]:
    """The worker holding the most established client connections, and how many."""
    established: set[int] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if int(cols[1].split(":")[1], 16) == backend_port and cols[3] == "01":
            established.add(int(cols[9]))
    counts = {pid: len(_fd_sockets(pid) & established) for pid in worker_pids(supervisor)}
    pid = max(counts, key=lambda p: counts[p])
    return pid, counts[pid]


def worker_serving(supervisor: int, backend_port: int, client_port: int) -> int | None:
    """The worker holding the backend end of the connection from ``client_port``, if accepted."""
    inode = _socket_inode(backend_port, client_port)
    if inode is None:
        return None
    for pid in worker_pids(supervisor):
        if inode in _fd_sockets(pid):
            return pid
    return None


def start_workers(cluster: Cluster, workers: int = 2) -> subprocess.Popen[bytes]:
    """``bordergate backend --workers N``; returns once /readyz answers and all N are up."""
    proc = cluster.start(
        "backend",
        ["backend", "--workers", str(workers)],
        BORDERGATE_OUTBOX_REPLAY_INTERVAL_S="0.5",
        BORDERGATE_OUTBOX_REPLAY_GRACE_S="1.0",
    )
    wait_http_ok(f"{cluster.backend_url}/readyz", proc, timeout_s=60)
    wait_until(lambda: len(worker_pids(proc.pid)) == workers, timeout_s=30)
    return proc


def wait_replaced(supervisor: int, killed: set[int], backend_url: str, workers: int = 2) -> float:
    """Seconds until the supervisor runs ``workers`` live workers again, none of them killed."""

    def replaced() -> bool:
        live = worker_pids(supervisor)
        if len(live) != workers or live & killed:
            return False
        try:
            return httpx.get(f"{backend_url}/readyz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return wait_until(replaced, timeout_s=60, step_s=0.05)


# ---- what the records store holds ----------------------------------------------------------


def _hex(value: object) -> str:
    return uuid.UUID(str(value)).hex


@dataclass
class Kept:
    """The records of some request ids: clearances and what must come with each."""

    clearances: dict[str, dict[str, Any]]
    """request id (hex) -> {clearance_id, outcome, audit, outbox, referrals}."""
    duplicates: list[str]


def kept_for(cluster: Cluster, request_ids: list[uuid.UUID]) -> Kept:
    rows = cluster.query("SELECT request_id, clearance_id, outcome FROM clearances")
    audit = cluster.query("SELECT subject FROM audit_log WHERE kind = 'clearance'")
    outbox = cluster.query("SELECT fields FROM outbox")
    referrals = cluster.query("SELECT clearance_id FROM referrals WHERE clearance_id IS NOT NULL")
    audited = [_hex(subject) for (subject,) in audit]
    outboxed: list[str] = []
    for (fields,) in outbox:
        data = json.loads(json.loads(fields)["data"] if isinstance(fields, str) else fields["data"])
        if "clearance_id" in data:
            outboxed.append(_hex(data["clearance_id"]))
    referred = [_hex(cid) for (cid,) in referrals]
    wanted = {r.hex for r in request_ids}
    out: dict[str, dict[str, Any]] = {}
    duplicates: list[str] = []
    for request_id, clearance_id, outcome in rows:
        key = _hex(request_id)
        if key not in wanted:
            continue
        if key in out:
            duplicates.append(key)
        cid = _hex(clearance_id)
        out[key] = {
            "clearance_id": cid,
            "outcome": outcome,
            "audit": audited.count(cid),
            "outbox": outboxed.count(cid),
            "referrals": referred.count(cid),
        }
    return Kept(out, duplicates)


def complete(record: dict[str, Any]) -> bool:
    """The clearance came with its audit entry, its event and (if referred) its referral."""
    wants_referral = 1 if record["outcome"] == Outcome.REFER.value else 0
    whole: bool = record["audit"] == record["outbox"] == 1 and record["referrals"] == wants_referral
    return whole


# ---- a proxy that kills the worker serving a clearance request ------------------------------


@dataclass
class WorkerKillingProxy:
    """Passes connections to the backend; a ``POST /v1/clearances`` is forwarded all but its
    last byte, so the worker that accepted it is certainly mid-request, then that worker is
    SIGKILLed (found through /proc) and the connection dropped."""

    backend_port: int
    supervisor: int
    killed: list[int] = field(default_factory=list)
    killed_at: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        match = re.search(rb"(?i)content-length:\s*(\d+)", head)
        body = await reader.readexactly(int(match.group(1))) if match else b""
        return head, body

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head, body = await self._read_request(reader)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except (OSError, asyncio.IncompleteReadError):
            writer.close()
            return
        try:
            if head.startswith(b"POST /v1/clearances") and body:
                self.bodies.append(body)
                up_writer.write(head + body[:-1])
                await up_writer.drain()
                port = up_writer.get_extra_info("sockname")[1]
                pid = None
                for _ in range(200):  # until a worker accepted it
                    pid = worker_serving(self.supervisor, self.backend_port, port)
                    if pid is not None:
                        break
                    await asyncio.sleep(0.005)
                assert pid is not None, "no worker accepted the connection"
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)
                self.killed_at.append(time.monotonic())
                return  # the kiosk sees its connection close without an answer
            up_writer.write(head + body)
            await up_writer.drain()
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            for w in (up_writer, writer):
                with contextlib.suppress(OSError):
                    w.close()


def write_faces(folder: Path) -> Path:
    rng = np.random.default_rng(5)
    for name in ("alpha", "beta"):
        (folder / name).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (125, 125, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{name}_{i}.jpg")
    return folder


# ---- 1. a backend worker killed mid-request --------------------------------------------------


async def test_a_kiosk_whose_backend_worker_is_killed_mid_request_refers_and_a_retry_records_once(
    reliability_case: ReliabilityCase, make_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    reliability_case.injects(
        "A kiosk sends a citizen's clearance request to `bordergate backend --workers 2`; the "
        "worker that accepted it is SIGKILLed while it is reading the request, and so is the "
        "worker that accepts the kiosk's one retry (same request id)."
    )
    cluster = make_cluster()
    cluster.redis.start()
    backend = start_workers(cluster)
    token = cluster.register_device("airport", "W1")
    before = worker_pids(backend.pid)

    proxy = WorkerKillingProxy(cluster.backend_port, backend.pid)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    settings = KioskSettings(
        lane_id="W1", speed=100.0, device_grace_s=0.2, backend_timeout_s=3.0, burst_interval_s=0.0
    )
    factory = TravellerFactory(seed=8, faces_dir=write_faces(tmp_path / "faces"), mix=CITIZENS_ONLY)
    traveller = factory.next()  # a citizen whose face matches: the backend would admit
    lane = MockLane("W1", speed=settings.speed, seed=2, pages=False)
    lane.present(traveller)
    states: list[SessionState] = []
    client = BackendClient(proxy_url, settings.backend_timeout_s, device_token=token)
    session = KioskSession(
        settings, lane.devices, client, FakeVerifier(matched=True),
        observer=lambda u: states.append(u.state), traveller_ref=traveller.traveller_ref,
    )  # fmt: skip
    async with client:
        result = await session.run()
    server.close()
    await server.wait_closed()

    assert len(proxy.killed) == 2, proxy.killed
    assert proxy.killed[0] in before
    assert result.outcome is Outcome.REFER
    assert result.reasons == [ReasonCode.BACKEND_UNAVAILABLE], result.detail
    assert SessionState.GATE_OPEN not in states
    assert not lane.gate.ever_opened
    assert not await lane.gate.is_open()

    await asyncio.to_thread(wait_replaced, backend.pid, set(proxy.killed), cluster.backend_url)
    replaced_s = time.monotonic() - proxy.killed_at[-1]
    assert result.request_id is not None
    assert kept_for(cluster, [result.request_id]).clearances == {}  # nothing half-written

    # The retry of the very request the kiosk sent (same id, same body) records it once.
    body = proxy.bodies[0]
    assert all(b == body for b in proxy.bodies)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=cluster.backend_url, timeout=5.0) as http:
        first = await http.post("/v1/clearances", content=body, headers=headers)
        again = await http.post("/v1/clearances", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["clearance_id"] == again.json()["clearance_id"]
    kept = kept_for(cluster, [result.request_id])
    assert kept.duplicates == []
    (record,) = kept.clearances.values()
    assert complete(record), record
    assert backend.poll() is None  # the supervisor itself never stopped

    reliability_case.asserts(
        "The kiosk refers the traveller (backend-unavailable) and the gate never opens; nothing "
        "of the request is in the records store; uvicorn replaces both killed workers; the "
        "same request sent again is recorded once, with its audit entry and outbox event, and "
        "a further retry is answered from the record (Idempotent-Replayed)."
    )
    reliability_case.measured(
        "both workers replaced and ready, after the second kill", round(replaced_s, 2), "s"
    )
    reliability_case.measured("kiosk session, start to referral", round(result.total_s, 2), "s")


async def test_killing_a_backend_worker_under_load_leaves_each_request_whole_or_absent(
    reliability_case: ReliabilityCase, make_cluster: Callable[..., Cluster]
) -> None:
    clients = 12
    reliability_case.injects(
        f"{clients} clients send clearance requests back to back (a mix the backend admits and "
        "refers) to `bordergate backend --workers 2`; after 1 s one worker is SIGKILLed, at "
        "whatever point of whatever requests it was serving."
    )
    cluster = make_cluster()
    cluster.redis.start()
    backend = start_workers(cluster)
    token = cluster.register_device("airport", "L1")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    victims: list[tuple[int, int]] = []
    killed_at: list[float] = []

    sent: dict[uuid.UUID, bytes] = {}
    answered: dict[uuid.UUID, int] = {}
    failed: dict[uuid.UUID, str] = {}
    stop = asyncio.Event()
    counter = iter(range(1_000_000))

    async def client_loop(n: int) -> None:
        # One connection per client, no retry: a failure is what the kill did to it.
        async with httpx.AsyncClient(base_url=cluster.backend_url, timeout=10.0) as http:
            while not stop.is_set():
                i = next(counter)
                request = ClearanceRequest(
                    request_id=uuid.uuid4(), hall=Hall.AIRPORT, lane_id="L1",
                    arrival_time=datetime.now(UTC), document=citizen_document(f"L{i:08d}"),
                    face=FaceResult(matched=i % 3 != 0, score=0.9 if i % 3 else 0.2),
                )  # fmt: skip
                body = request.model_dump_json().encode()
                sent[request.request_id] = body
                try:
                    response = await http.post("/v1/clearances", content=body, headers=headers)
                except httpx.HTTPError as exc:
                    failed[request.request_id] = type(exc).__name__
                    continue
                answered[request.request_id] = response.status_code

    async def killer() -> None:
        await asyncio.sleep(1.0)
        # The worker serving most of the clients' connections (the kernel spreads them).
        victims.append(busiest_worker(backend.pid, cluster.backend_port))
        os.kill(victims[0][0], signal.SIGKILL)
        killed_at.append(time.monotonic())
        await asyncio.sleep(1.0)
        stop.set()

    async with asyncio.TaskGroup() as tg:
        for n in range(clients):
            tg.create_task(client_loop(n))
        tg.create_task(killer())

    ((victim, connections),) = victims
    await asyncio.to_thread(wait_replaced, backend.pid, {victim}, cluster.backend_url)
    replaced_s = time.monotonic() - killed_at[0]
    assert failed, "the kill hit no request in flight"
    assert set(answered.values()) <= {200, 201}, answered
    kept = kept_for(cluster, list(sent))
    assert kept.duplicates == []
    incomplete = {k: v for k, v in kept.clearances.items() if not complete(v)}
    assert incomplete == {}, incomplete
    answered_ok = {r.hex for r, status in answered.items() if status in (200, 201)}
    assert answered_ok <= set(kept.clearances)  # every answer given is on record
    committed_before_kill = [r for r in failed if r.hex in kept.clearances]

    # Every failed request retried with its id and body: recorded exactly once.
    statuses = []
    async with httpx.AsyncClient(base_url=cluster.backend_url, timeout=10.0) as http:
        for request_id in failed:
            response = await http.post("/v1/clearances", content=sent[request_id], headers=headers)
            statuses.append((response.status_code, response.headers.get("Idempotent-Replayed")))
    retried = kept_for(cluster, list(failed))
    assert retried.duplicates == []
    assert set(retried.clearances) == {r.hex for r in failed}
    assert all(complete(v) for v in retried.clearances.values())
    replays = sum(1 for _, replayed in statuses if replayed == "true")
    assert replays == len(committed_before_kill)
    store = RecordsStore(cluster.database_url)
    try:
        broken, entries = verify_chain_counted(store)
    finally:
        store.dispose()
    assert broken is None, broken
    assert backend.poll() is None

    reliability_case.asserts(
        "Every request the kill cut off is either wholly recorded (clearance, audit entry, "
        "outbox event, and the referral if referred) or not at all; every answer given is on "
        "record; each cut-off request retried with its id is recorded exactly once (a replay "
        "where it had committed before the kill); the audit chain verifies; uvicorn replaces "
        "the worker."
    )
    reliability_case.measured("requests sent", len(sent))
    reliability_case.measured("client connections on the killed worker", connections)
    reliability_case.measured("requests cut off by the kill", len(failed))
    reliability_case.measured("of which committed before the kill", len(committed_before_kill))
    reliability_case.measured(
        "worker replaced and ready, after the kill", round(replaced_s, 2), "s"
    )
    reliability_case.measured("audit entries verified", entries)


# ---- 2. a kiosk killed mid-transaction -------------------------------------------------------


def simulated_data_dir(folder: Path) -> Path:
    """A ``BORDERGATE_DATA_DIR`` whose faces no detector finds: every face step runs until its
    quality budget, long enough to kill the kiosk in it."""
    write_faces(folder / "faces" / "lfw_crops")
    return folder


def identities(data_dir: Path, count: int) -> list[str]:
    """Document numbers and surnames of the first ``count`` travellers of a standalone kiosk
    (its crowd draws them from ``TravellerFactory(seed=0)``, as here)."""
    factory = TravellerFactory(seed=0, hall=Hall.AIRPORT, faces_dir=data_dir / "faces/lfw_crops")
    out: list[str] = []
    for _ in range(count):
        line1, line2 = factory.next().mrz_lines
        out += [line2[:9].rstrip("<"), line1[5:].split("<<")[0].replace("<", " ")]
    return out


def files_text(folder: Path) -> str:
    return "\n".join(
        p.read_bytes().decode(errors="replace") for p in folder.rglob("*") if p.is_file()
    )


async def test_a_kiosk_killed_mid_transaction_keeps_the_gate_shut_and_reports_it_abandoned(
    reliability_case: ReliabilityCase, make_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    reliability_case.injects(
        "`bordergate kiosk` is SIGKILLed while a traveller is in the face step (seen from its "
        "in-progress marker), then started again with the same state folder."
    )
    cluster = make_cluster()
    cluster.redis.start()
    cluster.start_backend()
    token = cluster.register_device("airport", "K1")
    state = tmp_path / "kiosk-state"
    data_dir = simulated_data_dir(tmp_path / "data")
    args = ["kiosk", "--lane", "K1", "--hall", "airport", "--backend-url", cluster.backend_url,
            "--speed", "4", "--arrivals-per-min", "60"]  # fmt: skip
    env = {
        "BORDERGATE_DEVICE_TOKEN": token,
        "BORDERGATE_STATE_DIR": str(state),
        "BORDERGATE_DATA_DIR": str(data_dir),
    }
    marker_path = state / "K1.transaction.json"
    gate_path = state / "K1.mock-gate.json"

    def marker_now() -> dict[str, Any]:
        try:
            saved: dict[str, Any] = json.loads(marker_path.read_text())
        except (OSError, ValueError):
            return {}
        return saved

    def in_face_step() -> bool:
        return marker_now().get("step") == SessionState.FACE.value

    kiosk = cluster.start("kiosk", args, **env)
    await asyncio.to_thread(wait_until, in_face_step, 60, 0.01)
    cluster.kill("kiosk")
    assert kiosk.returncode == -signal.SIGKILL

    raw = json.loads(marker_path.read_text())
    assert set(raw) <= MARKER_FIELDS
    marker = TransactionMarker.model_validate(raw)
    assert marker.step == "face"
    assert marker.request_id is None  # no clearance was asked for
    gate = json.loads(gate_path.read_text())
    assert gate["open"] is False
    assert sorted(p.name for p in state.iterdir()) == [gate_path.name, marker_path.name]
    left_behind = files_text(state) + cluster.log("kiosk").read_text()
    leaked = [token_ for token_ in identities(data_dir, 10) if token_ in left_behind]
    assert leaked == [], leaked
    assert cluster.query("SELECT count(*) FROM clearances")[0][0] == 0
    abandoned_sql = "SELECT request_id, source, lane_id, document, status FROM referrals"

    def abandoned() -> list[Any]:
        return [r for r in cluster.query(abandoned_sql + " WHERE reasons LIKE '%abandoned%'")]

    assert abandoned() == []

    cluster.start("kiosk-again", args, **env)
    reported_s = await asyncio.to_thread(wait_until, lambda: bool(abandoned()), 60, 0.05)
    ((request_id, source, lane_id, document, status),) = abandoned()
    # The restart checked the devices first: the gate is shut, the next traveller served.
    next_session = lambda: marker_now().get("session_id", marker.session_id) != marker.session_id  # noqa: E731
    await asyncio.to_thread(wait_until, next_session, 60, 0.05)
    cluster.stop("kiosk-again")
    gate_after = json.loads(gate_path.read_text())

    assert uuid.UUID(str(request_id)) == uuid.UUID(hex=marker.session_id)
    assert source == "kiosk"
    assert lane_id == "K1"
    assert document in (None, "null")  # no document data (JSON null)
    assert status == "open"
    assert not list(state.glob("K1.abandoned.*"))
    assert gate_after["open"] is False
    assert gate_after["opens"] == gate_after["closes"]
    reliability_case.asserts(
        "The gate stays shut (its door state, kept outside the kiosk process, never opened); "
        "the kiosk left only its in-progress marker (session id, lane, hall, step, start time) "
        "and none of the first ten simulated travellers' document numbers or names in any file "
        "or its log; no clearance was recorded. On restart the kiosk reports the session to the "
        "backend as an open kiosk referral with reason session-abandoned (no document data, "
        "keyed by the session id so a repeat cannot open a second one), deletes the marker, "
        "checks its devices with the gate closed and serves the next traveller."
    )
    reliability_case.measured("abandoned session reported after restart", round(reported_s, 2), "s")
