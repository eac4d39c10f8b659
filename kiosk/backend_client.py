"""The kiosk's HTTP client for ``POST /v1/clearances``. Every failure raises; the session refers.

One decision has a total time budget (``timeout_s``, e.g. 2 s) that covers the retry: a slow
backend is as good as none. A connection failure is retried once with the same ``request_id``
(the backend's idempotency key), so a request that did reach the backend is never recorded twice.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import httpx
import structlog
from pydantic import ValidationError

from bordergate.clearance_api import ClearanceDecision, ClearanceRequest
from bordergate.contracts import ReasonCode

log = structlog.get_logger(__name__)

CLEARANCES_PATH = "/v1/clearances"


class BackendClientError(Exception):
    """No usable decision from the backend; ``reason`` is what the traveller is referred for."""

    reason: ReasonCode = ReasonCode.BACKEND_ERROR


class BackendUnavailableError(BackendClientError):
    """Unreachable, connection lost, or no answer within the time budget."""

    reason = ReasonCode.BACKEND_UNAVAILABLE


class BackendError(BackendClientError):
    """The backend answered, but not with a valid decision (non-2xx, malformed, wrong request)."""

    reason = ReasonCode.BACKEND_ERROR


# Connection-level failures worth one retry (a timeout is not: the budget is spent).
_RETRYABLE = (httpx.NetworkError, httpx.RemoteProtocolError)


class BackendClient:
    def __init__(
        self,
        base_url: str,
        timeout_s: float = 2.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_delay_s: float = 0.05,
    ) -> None:
        self.timeout_s = timeout_s
        self.retry_delay_s = retry_delay_s
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self.attempts = 0

    async def __aenter__(self) -> BackendClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request_clearance(self, request: ClearanceRequest) -> ClearanceDecision:
        """The backend's decision for ``request``; raises :class:`BackendClientError`."""
        body = request.model_dump_json()
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(request.request_id)}
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._post_with_retry(body, headers, request)
        except TimeoutError as exc:
            raise BackendUnavailableError(f"no decision within {self.timeout_s:.1f} s") from exc
        except httpx.TimeoutException as exc:
            raise BackendUnavailableError(f"backend timed out: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(f"backend unreachable: {type(exc).__name__}") from exc

        if not response.is_success:
            raise BackendError(f"backend answered HTTP {response.status_code}")
        try:
            decision = ClearanceDecision.model_validate_json(response.content)
        except ValidationError as exc:
            raise BackendError(f"malformed decision ({exc.error_count()} errors)") from exc
        if decision.request_id != request.request_id:
            raise BackendError("decision is for another request")
        return decision

    async def _post_with_retry(
        self, body: str, headers: dict[str, str], request: ClearanceRequest
    ) -> httpx.Response:
        for attempt in (1, 2):
            self.attempts += 1
            try:
                return await self._client.post(CLEARANCES_PATH, content=body, headers=headers)
            except _RETRYABLE as exc:
                if attempt == 2:
                    raise
                log.warning(
                    "backend connection failed, retrying",
                    request_id=str(request.request_id),
                    error=type(exc).__name__,
                )
                await asyncio.sleep(self.retry_delay_s)
        raise AssertionError("unreachable")  # pragma: no cover
