"""``POST /v1/clearances``: the kiosk asks, the backend decides and records."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Request, Response

from backend.api.deps import get_clearance_service
from backend.api.errors import error_responses
from backend.auth.deps import AuthError, require_device
from backend.auth.roles import Device
from backend.clearance.service import ClearanceService
from backend.middleware import RECEIVED_AT
from bordergate.clearance_api import DECISION_BUDGET_HEADER, ClearanceDecision, ClearanceRequest

router = APIRouter(prefix="/v1", tags=["clearances"])

REPLAYED_HEADER = "Idempotent-Replayed"
BUDGET_HEADER = DECISION_BUDGET_HEADER


@router.post(
    "/clearances",
    response_model=ClearanceDecision,
    summary="Decide one traveller and record the outcome",
    description=(
        "Idempotent by request_id: a retry with the same body returns the recorded decision "
        f"(header {REPLAYED_HEADER}: true) and records nothing again; the same request_id with "
        "a different body is a 409. The record and its event are committed together; the event "
        "is published to Redis after the answer (or later, if Redis is down). Requires the "
        "kiosk's device token (Authorization: Bearer); hall and lane_id must be the device's. "
        f"A decision not committed within the deadline ({BUDGET_HEADER}, or the backend's "
        "own) is rolled back and answered 503 decision_late."
    ),
    responses=error_responses(401, 403, 409, 413, 422, 503),
)
async def create_clearance(
    body: ClearanceRequest,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    service: ClearanceService = Depends(get_clearance_service),
    device: Device = Depends(require_device),
    budget_ms: int | None = Header(
        default=None,
        alias=BUDGET_HEADER,
        ge=1,
        le=60_000,
        description="The kiosk's remaining time budget: a decision not committed within it "
        "is rolled back (503 decision_late), since the kiosk will have referred",
    ),
) -> ClearanceDecision:
    # A kiosk speaks for its own lane only: a stolen token cannot clear elsewhere.
    if str(body.hall) != device.hall or body.lane_id != device.lane_id:
        raise AuthError(
            403,
            "device_lane_mismatch",
            f"device {device.device_id} is registered for {device.hall}/{device.lane_id}",
        )
    result = await service.clear(
        body,
        budget_s=None if budget_ms is None else budget_ms / 1000,
        received_at=getattr(request.state, RECEIVED_AT, None),
    )
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    if result.announcement is not None:  # the kiosk waits for its answer, not for Redis
        background.add_task(service.announce, result.announcement)
    return result.decision
