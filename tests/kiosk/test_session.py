from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn

from bordergate.contracts import Outcome, ReasonCode
from hardware_mocks._base import Fault
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import Traveller, TravellerFactory
from kiosk.backend_client import BackendClient
from kiosk.session import (
    InvalidTransitionError,
    KioskSession,
    SessionResult,
    SessionState,
    SessionUpdate,
)
from kiosk.settings import KioskSettings
from tests.conftest import free_port
from tests.kiosk.conftest import FakeVerifier, RecordingBackend, decision_for, wait_until

S = SessionState


@dataclasses.dataclass
class Run:
    result: SessionResult
    updates: list[SessionUpdate]
    lane: MockLane
    session: KioskSession


async def run_session(
    settings: KioskSettings,
    traveller: Traveller,
    backend: BackendClient,
    verifier: FakeVerifier | None = None,
    prepare: Callable[[MockLane], None] | None = None,
) -> Run:
    lane = MockLane(settings.lane_id, speed=settings.speed, seed=3)
    lane.present(traveller)
    if prepare is not None:
        prepare(lane)
    updates: list[SessionUpdate] = []
    session = KioskSession(
        settings,
        lane.devices,
        backend,
        verifier or FakeVerifier(),
        observer=updates.append,
        traveller_ref=traveller.traveller_ref,
    )
    async with backend:
        result = await session.run()
    return Run(result, updates, lane, session)


def assert_referred(run: Run, reason: ReasonCode) -> None:
    result = run.result
    assert result.outcome is Outcome.REFER
    assert result.reasons == [reason], result.detail
    assert result.final_state is S.REFER
    assert not result.gate_opened
    assert not result.passed_gate
    assert not run.lane.gate.ever_opened, run.lane.gate.history
    assert run.session.state is S.IDLE
    assert run.session.history[-2:] == [S.REFER, S.IDLE]
    refer = [u for u in run.updates if u.state is S.REFER]
    assert len(refer) == 1
    assert refer[0].reasons == [reason]
    assert refer[0].message_key == "see_officer"


