"""A kiosk on the mock lane against the real backend (in-process): every referral reaches the
officer's queue with its photos, whoever decided it."""

from __future__ import annotations

import uuid
from pathlib import Path

import fakeredis
import httpx

from backend.auth.devices import register_device
from bordergate.contracts import Hall, ReasonCode, referral_photo_key
from hardware_mocks.travellers import TravellerFactory
from kiosk.backend_client import BackendClient
from kiosk.settings import KioskSettings
from tests.backend.conftest import make_settings, running
from tests.kiosk.conftest import FakeVerifier
from tests.kiosk.test_session import assert_referred, run_session


async def test_referrals_reach_the_officer_queue_with_their_photos(
    tmp_path: Path, settings: KioskSettings, factory: TravellerFactory
) -> None:
    embedded = fakeredis.FakeServer()
    async with running(make_settings(tmp_path), embedded) as (app, _):
        token = register_device(app.state.records, hall="airport", lane_id="T1").token
        transport = httpx.ASGITransport(app=app)

        def client() -> BackendClient:
            return BackendClient("http://backend", 2.0, transport=transport, device_token=token)

        # The backend refers: the mock passports carry no trusted chip here (chip-unreadable).
        by_backend = await run_session(settings, factory.next(), client())
        assert by_backend.result.outcome.value == "refer"
        assert ReasonCode.CHIP_UNREADABLE in by_backend.result.reasons
        # The kiosk refers on its own: the face matcher failed.
        by_kiosk = await run_session(
            settings, factory.next(), client(), FakeVerifier(error=RuntimeError("boom"))
        )
        assert_referred(by_kiosk, ReasonCode.FACE_NOT_CAPTURED)

        service = app.state.referrals
        opened = await service.list_open(Hall.AIRPORT, "en")
        assert {r.referral_id for r in opened} == {
            by_backend.result.referral_id,
            by_kiosk.result.referral_id,
        }
        sources = {r.referral_id: r.source for r in opened}
        assert sources[by_backend.result.referral_id] == "backend"
        assert sources[by_kiosk.result.referral_id] == "kiosk"
        for referral in opened:
            assert referral.lane_id == "T1"
            assert referral.photos == ["document", "live"]
            for kind in ("document", "live"):
                photo = await service.photo(referral.referral_id, kind)
                assert photo is not None
                assert photo[:2] == b"\xff\xd8"  # a JPEG, as re-encoded by the backend
        kiosk_view = next(r for r in opened if r.source == "kiosk")
        assert kiosk_view.reasons[0].code is ReasonCode.FACE_NOT_CAPTURED
        assert kiosk_view.document is not None
        redis = app.state.redis
        rid = str(by_kiosk.result.referral_id)
        assert await redis.ttl(referral_photo_key(rid, "live")) > 0
        assert uuid.UUID(rid)
