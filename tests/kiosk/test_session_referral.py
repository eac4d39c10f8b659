"""The session tells the officer about every referral: reported when the kiosk referred on its
own, photos uploaded only on referral, nothing kept afterwards, and the outcome unchanged
whatever the backend does with it."""

from __future__ import annotations

import base64
import dataclasses
import io
import uuid

import httpx
import numpy as np
import pytest
import structlog
from PIL import Image

from bordergate.contracts import Outcome, ReasonCode
from hardware_mocks.travellers import TravellerFactory
from kiosk.settings import KioskSettings
from tests.kiosk.conftest import FakeVerifier, RecordingBackend, decision_for
from tests.kiosk.test_session import assert_referred, run_session


def decoded_jpeg(text: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(text)))
    assert image.format == "JPEG"
    return image


async def test_a_kiosk_referral_is_reported_with_what_was_read_and_both_photos(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    backend = RecordingBackend()
    verifier = FakeVerifier(error=RuntimeError("the matcher crashed"))
    run = await run_session(settings, factory.next(), backend.client(), verifier)
    assert_referred(run, ReasonCode.FACE_NOT_CAPTURED)
    assert backend.requests == []  # no clearance was asked for
    [report] = backend.referrals
    assert report["reasons"] == ["face-not-captured"]
    assert report["document"]["document_number"]
    assert report["face"] is None
    assert uuid.UUID(report["request_id"])
    assert run.result.referral_id is not None
    photos = backend.photos[str(run.result.referral_id)]
    assert decoded_jpeg(photos["document"]).size[0] > 0
    assert decoded_jpeg(photos["live"]).size[0] > 0
    # Nothing biometric outlives the session.
    assert run.session._referral_live is None
    assert not [v for v in vars(run.session).values() if isinstance(v, np.ndarray)]


async def test_a_backend_referral_gets_its_photos_without_a_second_report(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    referral_id = str(uuid.uuid4())
    backend = RecordingBackend(
        lambda req: httpx.Response(
            200,
            json=decision_for(req, "refer", reasons=["face-mismatch"], referral_id=referral_id),
        )
    )
    run = await run_session(settings, factory.next(), backend.client(), FakeVerifier(False))
    assert_referred(run, ReasonCode.FACE_MISMATCH)
    assert backend.referrals == []
    assert str(run.result.referral_id) == referral_id
    assert set(backend.photos[referral_id]) == {"document", "live"}
    assert run.session._referral_live is None


async def test_an_unanswered_clearance_is_reported_under_its_own_request_id(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    backend = RecordingBackend(lambda req: httpx.Response(503, json={"error": "x"}))
    run = await run_session(settings, factory.next(), backend.client())
    assert_referred(run, ReasonCode.BACKEND_ERROR)
    [report] = backend.referrals
    assert report["request_id"] == str(run.result.request_id)
    assert report["face"]["matched"] is True  # what the kiosk measured goes to the officer
    assert report["journey"]


async def test_admitted_travellers_and_those_who_left_send_no_photos(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    backend = RecordingBackend()
    admitted = await run_session(settings, factory.next(), backend.client())
    assert admitted.result.outcome is Outcome.ADMIT
    assert admitted.result.referral_id is None
    left = dataclasses.replace(factory.next(), walks_away_at="face")
    backend_left = RecordingBackend()
    gone = await run_session(settings, left, backend_left.client())
    assert_referred(gone, ReasonCode.TRAVELLER_LEFT)
    for b in (backend, backend_left):
        assert b.referrals == []
        assert b.photos == {}
    assert gone.session._referral_live is None


@pytest.mark.parametrize("status", [500, 401, 422])
async def test_a_failing_referral_report_never_changes_the_outcome(
    settings: KioskSettings, factory: TravellerFactory, status: int
) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.url.path.startswith("/v1/referrals"):
            return httpx.Response(status, json={"error": "no"})
        return httpx.Response(
            200, json=decision_for(request, "refer", reasons=["face-mismatch"], referral_id=None)
        )

    from kiosk.backend_client import BackendClient

    client = BackendClient("http://b.test", 0.5, transport=httpx.MockTransport(handler))
    with structlog.testing.capture_logs() as logs:
        run = await run_session(settings, factory.next(), client, FakeVerifier(False))
    assert_referred(run, ReasonCode.FACE_MISMATCH)
    assert calls == ["POST /v1/clearances", "POST /v1/referrals"]
    assert run.result.referral_id is None
    assert any(e["event"] == "referral not fully reported" for e in logs)
    assert run.session._referral_live is None


async def test_an_unreachable_backend_still_refers_at_once(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    from kiosk.backend_client import BackendClient
    from tests.conftest import free_port

    client = BackendClient(f"http://127.0.0.1:{free_port()}", 0.5)
    run = await run_session(settings, factory.next(), client)
    assert_referred(run, ReasonCode.BACKEND_UNAVAILABLE)
    assert run.result.referral_id is None
    assert run.result.total_s < 3.0


async def test_nothing_biometric_is_logged_on_referral(
    settings: KioskSettings, factory: TravellerFactory
) -> None:
    backend = RecordingBackend(
        lambda req: httpx.Response(
            200,
            json=decision_for(
                req, "refer", reasons=["face-mismatch"], referral_id=str(uuid.uuid4())
            ),
        )
    )
    with structlog.testing.capture_logs() as logs:
        run = await run_session(settings, factory.next(), backend.client(), FakeVerifier(False))
    [photos] = backend.photos.values()
    text = repr(logs)
    assert photos["document"][:40] not in text
    assert photos["live"][:40] not in text
    assert "/9j/" not in text  # the start of any base64 JPEG
    assert run.result.outcome is Outcome.REFER
