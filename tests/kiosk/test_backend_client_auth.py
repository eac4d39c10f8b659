"""The kiosk's device token: sent on every clearance; a refusal (401/403) refers, gate shut."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import Outcome, ReasonCode
from hardware_mocks.travellers import TravellerFactory
from kiosk.backend_client import BackendClient, DeviceRefusedError
from kiosk.settings import KioskSettings
from tests.backend.conftest import clearance_body
from tests.kiosk.conftest import RecordingBackend, decision_for
from tests.kiosk.test_session import assert_referred, run_session


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BORDERGATE_DEVICE_TOKEN", "bgd_from-env")
    settings = KioskSettings()
    assert settings.device_token is not None
    assert settings.device_token.get_secret_value() == "bgd_from-env"
    assert "bgd_from-env" not in repr(settings)  # a SecretStr: never in logs


async def test_the_bearer_token_is_sent(settings: KioskSettings, factory: TravellerFactory) -> None:
    seen: list[str | None] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json=decision_for(request))

    backend = RecordingBackend(respond)
    client = BackendClient(
        "http://backend.test", 0.5, transport=httpx.MockTransport(backend), device_token="bgd_t"
    )
    run = await run_session(settings, factory.next(), client)
    assert run.result.outcome is Outcome.ADMIT
    assert seen == ["Bearer bgd_t"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, "device_unknown"), (401, "device_token_missing"), (403, "device_lane_mismatch")],
)
async def test_a_refused_device_refers_the_traveller_and_keeps_the_gate_shut(
    settings: KioskSettings, factory: TravellerFactory, status: int, error: str
) -> None:
    backend = RecordingBackend(
        lambda req: httpx.Response(status, json={"error": error, "message": "refused"})
    )
    run = await run_session(
        settings.model_copy(update={"device_token": SecretStr("bgd_revoked")}),
        factory.next(),
        backend.client(),
    )
    assert_referred(run, ReasonCode.DEVICE_NOT_AUTHORISED)
    assert not run.result.gate_opened
    assert len(backend.requests) == 1  # refused is refused: no retry


async def test_the_client_names_the_refusal() -> None:
    backend = RecordingBackend(
        lambda req: httpx.Response(401, json={"error": "device_unknown", "message": "x"})
    )
    request = ClearanceRequest.model_validate(clearance_body())
    async with backend.client() as client:
        with pytest.raises(DeviceRefusedError, match="device_unknown") as info:
            await client.request_clearance(request)
    assert info.value.reason is ReasonCode.DEVICE_NOT_AUTHORISED
