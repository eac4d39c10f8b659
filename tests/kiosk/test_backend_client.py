from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest

from bordergate.clearance_api import (
    DECISION_BUDGET_HEADER,
    ClearanceRequest,
    DocumentData,
    FaceResult,
)
from bordergate.contracts import Hall, Outcome, ReasonCode
from kiosk.backend_client import (
    BackendClient,
    BackendClientError,
    BackendError,
    BackendUnavailableError,
)
from tests.conftest import free_port
from tests.kiosk.conftest import RecordingBackend, decision_for


def make_request() -> ClearanceRequest:
    return ClearanceRequest(
        request_id=uuid.uuid4(),
        hall=Hall.AIRPORT,
        lane_id="T1",
        arrival_time=datetime.now(UTC),
        document=DocumentData(
            document_type="P",
            issuing_state="USA",
            nationality="USA",
            document_number="A1234567",
            surname="SMITH",
            given_names="JOHN",
            birth_date=date(1980, 1, 1),
            expiry_date=date(2030, 1, 1),
            sex="M",
            check_digits_valid=True,
        ),
        face=FaceResult(matched=True, score=0.9),
    )


async def test_admit_decision() -> None:
    backend = RecordingBackend()
    request = make_request()
    async with backend.client() as client:
        decision = await client.request_clearance(request)
    assert decision.outcome is Outcome.ADMIT
    assert decision.request_id == request.request_id
    assert backend.requests == [json.loads(request.model_dump_json())]


async def test_retry_after_connection_error_reuses_request_id() -> None:
    seen: list[tuple[str, str]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append((json.loads(req.content)["request_id"], req.headers["Idempotency-Key"]))
        if len(seen) == 1:
            raise httpx.ConnectError("connection refused", request=req)
        return httpx.Response(200, json=decision_for(req))

    request = make_request()
    async with BackendClient("http://b.test", 1.0, transport=httpx.MockTransport(handler)) as c:
        decision = await c.request_clearance(request)
    assert decision.request_id == request.request_id
    assert len(seen) == 2
    assert {rid for pair in seen for rid in pair} == {str(request.request_id)}


async def test_each_attempt_tells_the_backend_the_budget_left() -> None:
    budgets: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        budgets.append(int(req.headers[DECISION_BUDGET_HEADER]))
        if len(budgets) == 1:
            raise httpx.ConnectError("connection refused", request=req)
        return httpx.Response(200, json=decision_for(req))

    async with BackendClient(
        "http://b.test", 1.0, transport=httpx.MockTransport(handler), retry_delay_s=0.2
    ) as c:
        await c.request_clearance(make_request())
    assert 900 <= budgets[0] <= 1000
    assert budgets[1] <= budgets[0] - 200  # the retry has what the first attempt left


async def test_second_connection_error_is_unavailable() -> None:
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadError("reset", request=req)

    async with BackendClient("http://b.test", 1.0, transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(BackendUnavailableError):
            await c.request_clearance(make_request())
    assert calls == 2


async def test_closed_port_is_unavailable() -> None:
    port = free_port()  # bound then released: nothing listens there
    async with BackendClient(f"http://127.0.0.1:{port}", 1.0) as client:
        with pytest.raises(BackendUnavailableError) as info:
            await client.request_clearance(make_request())
    assert info.value.reason is ReasonCode.BACKEND_UNAVAILABLE
    assert client.attempts == 2


async def test_slow_backend_times_out_within_budget() -> None:
    async def handler(req: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=decision_for(req))

    loop = asyncio.get_running_loop()
    async with BackendClient("http://b.test", 0.3, transport=httpx.MockTransport(handler)) as c:
        started = loop.time()
        with pytest.raises(BackendUnavailableError):
            await c.request_clearance(make_request())
    assert loop.time() - started < 1.0


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(422, json={"detail": "bad"}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"outcome": "admit"}),
        httpx.Response(200, json=[]),
    ],
    ids=["500", "422", "html", "partial", "list"],
)
async def test_bad_answers_are_backend_errors(response: httpx.Response) -> None:
    backend = RecordingBackend(lambda req: response)
    async with backend.client() as client:
        with pytest.raises(BackendError) as info:
            await client.request_clearance(make_request())
    assert info.value.reason is ReasonCode.BACKEND_ERROR
    assert len(backend.requests) == 1  # an answer is never retried


async def test_decision_for_another_request_is_rejected() -> None:
    other = str(uuid.uuid4())
    backend = RecordingBackend(
        lambda req: httpx.Response(200, json=decision_for(req, request_id=other))
    )
    async with backend.client() as client:
        with pytest.raises(BackendClientError):
            await client.request_clearance(make_request())
