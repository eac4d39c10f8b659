"""Kiosk devices and their bearer tokens.

A token is 256 random bits shown once at registration; the store keeps its sha256. Revoking a
device refuses its token from then on; nothing is deleted, so the history stays auditable.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from backend.audit.chain import append_audit
from backend.auth.roles import Device
from backend.auth.tables import DeviceRow
from backend.records.store import RecordsStore, guarded
from bordergate.contracts import Hall

TOKEN_PREFIX = "bgd_"
LANE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")  # as KioskSettings.lane_id


class DeviceError(ValueError):
    """Bad device data (unknown hall, bad lane id): nothing was changed."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    hall: str
    lane_id: str
    registered_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    device: DeviceInfo
    token: str
    """The bearer secret: shown once, never stored."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: DeviceRow) -> DeviceInfo:
    return DeviceInfo(
        device_id=row.device_id,
        hall=row.hall,
        lane_id=row.lane_id,
        registered_at=row.registered_at,
        revoked_at=row.revoked_at,
    )


@guarded
def register_device(
    store: RecordsStore, *, hall: str, lane_id: str, actor: str = "cli"
) -> RegisteredDevice:
    """A new device for one lane (audited); its token is returned once."""
    if hall not in {h.value for h in Hall}:
        raise DeviceError(f"hall must be one of {', '.join(h.value for h in Hall)}")
    if not LANE_RE.fullmatch(lane_id):
        raise DeviceError("lane id must be 1-32 letters, digits, '.', '-' or '_'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = DeviceRow(
        device_id=f"dev-{secrets.token_hex(6)}",
        hall=hall,
        lane_id=lane_id,
        token_hash=token_hash(token),
        registered_at=datetime.now(UTC),
        revoked_at=None,
    )
    with store.session() as session, session.begin():
        session.add(row)
        session.flush()
        append_audit(
            session,
            kind="device-registered",
            actor=actor,
            subject=row.device_id,
            detail={"hall": hall, "lane_id": lane_id},
        )
    return RegisteredDevice(device=_info(row), token=token)


@guarded
def revoke_device(store: RecordsStore, device_id: str, *, actor: str = "cli") -> DeviceInfo | None:
    """Revoke a device (audited once; revoking again changes nothing). None if unknown."""
    with store.session() as session, session.begin():
        row = session.get(DeviceRow, device_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            append_audit(
                session,
                kind="device-revoked",
                actor=actor,
                subject=device_id,
                detail={"hall": row.hall, "lane_id": row.lane_id},
            )
        return _info(row)


@guarded
def list_devices(store: RecordsStore) -> list[DeviceInfo]:
    with store.session() as session:
        rows = session.execute(select(DeviceRow).order_by(DeviceRow.registered_at)).scalars()
        return [_info(r) for r in rows]


@guarded
def device_for_token(store: RecordsStore, token: str) -> Device | None:
    """The active device holding ``token``; None if unknown or revoked."""
    with store.session() as session:
        row = session.execute(
            select(DeviceRow).where(DeviceRow.token_hash == token_hash(token))
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        return Device(device_id=row.device_id, hall=row.hall, lane_id=row.lane_id)
