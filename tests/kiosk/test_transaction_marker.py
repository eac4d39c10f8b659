"""The in-progress marker: written per step, kept only by a session cut short, reported once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx

from bordergate.contracts import Hall
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import TravellerFactory
from kiosk.backend_client import BackendClient
from kiosk.session import KioskSession
from kiosk.settings import KioskSettings
from kiosk.transaction_marker import MARKER_FIELDS, MarkerFile, TransactionMarker
from tests.kiosk.conftest import FakeVerifier, RecordingBackend, wait_until


async def test_a_finished_session_leaves_no_marker(
    tmp_path: Path, settings: KioskSettings, factory: TravellerFactory
) -> None:
    marker = MarkerFile(tmp_path / "state", settings.lane_id)
    steps: list[str] = []
    lane = MockLane(settings.lane_id, speed=settings.speed, pages=False)
    lane.present(factory.next())

    def observe(_: object) -> None:
        if marker.path.exists():
            steps.append(TransactionMarker.model_validate_json(marker.path.read_text()).step)

    async with RecordingBackend().client() as client:
        session = KioskSession(
            settings, lane.devices, client, FakeVerifier(), marker=marker, observer=observe
        )
        result = await session.run()
    assert steps[:3] == ["document", "face", "journey"]
    assert result.final_state.value in steps
    assert not marker.path.exists()
    assert marker.abandoned() == []


async def test_a_session_cut_short_keeps_its_marker_without_personal_data(
    tmp_path: Path, settings: KioskSettings, factory: TravellerFactory
) -> None:
    marker = MarkerFile(tmp_path, settings.lane_id)
    traveller = factory.next()
    lane = MockLane(settings.lane_id, speed=settings.speed, pages=False)
    lane.present(traveller)
    lane.gate.passage_delay_s = 1000.0  # still in the gate when the kiosk stops
    async with RecordingBackend().client() as client:
        session = KioskSession(settings, lane.devices, client, FakeVerifier(), marker=marker)
        task = asyncio.create_task(session.run())
        await wait_until(lambda: lane.gate.ever_opened)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    text = marker.path.read_text()
    left = TransactionMarker.model_validate_json(text)
    assert left.step == "gate_open"
    assert left.request_id is not None  # the backend was asked: the report names the request
    assert left.session_id == session.session_id
    assert traveller.mrz_lines[1][:9].rstrip("<") not in text
    assert set(TransactionMarker.model_validate_json(text).model_dump()) == MARKER_FIELDS
    assert not await lane.gate.is_open()


async def test_a_leftover_marker_is_reported_once_as_abandoned(tmp_path: Path) -> None:
    marker = MarkerFile(tmp_path, "A1")
    session_id = uuid.uuid4().hex
    marker.path.write_text(
        TransactionMarker(
            session_id=session_id, lane_id="A1", hall=Hall.AIRPORT, step="face",
            started_at="2026-11-27T10:00:00Z",
        ).model_dump_json()
    )  # fmt: skip
    adopted = marker.adopt_leftover(Hall.AIRPORT)
    assert adopted is not None
    assert not marker.path.exists()

    down = BackendClient("http://127.0.0.1:9", 0.2)
    async with down:
        assert await marker.report_abandoned(down) == 1  # kept for the next attempt
    assert len(marker.abandoned()) == 1

    backend = RecordingBackend()
    async with backend.client() as client:
        assert await marker.report_abandoned(client) == 0
    assert marker.abandoned() == []
    (report,) = backend.referrals
    assert report["reasons"] == ["session-abandoned"]
    assert report["request_id"] == str(uuid.UUID(hex=session_id))
    assert report["document"] is None
    assert "face step" in report["detail"]


async def test_an_unreadable_leftover_is_still_reported(tmp_path: Path) -> None:
    marker = MarkerFile(tmp_path, "A1")
    marker.path.write_text('{"session_id": "trunc')
    adopted = marker.adopt_leftover(Hall.AIRPORT)
    assert adopted is not None
    assert adopted.step == "unknown"
    backend = RecordingBackend()
    transport = httpx.MockTransport(backend)
    async with BackendClient("http://b.test", 0.5, transport=transport) as client:
        assert await marker.report_abandoned(client) == 0
    assert [r["reasons"] for r in backend.referrals] == [["session-abandoned"]]
