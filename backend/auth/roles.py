"""Who may do what: the staff roles, a signed-in principal and an authenticated kiosk device."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class Principal(BaseModel, frozen=True):
    """A signed-in member of staff, as the session knows them."""

    username: str
    role: Role
    display_name: str
    language: str = "en"
    """The officer's language for reason texts: "en" or "zh"."""


class Device(BaseModel):
    """A registered kiosk, authenticated by its bearer token."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    hall: str
    lane_id: str


# Where each role lands after sign-in.
HOME_PAGES: dict[Role, str] = {
    Role.OFFICER: "/console",
    Role.SUPERVISOR: "/console",
    Role.MANAGER: "/dashboard",
    Role.ADMIN: "/dashboard",
}
