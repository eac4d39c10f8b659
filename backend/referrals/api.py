"""Referral endpoints: kiosks open referrals and upload photos; officers read and decide.

State-changing officer calls take a JSON body and need the ``X-Bordergate-Console`` header: a
cross-site form cannot send either without a CORS preflight, which this backend never grants.
"""

from __future__ import annotations

import uuid
from typing import cast

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response

from backend.api.errors import error_responses
from backend.auth.deps import require_device, require_roles
from backend.auth.roles import Device, Principal, Role
from backend.referrals.models import DecisionRequest, PhotoKind, ReferralView
from backend.referrals.photos import PhotoRejectedError
from backend.referrals.service import (
    DecisionNotAllowedError,
    InvalidDecisionError,
    NotYourReferralError,
    ReferralClosedError,
    ReferralNotFoundError,
    ReferralService,
)
from bordergate.contracts import Hall
from bordergate.referral_api import KioskReferral, ReferralPhotos, ReferralReceipt

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])

CONSOLE_HEADER = "X-Bordergate-Console"
OFFICER_ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)
officer = require_roles(*OFFICER_ROLES)


def get_referrals(request: Request) -> ReferralService:
    return cast(ReferralService, request.app.state.referrals)


def console_header(
    x_bordergate_console: str | None = Header(default=None, include_in_schema=False),
) -> None:
    """CSRF guard for the console's state-changing calls."""
    if not x_bordergate_console:
        raise HTTPException(403, f"missing {CONSOLE_HEADER} header")


@router.post(
    "",
    response_model=ReferralReceipt,
    status_code=201,
    summary="A kiosk reports a referral it made on its own",
    description="Idempotent by request_id: a retry answers 200 with the referral already open.",
    responses={
        200: {"model": ReferralReceipt, "description": "A retry: the referral already open"},
        **error_responses(401, 413, 422, 503),
    },
)
async def report_referral(
    body: KioskReferral,
    response: Response,
    device: Device = Depends(require_device),
    service: ReferralService = Depends(get_referrals),
) -> ReferralReceipt:
    stored, created = await service.report(body, device)
    if not created:
        response.status_code = 200
    return ReferralReceipt(referral_id=stored.referral_id, created=created)


@router.put(
    "/{referral_id}/photos",
    summary="A kiosk uploads the chip and live photos of its own open referral",
    description="Base64 JPEGs, re-encoded by the backend and kept only while the referral is open.",
    responses=error_responses(
        401,
        413,
        503,
        described={
            404: "No such referral at this device's lane",
            409: "The referral is closed; its photos are not kept",
            422: "Malformed body, or a photo that is not a JPEG the backend can re-encode",
        },
    ),
)
async def put_photos(
    referral_id: uuid.UUID,
    body: ReferralPhotos,
    device: Device = Depends(require_device),
    service: ReferralService = Depends(get_referrals),
) -> dict[str, list[PhotoKind]]:
    try:
        kept = await service.put_photos(referral_id, body, device)
    except NotYourReferralError:
        raise HTTPException(404, "no such referral at this lane") from None
    except ReferralClosedError:
        raise HTTPException(409, "the referral is closed; its photos are not kept") from None
    except PhotoRejectedError as exc:
        raise HTTPException(422, f"photo rejected: {exc}") from None
    return {"stored": kept}


@router.get(
    "",
    response_model=list[ReferralView],
    summary="The open referrals of a hall",
    responses=error_responses(401, 403, 422, 503),
)
async def list_open(
    hall: Hall,
    principal: Principal = Depends(officer),
    service: ReferralService = Depends(get_referrals),
) -> list[ReferralView]:
    return await service.list_open(hall, principal.language)


@router.get(
    "/{referral_id}",
    response_model=ReferralView,
    summary="One referral",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_referral(
    referral_id: uuid.UUID,
    principal: Principal = Depends(officer),
    service: ReferralService = Depends(get_referrals),
) -> ReferralView:
    stored = await service.get(referral_id)
    if stored is None:
        raise HTTPException(404, "no such referral")
    return await service.view(stored, principal.language)


@router.get(
    "/{referral_id}/photos/{kind}",
    summary="A photo of an open referral (never cached)",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}},
        **error_responses(
            401, 403, 422, 503, described={404: "The referral is closed or sent no such photo"}
        ),
    },
)
async def get_photo(
    referral_id: uuid.UUID,
    kind: PhotoKind,
    _: Principal = Depends(officer),
    service: ReferralService = Depends(get_referrals),
) -> Response:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    data = await service.photo(referral_id, kind)
    if data is None:
        raise HTTPException(404, "no such photo (the referral is closed or sent none)", headers)
    return Response(content=data, media_type="image/jpeg", headers=headers)


@router.post(
    "/{referral_id}/decision",
    response_model=ReferralView,
    summary="The officer's decision: admit, refuse or secondary inspection",
    description=(
        "Closes the referral, records who decided when and why, appends it to the audit trail "
        "(kind officer-decision) and deletes the photos. A decided referral answers 409. An "
        "admission takes the stay the policy computed; only a supervisor may set another."
    ),
    responses=error_responses(
        401,
        404,
        503,
        described={
            403: "Not an officer role, no console header, or a stay only a supervisor may set",
            409: "The referral was already decided",
            422: "Malformed body, or a decision that does not fit the referral",
        },
    ),
)
async def decide(
    referral_id: uuid.UUID,
    body: DecisionRequest,
    principal: Principal = Depends(officer),
    _csrf: None = Depends(console_header),
    service: ReferralService = Depends(get_referrals),
) -> ReferralView:
    try:
        closed = await service.decide(referral_id, body, principal)
    except ReferralNotFoundError:
        raise HTTPException(404, "no such referral") from None
    except ReferralClosedError:
        raise HTTPException(409, "the referral was already decided") from None
    except DecisionNotAllowedError as exc:
        raise HTTPException(403, str(exc)) from None
    except InvalidDecisionError as exc:
        raise HTTPException(422, str(exc)) from None
    return await service.view(closed, principal.language)
