"""Feed clients: the machines that post data to the backend, each for one scope.

- ``manifests``: a cruise line or a licensed travel agency filing group name lists. A client
  registered with an agency licence may file (and read) that agency's manifests only.
- ``registry``: the issuing authority's visa and records feed.
- ``schedules``: the operator's feed of flights and ship calls.

Like a kiosk's, a feed client's token is 256 random bits shown once; only its sha256 is kept, and
revoking refuses it from then on (nothing is deleted, so the history stays auditable).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from backend.audit.chain import append_audit
from backend.auth.devices import token_hash
from backend.auth.tables import FeedClientRow
from backend.records.store import RecordsStore, guarded

TOKEN_PREFIX = "bgf_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")
LICENCE_RE = re.compile(r"^[A-Z0-9-]{3,64}$")


class FeedScope(StrEnum):
    MANIFESTS = "manifests"
    REGISTRY = "registry"
    SCHEDULES = "schedules"


class FeedClient(BaseModel):
    """An authenticated feed client, as a request sees it."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    scope: FeedScope
    name: str
    agency_licence: str | None = None


class FeedClientError(ValueError):
    """Bad client data (unknown scope, bad name): nothing was changed."""


@dataclass(frozen=True, slots=True)
class FeedClientInfo:
    client: FeedClient
    registered_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class RegisteredFeedClient:
    info: FeedClientInfo
    token: str
    """The bearer secret: shown once, never stored."""


def _client(row: FeedClientRow) -> FeedClient:
    return FeedClient(
        client_id=row.client_id,
        scope=FeedScope(row.scope),
        name=row.name,
        agency_licence=row.agency_licence,
    )


def _info(row: FeedClientRow) -> FeedClientInfo:
    return FeedClientInfo(
        client=_client(row), registered_at=row.registered_at, revoked_at=row.revoked_at
    )


@guarded
def register_feed_client(
    store: RecordsStore,
    *,
    scope: str,
    name: str,
    agency_licence: str | None = None,
    actor: str = "cli",
) -> RegisteredFeedClient:
    """A new feed client (audited); its token is returned once."""
    if scope not in {s.value for s in FeedScope}:
        raise FeedClientError(f"scope must be one of {', '.join(s.value for s in FeedScope)}")
    if not NAME_RE.fullmatch(name):
        raise FeedClientError("name must be 1-128 letters, digits, spaces, '.', '_' or '-'")
    if agency_licence is not None:
        if scope != FeedScope.MANIFESTS:
            raise FeedClientError("only a manifests client is bound to an agency licence")
        if not LICENCE_RE.fullmatch(agency_licence):
            raise FeedClientError("agency licence must be 3-64 upper-case letters, digits or '-'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = FeedClientRow(
        client_id=f"feed-{secrets.token_hex(6)}",
        scope=scope,
        name=name,
        agency_licence=agency_licence,
        token_hash=token_hash(token),
        registered_at=datetime.now(UTC),
        revoked_at=None,
    )
    with store.session() as session, session.begin():
        session.add(row)
        session.flush()
        append_audit(
            session,
            kind="feed-client-registered",
            actor=actor,
            subject=row.client_id,
            detail={"scope": scope, "name": name, "agency_licence": agency_licence},
        )
    return RegisteredFeedClient(info=_info(row), token=token)


@guarded
def revoke_feed_client(
    store: RecordsStore, client_id: str, *, actor: str = "cli"
) -> FeedClientInfo | None:
    """Revoke a client (audited once; revoking again changes nothing). None if unknown."""
    with store.session() as session, session.begin():
        row = session.get(FeedClientRow, client_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            append_audit(
                session,
                kind="feed-client-revoked",
                actor=actor,
                subject=client_id,
                detail={"scope": row.scope},
            )
        return _info(row)


@guarded
def list_feed_clients(store: RecordsStore) -> list[FeedClientInfo]:
    with store.session() as session:
        rows = session.execute(select(FeedClientRow).order_by(FeedClientRow.registered_at))
        return [_info(r) for r in rows.scalars()]


@guarded
def feed_client_for_token(store: RecordsStore, token: str) -> FeedClient | None:
    """The active client holding ``token``; None if unknown or revoked."""
    with store.session() as session:
        row = session.execute(
            select(FeedClientRow).where(FeedClientRow.token_hash == token_hash(token))
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        return _client(row)
