"""``POST /v1/manifests`` and ``GET /v1/manifests/{manifest_id}`` for licensed travel agencies."""

from __future__ import annotations

import uuid
from typing import Any, cast

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from backend.api.errors import ErrorResponse
from backend.auth.deps import require_feed
from backend.auth.feeds import FeedClient, FeedScope
from backend.auth.roles import Principal, Role
from backend.cruise.models import ManifestIn, ManifestReceipt, ManifestView
from backend.cruise.service import (
    AgencyNotLicensedError,
    CruiseService,
    ManifestTooLateError,
)
from backend.cruise.store import ConflictingMembersError

router = APIRouter(prefix="/v1", tags=["cruise manifests"])

REPLAYED_HEADER = "Idempotent-Replayed"
# Filed by the cruise line or agency (feed token), or by a supervisor on their behalf; read back
# by them and by the officers who check the groups.
filer = require_feed(FeedScope.MANIFESTS, Role.SUPERVISOR, Role.ADMIN)
reader = require_feed(FeedScope.MANIFESTS, Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)


def _other_agency(caller: FeedClient | Principal, licence: str) -> bool:
    """A feed client bound to one agency's licence speaks for that agency only."""
    return isinstance(caller, FeedClient) and caller.agency_licence not in (None, licence)


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
        "least the configured lead time (default 24 h) before the ship. Needs a manifests feed "
        "token (Authorization: Bearer) or a supervisor's session."
    ),
    responses={
        200: {"model": ManifestReceipt, "description": "A retry or an amendment"},
        401: _doc("No valid feed token or staff session"),
        403: _doc(
            "The agency licence is unknown, expired, not yet valid or revoked, or not the one "
            "this client is registered for; or a staff role that may not file; not stored"
        ),
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
    caller: FeedClient | Principal = Depends(filer),
) -> ManifestReceipt | JSONResponse:
    if _other_agency(caller, body.agency_licence):
        return _error(403, "agency_not_yours", "this client files for another agency's licence")
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
        401: _doc("No valid feed token or staff session"),
        403: _doc("A staff role or feed that may not read manifests"),
        404: _doc("No manifest with this id"),
        503: _doc("The records store is unavailable"),
    },
)
async def get_manifest(
    manifest_id: uuid.UUID,
    service: CruiseService = Depends(get_cruise_service),
    caller: FeedClient | Principal = Depends(reader),
) -> ManifestView | JSONResponse:
    view = await to_thread.run_sync(service.get, manifest_id)
    if view is None or _other_agency(caller, view.agency_licence):
        return _error(404, "manifest_not_found", "no manifest with this id")
    return view
