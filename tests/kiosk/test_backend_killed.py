"""The backend dies while a kiosk's decision request is in flight: refer, gate shut."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from pathlib import Path

import pytest

from bordergate.contracts import Outcome, ReasonCode
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import PopulationMix, TravellerFactory
from kiosk.backend_client import BackendClient
from kiosk.session import KioskSession, SessionState
from kiosk.settings import KioskSettings
from tests.auth_helpers import register_device_for
from tests.conftest import free_port
from tests.kiosk.conftest import FakeVerifier
from tests.processes import part_env, start_part, stop_part, wait_http_ok

CITIZENS_ONLY = PopulationMix(
    citizens=1.0, expired=0.0, forged_check_digit=0.0, impostors=0.0, walk_away=0.0
)


class KillingProxy:
    """Forwards a connection to the backend; once a clearance request has been passed on,
    SIGKILLs the backend process, so the kiosk's request dies mid-flight."""

    def __init__(self, upstream_port: int, backend: subprocess.Popen[bytes]) -> None:
        self.upstream_port = upstream_port
        self.backend = backend
        self.killed_after_forwarding = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        try:
            data = await reader.read(65536)
            up_writer.write(data)
            await up_writer.drain()
            if b"POST /v1/clearances" in data and self.backend.poll() is None:
                self.backend.send_signal(signal.SIGKILL)
                self.backend.wait()
                self.killed_after_forwarding = True
            reply = await up_reader.read(65536)  # b"" once the backend is dead
            if reply:
                writer.write(reply)
                await writer.drain()
        except OSError:
            pass
        finally:
            for w in (up_writer, writer):
                with contextlib.suppress(OSError):
                    w.close()


@pytest.mark.slow
async def test_backend_killed_mid_request_refers_and_gate_stays_shut(
    tmp_path: Path, faces_dir: Path
) -> None:
    port = free_port()
    env = part_env(
        BORDERGATE_PORT=str(port),
        BORDERGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'records.sqlite3'}",
    )
    backend = start_part(["backend"], env, tmp_path / "backend.log")
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", backend)
        proxy = KillingProxy(port, backend)
        server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        proxy_port = server.sockets[0].getsockname()[1]

        settings = KioskSettings(
            lane_id="A1", speed=100.0, device_grace_s=0.1, backend_timeout_s=3.0,
            burst_interval_s=0.0,
        )  # fmt: skip
        traveller = TravellerFactory(
            seed=5, faces_dir=faces_dir, mix=CITIZENS_ONLY
        ).next()  # a citizen: the backend would have admitted them
        lane = MockLane("A1", speed=settings.speed, seed=1)
        lane.present(traveller)
        states: list[SessionState] = []
        token = register_device_for(
            f"sqlite:///{tmp_path / 'records.sqlite3'}", "airport", settings.lane_id
        )
        client = BackendClient(
            f"http://127.0.0.1:{proxy_port}", settings.backend_timeout_s, device_token=token
        )
        session = KioskSession(
            settings,
            lane.devices,
            client,
            FakeVerifier(matched=True),
            observer=lambda u: states.append(u.state),
            traveller_ref=traveller.traveller_ref,
        )
        async with client:
            result = await session.run()
        server.close()
        await server.wait_closed()
    finally:
        stop_part(backend)

    assert proxy.killed_after_forwarding, "the backend was not killed mid-request"
    assert backend.returncode == -signal.SIGKILL
    assert result.outcome is Outcome.REFER
    assert result.reasons == [ReasonCode.BACKEND_UNAVAILABLE]
    assert SessionState.DECISION in states
    assert SessionState.GATE_OPEN not in states
    assert not lane.gate.ever_opened, lane.gate.history
    assert not await lane.gate.is_open()