async def test_happy_path_admits_and_opens_gate_once(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    traveller = factory.next()
    backend = RecordingBackend()
    verifier = FakeVerifier()
    run = await run_session(settings, traveller, backend.client(), verifier)

    result = run.result
    assert result.outcome is Outcome.ADMIT
    assert result.reasons == []
    assert result.final_state is S.GATE_OPEN
    assert result.gate_opened
    assert result.passed_gate
    assert result.clearance_id is not None
    assert result.scheme == "transit-144h"
    assert [e.action for e in run.lane.gate.history] == ["open", "passage", "close"]
    assert run.lane.gate.open_count == 1
    assert not await run.lane.gate.is_open()
    assert run.session.history == [S.IDLE, S.DOCUMENT, S.FACE, S.JOURNEY, S.DECISION,
                                   S.GATE_OPEN, S.IDLE]  # fmt: skip
    assert [u.state for u in run.updates] == run.session.history[1:]
    assert set(result.timings) == {"idle", "document", "face", "journey", "decision", "gate_open"}
    assert result.total_s < 3

    # What went to the backend: the document as read, the face result, the journey.
    (body,) = backend.requests
    assert body["request_id"] == str(result.request_id)
    assert body["lane_id"] == "T1"
    assert body["hall"] == "airport"
    assert body["document"]["nationality"] == traveller.nationality
    assert body["document"]["check_digits_valid"] is True
    assert body["face"] == {"matched": True, "score": 0.9, "liveness": "not_checked"}
    assert len(traveller.journey_barcodes) in (1, 2)  # inbound and onward (or one 2-leg pass)
    assert body["journey"] == [
        {"kind": "boarding_pass", "payload": text} for text in traveller.journey_barcodes
    ]
    assert verifier.calls == [(settings.burst_frames, (360, 300, 3))]


async def test_nothing_biometric_is_kept(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    run = await run_session(settings, factory.next(), RecordingBackend().client())
    assert run.result.outcome is Outcome.ADMIT
    dumped = run.result.model_dump_json() + "".join(u.model_dump_json() for u in run.updates)
    assert len(dumped) < 5000
    assert not [v for v in vars(run.session).values() if isinstance(v, np.ndarray)]


async def test_citizen_skips_journey(settings: KioskSettings, faces_dir: Any) -> None:
    from hardware_mocks.travellers import PopulationMix

    factory = TravellerFactory(seed=1, faces_dir=faces_dir, mix=PopulationMix(citizens=1.0))
    traveller = factory.next()
    assert traveller.nationality == "CHN"
    backend = RecordingBackend()
    run = await run_session(settings, traveller, backend.client())
    assert run.result.outcome is Outcome.ADMIT
    assert S.JOURNEY not in run.session.history
    assert backend.requests[0]["journey"] == []
    assert run.lane.scanner.scans == 0


async def test_missing_journey_is_left_to_the_backend(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    traveller = dataclasses.replace(factory.next(), journey_barcodes=())
    backend = RecordingBackend(
        lambda req: httpx.Response(
            200, json=decision_for(req, "refer", reasons=["journey-missing"])
        )
    )
    run = await run_session(settings, traveller, backend.client())
    assert_referred(run, ReasonCode.JOURNEY_MISSING)
    assert backend.requests[0]["journey"] == []  # nothing shown: the backend decides


async def test_backend_refers(settings: KioskSettings, factory: TravellerFactory) -> None:
    backend = RecordingBackend(
        lambda req: httpx.Response(200, json=decision_for(req, "refer", reasons=["face-mismatch"]))
    )
    run = await run_session(settings, factory.next(), backend.client(), FakeVerifier(False))
    assert_referred(run, ReasonCode.FACE_MISMATCH)
    assert run.result.clearance_id is not None
    assert backend.requests[0]["face"]["matched"] is False


async def test_backend_unreachable(settings: KioskSettings, factory: TravellerFactory) -> None:
    client = BackendClient(f"http://127.0.0.1:{free_port()}", settings.backend_timeout_s)
    run = await run_session(settings, factory.next(), client)
    assert_referred(run, ReasonCode.BACKEND_UNAVAILABLE)
    assert client.attempts == 2


@pytest.fixture
async def slow_backend_url() -> AsyncIterator[str]:
    """A real HTTP server on a free loopback port that answers only after 3 s."""
    release = asyncio.Event()
    hits: list[float] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        hits.append(time.monotonic())
        await receive()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), 3)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"{}"})

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: bool(server.started))
    yield f"http://127.0.0.1:{port}"
    release.set()
    server.should_exit = True
    await task
    assert hits, "the slow server never saw a request"


async def test_backend_slow(
    settings: KioskSettings, factory: TravellerFactory, slow_backend_url: str
) -> None:
    client = BackendClient(slow_backend_url, settings.backend_timeout_s)
    run = await run_session(settings, factory.next(), client)
    assert_referred(run, ReasonCode.BACKEND_UNAVAILABLE)
    assert run.result.timings["decision"] < settings.backend_timeout_s + 0.3


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(200, text="{not json"),
        httpx.Response(200, json={"outcome": "admit"}),
    ],
    ids=["500", "unparsable", "malformed"],
)
async def test_backend_errors(
    settings: KioskSettings, factory: TravellerFactory, response: httpx.Response
) -> None:
    run = await run_session(settings, factory.next(), RecordingBackend(lambda r: response).client())
    assert_referred(run, ReasonCode.BACKEND_ERROR)


async def test_retry_reuses_request_id(settings: KioskSettings, factory: TravellerFactory) -> None:
    bodies: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        bodies.append(req.content.decode())
        if len(bodies) == 1:
            raise httpx.ConnectError("refused", request=req)
        return httpx.Response(200, json=decision_for(req))

    client = BackendClient("http://b.test", 1.0, transport=httpx.MockTransport(handler))
    run = await run_session(settings, factory.next(), client)
    assert run.result.outcome is Outcome.ADMIT
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert str(run.result.request_id) in bodies[0]
    assert run.lane.gate.open_count == 1


def _fault(device: str, fault: Fault) -> Callable[[MockLane], None]:
    def prepare(lane: MockLane) -> None:
        getattr(lane, device).fault = fault

    return prepare


