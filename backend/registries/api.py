"""``POST /v1/registry/visas`` and ``POST /v1/registry/records``: the issuing authority's feed.

Only the issuing authority's feed client (a ``registry`` feed token) may post. Both upsert on
the entry's natural key: 201 when created, 200 when updated or unchanged.
"""

from __future__ import annotations

from typing import cast

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, Response

from backend.api.errors import error_responses
from backend.auth.deps import require_feed
from backend.auth.feeds import FeedScope
from backend.registries.models import EntryReceipt, RecordEntryIn, VisaEntryIn
from backend.registries.service import Registries

router = APIRouter(
    prefix="/v1/registry",
    tags=["registries"],
    dependencies=[Depends(require_feed(FeedScope.REGISTRY))],
)


def get_registries(request: Request) -> Registries:
    return cast(Registries, request.app.state.registries)


@router.post(
    "/visas",
    response_model=EntryReceipt,
    status_code=201,
    summary="Add or update a Chinese visa (issuing authority feed)",
    description=(
        "Keyed by (document_number, nationality, type, valid_from): resending it updates "
        "valid_until, entries_left and source. 201 created, 200 updated or unchanged."
    ),
    responses={
        200: {"description": "Updated or unchanged"},
        **error_responses(401, 403, 413, 422, 503),
    },
)
async def add_visa(
    body: VisaEntryIn,
    response: Response,
    registries: Registries = Depends(get_registries),
) -> EntryReceipt:
    receipt = await to_thread.run_sync(registries.add_visa, body)
    if receipt.status != "created":
        response.status_code = 200
    return receipt


@router.post(
    "/records",
    response_model=EntryReceipt,
    status_code=201,
    summary="Add a flag to a person's record (issuing authority feed)",
    description=(
        "Flags: barred, visa-refusal, violation-5y (counted for 5 years from its date). Keyed by "
        "(document_number, nationality, flag, date). 201 created, 200 updated or unchanged."
    ),
    responses={
        200: {"description": "Updated or unchanged"},
        **error_responses(401, 403, 413, 422, 503),
    },
)
async def add_record(
    body: RecordEntryIn,
    response: Response,
    registries: Registries = Depends(get_registries),
) -> EntryReceipt:
    receipt = await to_thread.run_sync(registries.add_record, body)
    if receipt.status != "created":
        response.status_code = 200
    return receipt
