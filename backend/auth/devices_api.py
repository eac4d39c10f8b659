"""Admin API for kiosk devices: register (the token is shown once), revoke, list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from backend.api.errors import error_responses
from backend.auth.deps import AuthError, require_roles
from backend.auth.devices import (
    DeviceError,
    DeviceInfo,
    list_devices,
    register_device,
    revoke_device,
)
from backend.auth.roles import Principal, Role
from backend.records.store import RecordsStore
from bordergate.contracts import Hall

router = APIRouter(prefix="/v1/devices", tags=["devices"])

AdminOnly = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


class DeviceOut(BaseModel):
    device_id: str
    hall: str
    lane_id: str
    registered_at: datetime
    revoked_at: datetime | None
    active: bool

    @classmethod
    def of(cls, info: DeviceInfo) -> DeviceOut:
        return cls(
            device_id=info.device_id,
            hall=info.hall,
            lane_id=info.lane_id,
            registered_at=info.registered_at,
            revoked_at=info.revoked_at,
            active=info.active,
        )


class NewDevice(BaseModel):
    hall: Hall
    lane_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")


class RegisteredOut(DeviceOut):
    token: str = Field(description="The device's bearer token: shown this once, never again")


def _store(request: Request) -> RecordsStore:
    return cast(RecordsStore, request.app.state.records)


@router.get(
    "",
    response_model=list[DeviceOut],
    summary="All registered devices",
    responses=error_responses(401, 403, 503),
)
async def get_devices(request: Request, admin: AdminOnly) -> list[DeviceOut]:
    return [DeviceOut.of(d) for d in await to_thread.run_sync(list_devices, _store(request))]


@router.post(
    "",
    response_model=RegisteredOut,
    status_code=201,
    summary="Register a kiosk",
    responses=error_responses(401, 403, 422, 503),
)
async def post_device(body: NewDevice, request: Request, admin: AdminOnly) -> RegisteredOut:
    def run() -> RegisteredOut:
        try:
            new = register_device(
                _store(request), hall=str(body.hall), lane_id=body.lane_id, actor=admin.username
            )
        except DeviceError as exc:
            raise AuthError(422, "invalid_device", str(exc)) from None
        return RegisteredOut(**DeviceOut.of(new.device).model_dump(), token=new.token)

    return await to_thread.run_sync(run)


@router.post(
    "/{device_id}/revoke",
    response_model=DeviceOut,
    summary="Refuse a kiosk's token",
    responses=error_responses(401, 403, 404, 503),
)
async def post_revoke(device_id: str, request: Request, admin: AdminOnly) -> DeviceOut:
    info = await to_thread.run_sync(
        lambda: revoke_device(_store(request), device_id, actor=admin.username)
    )
    if info is None:
        raise AuthError(404, "device_not_found", f"no device {device_id!r}")
    return DeviceOut.of(info)