@pytest.mark.parametrize(
    ("device", "fault", "reason"),
    [
        ("reader", Fault.ERROR, ReasonCode.DEVICE_ERROR),
        ("camera", Fault.ERROR, ReasonCode.DEVICE_ERROR),
        ("scanner", Fault.ERROR, ReasonCode.DEVICE_ERROR),
        ("gate", Fault.ERROR, ReasonCode.DEVICE_ERROR),
        # A hung device is the lane's fault, not the traveller's slowness.
        ("reader", Fault.HANG, ReasonCode.DEVICE_UNRESPONSIVE),
        ("camera", Fault.HANG, ReasonCode.DEVICE_UNRESPONSIVE),
        ("scanner", Fault.HANG, ReasonCode.DEVICE_UNRESPONSIVE),
        ("reader", Fault.ABSENT, ReasonCode.TIMEOUT),
    ],
)
async def test_device_faults_refer(
    settings: KioskSettings,
    factory: TravellerFactory,
    device: str,
    fault: Fault,
    reason: ReasonCode,
) -> None:
    backend = RecordingBackend()
    run = await run_session(
        settings, factory.next(), backend.client(), prepare=_fault(device, fault)
    )
    assert_referred(run, reason)
    assert run.result.device_fault == (None if fault is Fault.ABSENT else device)
    # Only a gate fault happens after the (admitting) decision.
    assert len(backend.requests) == (1 if device == "gate" else 0)


