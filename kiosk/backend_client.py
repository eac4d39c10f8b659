"""The kiosk's HTTP client for ``POST /v1/clearances``. Every failure raises; the session refers.

One decision has a total time budget (``timeout_s``, e.g. 2 s) that covers the retry: a slow
backend is as good as none. A connection failure is retried once with the same ``request_id``
(the backend's idempotency key), so a request that did reach the backend is never recorded twice.

A referred traveller's referral goes the same way: ``POST /v1/referrals`` when the kiosk referred
on its own, then ``PUT /v1/referrals/{id}/photos`` (each call within ``timeout_s``, no retry).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from types import TracebackType

import httpx
import structlog
from pydantic import ValidationError

from bordergate.clearance_api import DECISION_BUDGET_HEADER, ClearanceDecision, ClearanceRequest
from bordergate.contracts import ReasonCode
from bordergate.referral_api import KioskReferral, ReferralReceipt

log = structlog.get_logger(__name__)

CLEARANCES_PATH = "/v1/clearances"
REFERRALS_PATH = "/v1/referrals"


class BackendClientError(Exception):
    """No usable decision from the backend; ``reason`` is what the traveller is referred for."""

    reason: ReasonCode = ReasonCode.BACKEND_ERROR


class BackendUnavailableError(BackendClientError):
    """Unreachable, connection lost, or no answer within the time budget."""

    reason = ReasonCode.BACKEND_UNAVAILABLE


class BackendError(BackendClientError):
    """The backend answered, but not with a valid decision (non-2xx, malformed, wrong request)."""

    reason = ReasonCode.BACKEND_ERROR


class DeviceRefusedError(BackendError):
    """The backend refused this kiosk (401/403): no, unknown or revoked token, or wrong lane."""

    reason = ReasonCode.DEVICE_NOT_AUTHORISED


# Connection-level failures worth one retry (a timeout is not: the budget is spent).
_RETRYABLE = (httpx.NetworkError, httpx.RemoteProtocolError)


def _error_code(response: httpx.Response) -> str:
    """The backend's error code (e.g. device_unknown) for the log, or "no detail"."""
    try:
        body = response.json()
    except ValueError:
        return "no detail"
    code = body.get("error") if isinstance(body, dict) else None
    return str(code) if code else "no detail"


class BackendClient:
    def __init__(
        self,
        base_url: str,
        timeout_s: float = 2.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_delay_s: float = 0.05,
        device_token: str | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.retry_delay_s = retry_delay_s
        headers = {"Accept": "application/json"}
        if device_token:
            headers["Authorization"] = f"Bearer {device_token}"
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            headers=headers,
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

        if response.status_code in (401, 403):
            raise DeviceRefusedError(
                f"backend refused this kiosk (HTTP {response.status_code}): {_error_code(response)}"
            )
        if not response.is_success:
            raise BackendError(f"backend answered HTTP {response.status_code}")
        try:
            decision = ClearanceDecision.model_validate_json(response.content)
        except ValidationError as exc:
            raise BackendError(f"malformed decision ({exc.error_count()} errors)") from exc
        if decision.request_id != request.request_id:
            raise BackendError("decision is for another request")
        return decision

    async def report_referral(self, report: KioskReferral) -> ReferralReceipt:
        """Open the referral the kiosk made on its own (idempotent by ``report.request_id``)."""
        response = await self._referral_call("POST", REFERRALS_PATH, report.model_dump_json())
        try:
            return ReferralReceipt.model_validate_json(response.content)
        except ValidationError as exc:
            raise BackendError(f"malformed referral receipt ({exc.error_count()} errors)") from exc

    async def upload_referral_photos(
        self, referral_id: uuid.UUID, *, document: bytes | None, live: bytes | None
    ) -> None:
        """Send the referral's JPEG photos (only ever for a referral; never logged)."""
        body = json.dumps(
            {
                "document": base64.b64encode(document).decode("ascii") if document else None,
                "live": base64.b64encode(live).decode("ascii") if live else None,
            }
        )
        await self._referral_call("PUT", f"{REFERRALS_PATH}/{referral_id}/photos", body)

    async def _referral_call(self, method: str, path: str, body: str) -> httpx.Response:
        """One referral request within the time budget; raises :class:`BackendClientError`."""
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._client.request(
                    method, path, content=body, headers={"Content-Type": "application/json"}
                )
        except (TimeoutError, httpx.HTTPError) as exc:
            raise BackendUnavailableError(f"referral call failed: {type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            raise DeviceRefusedError(
                f"backend refused this kiosk (HTTP {response.status_code}): {_error_code(response)}"
            )
        if not response.is_success:
            raise BackendError(f"backend answered HTTP {response.status_code} to {method} {path}")
        return response

    async def _post_with_retry(
        self, body: str, headers: dict[str, str], request: ClearanceRequest
    ) -> httpx.Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s  # the caller's timeout covers both attempts
        for attempt in (1, 2):
            self.attempts += 1
            # The backend rolls back a decision it cannot commit before we give up on it.
            remaining_ms = max(1, int((deadline - loop.time()) * 1000))
            attempt_headers = {**headers, DECISION_BUDGET_HEADER: str(remaining_ms)}
            try:
                return await self._client.post(
                    CLEARANCES_PATH, content=body, headers=attempt_headers
                )
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
