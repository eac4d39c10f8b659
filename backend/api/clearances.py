"""``POST /v1/clearances``: the kiosk asks, the backend decides and records."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from backend.api.deps import get_clearance_service
from backend.api.errors import error_responses
from backend.clearance.service import ClearanceService
from bordergate.clearance_api import ClearanceDecision, ClearanceRequest

router = APIRouter(prefix="/v1", tags=["clearances"])

REPLAYED_HEADER = "Idempotent-Replayed"


@router.post(
    "/clearances",
    response_model=ClearanceDecision,
    summary="Decide one traveller and record the outcome",
    description=(
        "Idempotent by request_id: a retry with the same body returns the recorded decision "
        f"(header {REPLAYED_HEADER}: true) and records nothing again; the same request_id with "
        "a different body is a 409. The record and its event are committed together; the event "
        "is published to Redis after commit (or later, if Redis is down)."
    ),
    responses=error_responses(409, 413, 422, 503),
)
async def create_clearance(
    body: ClearanceRequest,
    response: Response,
    service: ClearanceService = Depends(get_clearance_service),
) -> ClearanceDecision:
    result = await service.clear(body)
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return result.decision
