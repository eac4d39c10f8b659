"""The traveller session: one transaction at an e-gate, as an explicit state machine.

    idle -> document -> face -> [journey] -> decision -> gate_open | refer -> idle

The journey step (skipped for citizens) scans what the traveller holds (the inbound and onward
boarding passes, or the cruise card), decodes every image (``kiosk.barcode``) and sends each text
as a ``JourneyEvidence`` (``boarding_pass`` for IATA BCBP text, ``M`` and the leg count 1-4;
``cruise_card`` for text starting with ``BGCRUISE``; other barcodes are ignored), at most four.
Nothing shown: the request goes with an empty list and the backend decides (a visa holder needs
no onward ticket; a transit traveller is referred ``journey-missing``). Something shown but
nothing usable decoded (damaged, unreadable, not a journey barcode): the kiosk refers
``journey-missing`` itself, with the detail saying why. Some decoded, some not: what decoded is
sent.

Every step has a timeout (TIMEOUT). Taking the document off the reader after it was read ends
the session (TRAVELLER_LEFT, data discarded). A device that raises refers (DEVICE_ERROR); one that
does not answer within its own timeout plus ``device_grace_s`` (a camera frame: within
``device_probe_timeout_s``) refers too (DEVICE_UNRESPONSIVE), and the result names the device
(``device_fault``) for the lane to check it before the next traveller (``kiosk.lane_health``).
The gate opens only when the backend's decision says admit; everything else, including any
unexpected error, refers: the kiosk fails closed. Once opened, the gate is closed whatever
happens and its door sensor must then read closed; if it does not, ``gate_secured`` is False
(the traveller's outcome stands; the lane goes out of service).

With a :class:`~kiosk.transaction_marker.MarkerFile` the session keeps its in-progress marker
(ids, lane, step, start time: nothing of the traveller) from the first step until it ends, so a
kiosk that dies mid-way reports the session as abandoned when it starts again.

Face images and frames live only inside one ``run()``; they are never logged, never put into a
:class:`SessionUpdate` or :class:`SessionResult`, and the references are dropped at the end.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bordergate.clearance_api import (
    MAX_JOURNEY_EVIDENCE,
    ClearanceDecision,
    ClearanceRequest,
    DocumentData,
    FaceResult,
    JourneyEvidence,
)
from bordergate.contracts import Outcome, ReasonCode
from hardware_mocks.chip import ChipError
from hardware_mocks.interfaces import (
    Camera,
    DeviceError,
    DocumentReading,
    Frame,
    LaneDevices,
    RGBImage,
)
from kiosk.backend_client import BackendClient, BackendClientError
from kiosk.barcode import BarcodeDecodeError, decode_barcodes
from kiosk.biometrics import FaceVerifier, ReferenceTemplate
from kiosk.biometrics.live_capture import (
    FaceCaptureFlow,
    LiveFaceVerifier,
    LiveFrame,
    capture_live_face,
)
from kiosk.biometrics.liveness import random_challenge
from kiosk.chip import ChipReading, MasterList, read_chip
from kiosk.document import MRZParseError, parse_mrz
from kiosk.mrz import read_mrz
from kiosk.referral import ReferralFacts, refer_to_officer
from kiosk.settings import KioskSettings
from kiosk.transaction_marker import MarkerFile, TransactionMarker

log = structlog.get_logger(__name__)

T = TypeVar("T")

JOURNEY_PAYLOAD_MAX = 2048


class SessionState(StrEnum):
    IDLE = "idle"
    DOCUMENT = "document"
    FACE = "face"
    JOURNEY = "journey"
    DECISION = "decision"
    GATE_OPEN = "gate_open"
    REFER = "refer"


TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    SessionState.IDLE: frozenset({SessionState.DOCUMENT}),
    SessionState.DOCUMENT: frozenset({SessionState.FACE, SessionState.REFER}),
    SessionState.FACE: frozenset({SessionState.JOURNEY, SessionState.DECISION, SessionState.REFER}),
    SessionState.JOURNEY: frozenset({SessionState.DECISION, SessionState.REFER}),
    SessionState.DECISION: frozenset({SessionState.GATE_OPEN, SessionState.REFER}),
    SessionState.GATE_OPEN: frozenset({SessionState.IDLE, SessionState.REFER}),
    SessionState.REFER: frozenset({SessionState.IDLE}),
}

# The traveller screen's message for each state (the UI translates the keys).
MESSAGE_KEYS: dict[SessionState, str] = {
    SessionState.IDLE: "welcome",
    SessionState.DOCUMENT: "place_passport",
    SessionState.FACE: "look_at_camera",
    SessionState.JOURNEY: "scan_onward_ticket",
    SessionState.DECISION: "please_wait",
    SessionState.GATE_OPEN: "proceed_through_gate",
    SessionState.REFER: "see_officer",
}


def evidence_kind(text: str) -> Literal["boarding_pass", "cruise_card"] | None:
    """The evidence kind of a decoded barcode text, or None if it is not a journey barcode."""
    if text.startswith("BGCRUISE"):
        return "cruise_card"
    if len(text) > 1 and text[0] == "M" and text[1] in "1234":
        return "boarding_pass"
    return None


def journey_evidence(images: Sequence[RGBImage]) -> tuple[list[JourneyEvidence], list[str]]:
    """Decode the scanned images: the evidence found (at most four), and what went wrong."""
    evidence: list[JourneyEvidence] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, image in enumerate(images, start=1):
        try:
            texts = decode_barcodes(image)
        except BarcodeDecodeError as exc:
            problems.append(f"image {i}: {exc}")
            continue
        for text in texts:
            kind = evidence_kind(text)
            if kind is None:
                problems.append(f"image {i}: not a boarding pass or cruise card")
            elif len(text) > JOURNEY_PAYLOAD_MAX:
                problems.append(f"image {i}: barcode text longer than {JOURNEY_PAYLOAD_MAX}")
            elif text not in seen:
                seen.add(text)
                evidence.append(JourneyEvidence(kind=kind, payload=text))
    if len(evidence) > MAX_JOURNEY_EVIDENCE:
        problems.append(f"{len(evidence)} barcodes, only {MAX_JOURNEY_EVIDENCE} sent")
        evidence = evidence[:MAX_JOURNEY_EVIDENCE]
    return evidence, problems


class InvalidTransitionError(RuntimeError):
    """A bug: the session tried a transition the state machine does not allow."""


class SessionUpdate(BaseModel):
    """A state change for observers (the traveller's screen). Never carries biometric data."""

    model_config = ConfigDict(frozen=True)

    lane_id: str
    session_id: str
    state: SessionState
    message_key: str
    at: AwareDatetime
    outcome: Outcome | None = None
    reasons: list[ReasonCode] = Field(default_factory=list)
    nationality: str | None = None
    """ICAO code from the document once read: the screen picks its language from it."""
    prompt: str | None = None
    """Guidance within a state (``move_closer``, ``turn_left``...); the screen translates it."""
    permitted_until: AwareDatetime | None = None
    """On admit: the end of the permitted stay the backend computed."""


class SessionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    session_id: str
    lane_id: str
    traveller_ref: str | None
    outcome: Outcome
    reasons: list[ReasonCode]
    final_state: SessionState
    """GATE_OPEN (admitted and the gate was opened) or REFER."""
    request_id: uuid.UUID | None = None
    clearance_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None
    """The officer's referral, when referred and reported (None for a traveller who left)."""
    scheme: str | None = None
    permitted_until: AwareDatetime | None = None
    gate_opened: bool = False
    passed_gate: bool = False
    gate_secured: bool = True
    """False when the gate, once opened, could not be confirmed closed (the lane must stop)."""
    device_fault: str | None = None
    """The device that failed or hung (``reader``, ``camera``, ``scanner``, ``gate``), if any."""
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds spent in each state."""
    total_s: float = 0.0
    detail: str = ""
    """Why it ended (no personal or biometric data)."""


SessionObserver = Callable[[SessionUpdate], None]
"""Called synchronously on every state change, e.g. ``asyncio.Queue.put_nowait``."""


def _drop_result(task: asyncio.Task[Any]) -> None:
    """Retrieve a background task's exception, so that one nobody awaited is not reported."""
    if not task.cancelled():
        task.exception()


class _ReferralError(Exception):
    def __init__(self, reason: ReasonCode, detail: str, device: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.device = device


class DeviceUnresponsiveError(DeviceError):
    """A device call did not return within its deadline (a hung driver, a dead link)."""


def device_kind(exc: DeviceError) -> str:
    """``reader`` of ``reader:A1-reader`` (the mocks' naming; a driver may give the kind alone)."""
    return exc.device.split(":", 1)[0]


class _WatchedCamera:
    """The camera with a deadline on every frame, so a hung camera is told from slow analysis."""

    def __init__(self, camera: Camera, timeout_s: float) -> None:
        self.camera = camera
        self.timeout_s = timeout_s

    async def _within(self, aw: Awaitable[T], timeout_s: float) -> T:
        try:
            async with asyncio.timeout(timeout_s):
                return await aw
        except TimeoutError:
            raise DeviceUnresponsiveError("camera", f"no frame within {timeout_s:.1f} s") from None

    async def capture(self) -> Frame:
        return await self._within(self.camera.capture(), self.timeout_s)

    async def capture_burst(self, count: int, interval: float) -> list[Frame]:
        deadline = count * (self.timeout_s + interval)
        return await self._within(self.camera.capture_burst(count, interval), deadline)


class KioskSession:
    """One traveller's transaction; create one per traveller and ``await run()`` once."""

    def __init__(
        self,
        settings: KioskSettings,
        devices: LaneDevices,
        backend: BackendClient,
        verifier: FaceVerifier,
        *,
        observer: SessionObserver | None = None,
        traveller_ref: str | None = None,
        today: date | None = None,
        master_list: MasterList | None = None,
        marker: MarkerFile | None = None,
    ) -> None:
        self.settings = settings
        self.master_list = master_list
        """CSCA certificates for passive authentication; without it no chip is trusted."""
        self.devices = devices
        self.backend = backend
        self.verifier = verifier
        self.observer = observer
        self.traveller_ref = traveller_ref
        self.today = today
        self.session_id = uuid.uuid4().hex
        self.state = SessionState.IDLE
        self.history: list[SessionState] = [SessionState.IDLE]
        self._timings: dict[str, float] = {}
        self._entered = time.monotonic()
        self._removal: asyncio.Task[bool] | None = None
        self._gate_opened = False
        self._gate_confirmed_open = False
        self._gate_secured = True
        self._device_fault: str | None = None
        self.marker = marker
        self._started_at = datetime.now(UTC)
        self._request_id: uuid.UUID | None = None
        self._log = log.bind(lane_id=settings.lane_id, session_id=self.session_id)
        self._nationality: str | None = None
        self._permitted_until: datetime | None = None
        self._referral_live: RGBImage | None = None
        """The best live face frame, for the officer on referral only (cleared by run())."""

    # -- state machine -------------------------------------------------------------------------

    def _transition(
        self,
        new: SessionState,
        *,
        outcome: Outcome | None = None,
        reasons: list[ReasonCode] | None = None,
    ) -> None:
        if new not in TRANSITIONS[self.state]:
            raise InvalidTransitionError(f"{self.state} -> {new}")
        now = time.monotonic()
        key = self.state.value
        self._timings[key] = self._timings.get(key, 0.0) + (now - self._entered)
        self._entered = now
        self.state = new
        self.history.append(new)
        self._log.info("session state", state=new.value, reasons=[r.value for r in reasons or []])
        if new is not SessionState.IDLE:
            self._write_marker()
        update = SessionUpdate(
            lane_id=self.settings.lane_id,
            session_id=self.session_id,
            state=new,
            message_key=MESSAGE_KEYS[new],
            at=datetime.now(UTC),
            outcome=outcome,
            reasons=list(reasons or []),
            nationality=self._nationality,
            permitted_until=self._permitted_until,
        )
        self._notify(update)

    def _write_marker(self) -> None:
        if self.marker is None:
            return
        try:
            self.marker.write(
                TransactionMarker(
                    session_id=self.session_id,
                    lane_id=self.settings.lane_id,
                    hall=self.settings.hall,
                    step=self.state.value,
                    started_at=self._started_at,
                    request_id=self._request_id,
                )
            )
        except OSError as exc:  # a full disk must not stop the traveller's transaction
            self._log.error("transaction marker not written", error=type(exc).__name__)

    def _prompt(self, key: str | None) -> None:
        """Tell the screen a guidance key within the current state (None clears it)."""
        self._notify(
            SessionUpdate(
                lane_id=self.settings.lane_id,
                session_id=self.session_id,
                state=self.state,
                message_key=MESSAGE_KEYS[self.state],
                at=datetime.now(UTC),
                nationality=self._nationality,
                prompt=key,
            )
        )

    def _notify(self, update: SessionUpdate) -> None:
        if self.observer is not None:
            try:
                self.observer(update)
            except Exception:  # a broken screen must not break the transaction
                self._log.exception("session observer failed")

    # -- guarded device calls ------------------------------------------------------------------

    async def _guard(
        self,
        aw: Awaitable[T],
        timeout_s: float,
        step: str,
        *,
        device: str | None = None,
        on_timeout: ReasonCode | None = None,
    ) -> T:
        """Await ``aw`` within ``timeout_s``, racing the document-removal watcher.

        Raises _ReferralError(TRAVELLER_LEFT) if the document was taken away first (even if
        the step finished at the same time); past the timeout _ReferralError(``on_timeout``:
        by default DEVICE_UNRESPONSIVE for a ``device`` call, TIMEOUT for software); for a
        device error _ReferralError(DEVICE_ERROR, or DEVICE_UNRESPONSIVE) naming the device.
        """
        task: asyncio.Future[T] = asyncio.ensure_future(aw)
        waits: set[asyncio.Future[Any]] = {task}
        removal = self._removal
        if removal is not None:
            waits.add(removal)
        try:
            done, _ = await asyncio.wait(waits, timeout=timeout_s, return_when="FIRST_COMPLETED")
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        if removal is not None and removal in done:
            self._removal = None
            if self._device_result(removal, "reader"):
                raise _ReferralError(ReasonCode.TRAVELLER_LEFT, f"document removed during {step}")
        if task.done() and not task.cancelled():
            return self._device_result(task, device)
        reason = on_timeout or (
            ReasonCode.TIMEOUT if device is None else ReasonCode.DEVICE_UNRESPONSIVE
        )
        detail = f"{step} timed out" if device is None else f"{step}: the {device} did not answer"
        raise _ReferralError(reason, detail, device if reason is not ReasonCode.TIMEOUT else None)

    @staticmethod
    def _device_result(task: asyncio.Future[T], device: str | None) -> T:
        """The task's result; a device error becomes the referral naming the device."""
        try:
            return task.result()
        except DeviceError as exc:
            kind = device or device_kind(exc)
            if isinstance(exc, DeviceUnresponsiveError):
                raise _ReferralError(ReasonCode.DEVICE_UNRESPONSIVE, str(exc), kind) from exc
            raise _ReferralError(ReasonCode.DEVICE_ERROR, str(exc), kind) from exc

    def _check_removed(self, step: str) -> None:
        removal = self._removal
        if removal is not None and removal.done():
            self._removal = None
            if self._device_result(removal, "reader"):
                raise _ReferralError(ReasonCode.TRAVELLER_LEFT, f"document removed during {step}")

    def _device_timeout(self, seconds: float) -> float:
        return self.settings.scaled(seconds) + self.settings.device_grace_s

    # -- the steps -----------------------------------------------------------------------------

    async def _document_step(self) -> tuple[DocumentData, RGBImage | None]:
        self._transition(SessionState.DOCUMENT)
        wait = self.settings.scaled(self.settings.document_timeout_s)
        reading = await self._guard(
            self.devices.reader.wait_for_document(wait),
            wait + self.settings.device_grace_s,
            "document",
            device="reader",
        )
        if reading is None:
            raise _ReferralError(ReasonCode.TIMEOUT, "no document placed")
        printed = await self._printed_mrz(reading)
        try:
            document = parse_mrz(printed, self.today)
        except MRZParseError as exc:
            raise _ReferralError(ReasonCode.DOCUMENT_UNREADABLE, str(exc)) from exc
        chip = await self._chip_step(reading, printed)
        if chip is None:  # no chip read: the backend refers (chip-unreadable)
            return document.model_copy(update={"chip_authenticated": None}), reading.photo
        # The chip's DG1 is the identity; the printed MRZ only opened the chip.
        if chip.document is None:
            document = document.model_copy(update={"chip_authenticated": False})
        else:
            document = chip.document
        return document, chip.face if chip.face is not None else reading.photo

    async def _printed_mrz(self, reading: DocumentReading) -> tuple[str, ...]:
        """The MRZ as printed: read from the page image, or as a text-reading reader gave it.

        An MRZ read that is not valid is still used as read: its check digits then fail, the
        chip does not open, and the backend refers; only no MRZ found at all is unreadable.
        """
        if reading.page_image is None:
            return reading.mrz_lines
        result = await self._guard(
            asyncio.to_thread(read_mrz, reading.page_image, today=self.today),
            self.settings.mrz_read_timeout_s,
            "MRZ reading",
        )
        if not result.lines:
            raise _ReferralError(ReasonCode.DOCUMENT_UNREADABLE, "; ".join(result.errors))
        if not result.valid:
            self._log.info("MRZ read not valid", errors=result.errors)
        return result.lines

    async def _chip_step(
        self, reading: DocumentReading, printed: Sequence[str]
    ) -> ChipReading | None:
        """Open the chip with the printed MRZ and authenticate it; None if it cannot be read."""
        if reading.chip is None or self.master_list is None:
            return None
        at = datetime.now(UTC)
        try:
            chip = await self._guard(
                asyncio.to_thread(read_chip, reading.chip, printed, self.master_list, at),
                self.settings.chip_timeout_s,
                "chip",
            )
        except (ChipError, ValueError) as exc:
            self._log.info("chip not read", error=type(exc).__name__)
            return None
        if not chip.authenticated:
            self._log.info("chip not authentic", reasons=[str(r) for r in chip.pa.reasons])
        return chip

    async def _face_step(self, reference: RGBImage | None) -> FaceResult:
        """Capture (with guidance and, if on, the liveness challenge) and verify the face.

        A verifier that can analyse a live capture (:class:`LiveFaceVerifier`) gets the whole
        flow (``kiosk.biometrics.live_capture``); a plain one gets a burst of frames.
        """
        self._transition(SessionState.FACE)
        if reference is None:
            raise _ReferralError(ReasonCode.FACE_NOT_CAPTURED, "no document photo")
        template: asyncio.Task[ReferenceTemplate] | None = None
        if isinstance(self.verifier, LiveFaceVerifier):
            # The reference is encoded while the traveller faces the camera (the capture mostly
            # waits for frames), so the decision after the capture only encodes live frames.
            encode = asyncio.to_thread(self.verifier.encode_reference, reference)
            template = asyncio.ensure_future(encode)
        try:
            return await self._capture_and_verify(reference, template)
        finally:
            if template is not None:  # unawaited if the capture failed: drop it and its result
                template.cancel()
                template.add_done_callback(_drop_result)

    async def _capture_and_verify(
        self, reference: RGBImage, template: asyncio.Task[ReferenceTemplate] | None
    ) -> FaceResult:
        settings = self.settings
        verifier = self.verifier
        # Not scaled by ``speed``: a frame is due at once, whatever the simulated time.
        camera = _WatchedCamera(
            self.devices.camera, settings.device_probe_timeout_s + settings.device_grace_s
        )
        live: list[RGBImage] = []
        frames: list[LiveFrame] = []
        liveness: Literal["passed", "failed", "not_checked"] = "not_checked"
        if isinstance(verifier, LiveFaceVerifier):
            flow = FaceCaptureFlow(
                random_challenge(turns=settings.face_challenge_turns)
                if settings.face_liveness
                else None,
                keep=settings.face_fusion_frames,
                quality_budget_s=settings.face_quality_budget_s,
            )
            outcome = await self._guard(
                capture_live_face(
                    camera, verifier.analyzer(), flow, self._prompt,
                    max_frames=settings.face_max_frames,
                ),
                self._device_timeout(settings.face_capture_timeout_s)
                + settings.face_analysis_budget_s,
                "face capture",
                device="camera",
                on_timeout=ReasonCode.TIMEOUT,  # camera and CPU; a hung camera fails per frame
            )  # fmt: skip
            self._prompt(None)
            self._log.info(
                "face captured" if outcome.captured else "face not captured",
                liveness=outcome.liveness,
                detail=outcome.reason,
                frames=outcome.frames_seen,
            )
            if not outcome.captured:
                raise _ReferralError(ReasonCode.FACE_NOT_CAPTURED, outcome.reason)
            frames, liveness = outcome.frames, outcome.liveness
            self._referral_live = frames[0].image
        else:
            burst = await self._guard(
                camera.capture_burst(
                    settings.burst_frames, settings.scaled(settings.burst_interval_s)
                ),
                self._device_timeout(settings.face_capture_timeout_s),
                "face capture",
                device="camera",
            )
            live = [frame.image for frame in burst]
            del burst
            if not live:
                raise _ReferralError(ReasonCode.FACE_NOT_CAPTURED, "camera returned no frames")
            self._referral_live = live[0]
        try:
            if template is not None and isinstance(verifier, LiveFaceVerifier):
                call = self._verify_live(verifier, frames, template, liveness)
            else:
                call = asyncio.to_thread(verifier.verify, live, reference)
            return await self._guard(call, settings.verify_timeout_s, "face verification")
        except _ReferralError:
            raise
        except Exception as exc:
            raise _ReferralError(
                ReasonCode.FACE_NOT_CAPTURED, f"face verification failed: {type(exc).__name__}"
            ) from exc
        finally:
            live.clear()
            frames.clear()

    @staticmethod
    async def _verify_live(
        verifier: LiveFaceVerifier,
        frames: Sequence[LiveFrame],
        template: asyncio.Task[ReferenceTemplate],
        liveness: Literal["passed", "failed", "not_checked"],
    ) -> FaceResult:
        return await asyncio.to_thread(verifier.verify_live, frames, await template, liveness)

    async def _journey_step(self, document: DocumentData) -> list[JourneyEvidence]:
        if document.nationality in self.settings.journey_exempt_nationalities:
            return []
        self._transition(SessionState.JOURNEY)
        wait = self.settings.scaled(self.settings.journey_timeout_s)
        images = await self._guard(
            self.devices.scanner.scan(wait),
            wait + self.settings.device_grace_s,
            "journey",
            device="scanner",
        )
        if not images:
            return []  # nothing shown: the backend decides whether the traveller needed it
        try:
            evidence, problems = await self._guard(
                asyncio.to_thread(journey_evidence, images),
                self.settings.barcode_decode_timeout_s,
                "barcode decoding",
            )
        finally:
            images = None
        if problems:
            # What could not be read is not evidence; the backend decides whether the traveller
            # needed it (a visa holder does not), so the kiosk does not refer on its own here.
            self._log.info("journey barcodes unreadable", problems=problems)
        return evidence

    async def _decision_step(self, request: ClearanceRequest) -> ClearanceDecision:
        self._transition(SessionState.DECISION)
        try:
            return await self._guard(
                self.backend.request_clearance(request),
                self.backend.timeout_s + 0.5,
                "decision",
            )
        except BackendClientError as exc:
            raise _ReferralError(exc.reason, str(exc)) from exc
        except _ReferralError as exc:
            if exc.reason is ReasonCode.TIMEOUT:
                raise _ReferralError(ReasonCode.BACKEND_UNAVAILABLE, exc.detail) from exc
            raise

    async def _gate_step(self) -> bool:
        """Open and wait for the traveller to walk through; True if they passed. run() closes
        the gate afterwards (:meth:`_secure_gate`), whatever happened here."""
        gate = self.devices.gate
        actuate = self._device_timeout(self.settings.gate_actuate_timeout_s)
        self._gate_opened = True  # from here on, the gate must be closed again whatever happens
        await self._guard(gate.open(), actuate, "gate open", device="gate")
        self._gate_confirmed_open = True
        wait = self.settings.scaled(self.settings.gate_passage_timeout_s)
        return await self._guard(
            gate.wait_for_passage(wait),
            wait + self.settings.device_grace_s,
            "gate passage",
            device="gate",
        )

    async def _secure_gate(self) -> None:
        """Close the gate and check its door sensor; a gate left open is reported, never ignored
        (``gate_secured`` False: the lane takes no traveller until it closes)."""
        gate = self.devices.gate
        try:
            async with asyncio.timeout(self._device_timeout(self.settings.gate_actuate_timeout_s)):
                await gate.close()
                still_open = await gate.is_open()
        except Exception as exc:
            self._log.error("gate did not confirm closing", error=repr(exc))
            still_open = True
        else:
            if still_open:
                self._log.error("gate still open after closing")
        self._gate_opened = False
        if still_open:
            self._gate_secured = False
            self._device_fault = "gate"

    # -- the transaction -----------------------------------------------------------------------

    async def run(self) -> SessionResult:
        if len(self.history) != 1:
            raise InvalidTransitionError("a session runs once")
        started = time.monotonic()
        outcome = Outcome.REFER
        reasons: list[ReasonCode] = []
        detail = ""
        request: ClearanceRequest | None = None
        decision: ClearanceDecision | None = None
        passed = False
        photo: RGBImage | None = None
        # What an officer gets if the traveller is referred (held only until run() ends).
        document: DocumentData | None = None
        face: FaceResult | None = None
        journey: list[JourneyEvidence] = []
        referral_id: uuid.UUID | None = None
        ended = False
        try:
            try:
                document, photo = await self._document_step()
                self._removal = asyncio.create_task(
                    self.devices.reader.wait_for_removal(None), name="document-removal"
                )
                self._nationality = document.nationality
                face = await self._face_step(photo)
                # The document photo stays only for the officer, if referred (dropped below).
                journey = await self._journey_step(document)
                self._request_id = uuid.uuid4()
                self._write_marker()  # the backend may decide from here on
                request = ClearanceRequest(
                    request_id=self._request_id,
                    hall=self.settings.hall,
                    lane_id=self.settings.lane_id,
                    arrival_time=datetime.now(UTC),
                    document=document,
                    face=face,
                    journey=journey,
                )
                decision = await self._decision_step(request)
                self._check_removed("decision")
                if decision.outcome is Outcome.ADMIT:
                    self._permitted_until = decision.permitted_until
                    self._transition(SessionState.GATE_OPEN, outcome=Outcome.ADMIT)
                    passed = await self._gate_step()
                    await self._secure_gate()
                    outcome = Outcome.ADMIT
                    detail = "admitted" if passed else "admitted; nobody walked through"
                    if not self._gate_secured:
                        detail += "; the gate did not close"
                else:
                    reasons = list(decision.reasons)
                    detail = "the backend refers"
            except _ReferralError as exc:
                reasons, detail = [exc.reason], exc.detail
                self._device_fault = self._device_fault or exc.device
            except DeviceError as exc:
                reasons, detail = [ReasonCode.DEVICE_ERROR], str(exc)
                self._device_fault = self._device_fault or device_kind(exc)
            except Exception as exc:  # fail closed on anything unexpected
                self._log.exception("session failed")
                reasons, detail = [ReasonCode.DEVICE_ERROR], f"internal error: {type(exc).__name__}"
            if self._gate_opened:  # shut before anything else (the referral report may be slow)
                await self._secure_gate()
            if outcome is not Outcome.ADMIT:
                if ReasonCode.TRAVELLER_LEFT in reasons:
                    reasons = [ReasonCode.TRAVELLER_LEFT]
                self._transition(SessionState.REFER, outcome=Outcome.REFER, reasons=reasons)
                facts = ReferralFacts(
                    reasons=reasons,
                    detail=detail,
                    # The session's id otherwise: a report of it as abandoned is the same one.
                    request_id=request.request_id if request else uuid.UUID(hex=self.session_id),
                    decision=decision,
                    document=document,
                    face=face,
                    journey=journey,
                )
                live, self._referral_live = self._referral_live, None
                referral_id = await refer_to_officer(self.backend, facts, photo, live)
                photo = live = None
            final_state = self.state
            self._transition(SessionState.IDLE)
            ended = True
        finally:
            photo = None
            self._referral_live = None
            if self._gate_opened:
                await self._secure_gate()
            await self._stop_removal_watch()
            # Cut short (the kiosk stopping): the marker stays, and the next start reports it.
            if ended and self.marker is not None:
                self.marker.clear()
        return SessionResult(
            session_id=self.session_id,
            lane_id=self.settings.lane_id,
            traveller_ref=self.traveller_ref,
            outcome=outcome,
            reasons=reasons,
            final_state=final_state,
            request_id=request.request_id if request else None,
            clearance_id=decision.clearance_id if decision else None,
            referral_id=referral_id,
            scheme=decision.scheme if decision else None,
            permitted_until=decision.permitted_until if decision else None,
            gate_opened=self._gate_confirmed_open,
            passed_gate=passed,
            gate_secured=self._gate_secured,
            device_fault=self._device_fault,
            timings={k: round(v, 4) for k, v in self._timings.items()},
            total_s=round(time.monotonic() - started, 4),
            detail=detail,
        )

    async def _stop_removal_watch(self) -> None:
        task, self._removal = self._removal, None
        if task is None:
            return
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # mark retrieved
