"""``POST /v1/manifests`` and ``GET /v1/manifests/{manifest_id}`` for licensed travel agencies."""

from __future__ import annotations

import uuid
from typing import Any, cast

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from backend.api.errors import ErrorResponse
from backend.cruise.models import ManifestIn, ManifestReceipt, ManifestView
from backend.cruise.service import (
    AgencyNotLicensedError,
    CruiseService,
    ManifestTooLateError,
)
from backend.cruise.store import ConflictingMembersError

router = APIRouter(prefix="/v1", tags=["cruise manifests"])

REPLAYED_HEADER = "Idempotent-Replayed"


def get_cruise_service(request: Request) -> CruiseService:
    return cast(CruiseService, request.app.state.cruise)


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "message": message})


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


@router.post(
    "/manifests",
    response_model=ManifestReceipt,
    status_code=201,
    summary="Submit (or amend) a cruise group name list",
    description=(
        "For licensed travel agencies: the foreign tour groups (2 or more members each) on one "
        "ship call at the Tianjin cruise home port. (ship code, voyage, agency licence) "
        "identifies the manifest: 201 when new; the identical body again is a retry (200, same "
        f"manifest_id and version, header {REPLAYED_HEADER}: true); a changed body amends it "
        "(200, version + 1, the members replaced). New manifests and amendments must arrive at "
        "least the configured lead time (default 24 h) before the ship."
    ),
    responses={
        200: {"model": ManifestReceipt, "description": "A retry or an amendment"},
        403: _doc("The agency licence is unknown, expired, not yet valid or revoked; not stored"),
        409: _doc("A traveller is already on another agency's manifest for this ship and voyage"),
        413: _doc("The body is larger than the configured limit"),
        422: _doc("Invalid manifest (schema, group size, nationality, duplicates, lead time)"),
        503: _doc("The records store is unavailable; nothing was stored"),
    },
)
async def submit_manifest(
    body: ManifestIn,
    response: Response,
    service: CruiseService = Depends(get_cruise_service),
) -> ManifestReceipt | JSONResponse:
    try:
        result = await to_thread.run_sync(service.submit, body)
    except AgencyNotLicensedError as exc:
        return _error(403, "agency_not_licensed", str(exc))
    except ManifestTooLateError as exc:
        return _error(422, "manifest_too_late", str(exc))
    except ConflictingMembersError as exc:
        return _error(409, "members_on_other_manifest", str(exc))
    if result.receipt.status != "created":
        response.status_code = 200
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return result.receipt


@router.get(
    "/manifests/{manifest_id}",
    response_model=ManifestView,
    summary="Read a manifest back (current version)",
    responses={
        404: _doc("No manifest with this id"),
        503: _doc("The records store is unavailable"),
    },
)
async def get_manifest(
    manifest_id: uuid.UUID,
    service: CruiseService = Depends(get_cruise_service),
) -> ManifestView | JSONResponse:
    view = await to_thread.run_sync(service.get, manifest_id)
    if view is None:
        return _error(404, "manifest_not_found", "no manifest with this id")
    return view