async def test_gate_hang_on_passage_still_closes(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    def prepare(lane: MockLane) -> None:
        lane.gate.expect_traveller(will_pass=False)

    run = await run_session(settings, factory.next(), RecordingBackend().client(), prepare=prepare)
    assert run.result.outcome is Outcome.ADMIT
    assert not run.result.passed_gate
    assert [e.action for e in run.lane.gate.history] == ["open", "close"]


@pytest.mark.parametrize("step", ["face", "journey"])
async def test_traveller_walks_away(
    settings: KioskSettings, factory: TravellerFactory, step: str
) -> None:
    traveller = dataclasses.replace(factory.next(), walks_away_at=step)
    backend = RecordingBackend()
    started = time.monotonic()
    run = await run_session(settings, traveller, backend.client())
    assert_referred(run, ReasonCode.TRAVELLER_LEFT)
    assert backend.requests == []  # nothing sent: the data is discarded
    assert time.monotonic() - started < 1.0  # noticed at once, not at the step timeout


async def test_no_document_placed_times_out(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    traveller = dataclasses.replace(factory.next(), places_document=False)
    run = await run_session(settings, traveller, RecordingBackend().client())
    assert_referred(run, ReasonCode.TIMEOUT)


async def test_unreadable_document(settings: KioskSettings, factory: TravellerFactory) -> None:
    # A page with no machine-readable zone on it (a card face down, a visa page, a blank).
    def blank_page(lane: MockLane) -> None:
        page = np.full((1040, 1480, 3), 235, dtype=np.uint8)
        lane.reader.present(("P<XXX", "garbage"), None, None, page=lambda: page)

    run = await run_session(
        settings, factory.next(), RecordingBackend().client(), prepare=blank_page
    )
    assert_referred(run, ReasonCode.DOCUMENT_UNREADABLE)
    assert "MRZ" in run.result.detail or "mrz" in run.result.detail.lower()


async def test_the_kiosk_reads_the_mrz_from_the_page_image_only(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    traveller = factory.next()
    backend = RecordingBackend()
    readings = []

    def spy(lane: MockLane) -> None:
        original = lane.reader.wait_for_document

        async def wait(timeout_s: float) -> Any:
            reading = await original(timeout_s)
            readings.append(reading)
            return reading

        lane.reader.wait_for_document = wait  # type: ignore[method-assign]

    run = await run_session(settings, traveller, backend.client(), prepare=spy)
    assert run.result.outcome is Outcome.ADMIT
    [reading] = readings
    assert reading.mrz_lines == ()  # no text handed over: the kiosk read the page image
    assert reading.page_image is not None
    sent = backend.requests[0]["document"]
    assert sent["document_number"] == traveller.document_number


async def test_forged_document_goes_to_backend(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    traveller = factory.next()
    line1, line2 = traveller.mrz_lines
    forged = line2[:9] + str((int(line2[9]) + 1) % 10) + line2[10:]
    traveller = dataclasses.replace(traveller, mrz_lines=(line1, forged))
    backend = RecordingBackend(
        lambda req: httpx.Response(
            200, json=decision_for(req, "refer", reasons=["document-invalid"])
        )
    )
    run = await run_session(settings, traveller, backend.client())
    assert_referred(run, ReasonCode.DOCUMENT_INVALID)
    assert backend.requests[0]["document"]["check_digits_valid"] is False


async def test_no_face_data_refers(settings: KioskSettings) -> None:
    traveller = TravellerFactory(seed=2, faces_dir=None).next()
    assert traveller.reference_photo() is None
    backend = RecordingBackend()
    run = await run_session(settings, traveller, backend.client())
    assert_referred(run, ReasonCode.FACE_NOT_CAPTURED)
    assert backend.requests == []


async def test_verifier_crash_refers(settings: KioskSettings, factory: TravellerFactory) -> None:
    verifier = FakeVerifier(error=RuntimeError("dlib exploded"))
    run = await run_session(settings, factory.next(), RecordingBackend().client(), verifier)
    assert_referred(run, ReasonCode.FACE_NOT_CAPTURED)


async def test_slow_verifier_times_out(settings: KioskSettings, factory: TravellerFactory) -> None:
    class Slow(FakeVerifier):
        def verify(self, live: Any, reference: Any) -> Any:
            time.sleep(0.5)
            return super().verify(live, reference)

    fast = settings.model_copy(update={"verify_timeout_s": 0.1})
    run = await run_session(fast, factory.next(), RecordingBackend().client(), Slow())
    assert_referred(run, ReasonCode.TIMEOUT)


async def test_cancelled_session_closes_gate(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    lane = MockLane("T1", speed=settings.speed)
    lane.present(factory.next())
    lane.gate.passage_delay_s = 1000.0  # the traveller dawdles in the gate
    async with RecordingBackend().client() as client:
        session = KioskSession(settings, lane.devices, client, FakeVerifier())
        task = asyncio.create_task(session.run())
        await wait_until(lambda: lane.gate.ever_opened)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [e.action for e in lane.gate.history] == ["open", "close"]
    assert not await lane.gate.is_open()


async def test_session_runs_once(settings: KioskSettings, factory: TravellerFactory) -> None:
    run = await run_session(settings, factory.next(), RecordingBackend().client())
    with pytest.raises(InvalidTransitionError):
        await run.session.run()


async def test_observer_failure_does_not_open_or_break(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    def broken(update: SessionUpdate) -> None:
        raise ValueError("screen unplugged")

    lane = MockLane("T1", speed=settings.speed)
    lane.present(factory.next())
    async with RecordingBackend().client() as client:
        result = await KioskSession(
            settings, lane.devices, client, FakeVerifier(), observer=broken
        ).run()
    assert result.outcome is Outcome.ADMIT
    assert lane.gate.open_count == 1


async def test_undecodable_barcodes_are_left_for_the_backend_to_judge(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    # A visa holder needs no onward ticket: an unreadable pass must not refer them by itself.
    backend = RecordingBackend()
    run = await run_session(
        settings, factory.next(), backend.client(), prepare=_fault("scanner", Fault.DAMAGED)
    )
    assert [r["journey"] for r in backend.requests] == [[]]
    assert run.result.outcome is Outcome.ADMIT  # what this backend answered
    assert run.lane.gate.open_count == 1


async def test_cruise_passenger_sends_the_cruise_card(faces_dir: Any) -> None:
    from bordergate.contracts import Hall
    from tests.kiosk.conftest import NO_SURPRISES

    cruise = KioskSettings(
        lane_id="C1",
        hall=Hall.CRUISE,
        speed=100.0,
        device_grace_s=0.1,
        backend_timeout_s=0.5,
        burst_interval_s=0.0,
    )
    factory = TravellerFactory(seed=2, hall=Hall.CRUISE, faces_dir=faces_dir, mix=NO_SURPRISES)
    traveller = factory.next()
    assert traveller.journey_case == "cruise"
    backend = RecordingBackend()
    run = await run_session(cruise, traveller, backend.client())
    assert run.result.outcome is Outcome.ADMIT
    (card,) = traveller.journey_barcodes
    assert card.startswith("BGCRUISE1|")
    assert backend.requests[0]["journey"] == [{"kind": "cruise_card", "payload": card}]
    assert backend.requests[0]["hall"] == "cruise"
