"""Staff accounts and tokens for ``bordergate demo``: one user per role, one device per kiosk and
one feed client per feed, with random passwords printed by the demo (never fixed ones)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from backend.auth.devices import register_device
from backend.auth.feeds import FeedScope, register_feed_client
from backend.auth.roles import Role
from backend.auth.users import UserError, create_user
from backend.records.store import RecordsStore

DEMO_USERS: dict[Role, tuple[str, str]] = {
    Role.OFFICER: ("officer", "Demo Officer"),
    Role.SUPERVISOR: ("supervisor", "Demo Supervisor"),
    Role.MANAGER: ("manager", "Demo Manager"),
    Role.ADMIN: ("admin", "Demo Admin"),
}


@dataclass
class DemoAccess:
    passwords: dict[str, str] = field(default_factory=dict)
    """username -> password; None-free: users that already existed are left out."""
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    """(hall, lane_id) -> device token."""
    feeds: dict[str, str] = field(default_factory=dict)
    """feed scope -> the demo's feed client token (manifests, registry, schedules)."""


def prepare_demo_access(database_url: str, lanes: Iterable[tuple[str, str]]) -> DemoAccess:
    """Create the demo users (unless they exist) and register one device per lane (blocking)."""
    store = RecordsStore(database_url)
    access = DemoAccess()
    try:
        store.ensure_schema()
        for role, (username, display_name) in DEMO_USERS.items():
            password = secrets.token_urlsafe(9)
            try:
                create_user(
                    store,
                    username=username,
                    role=role,
                    display_name=display_name,
                    password=password,
                    actor="demo",
                )
            except UserError:
                continue  # an existing database keeps its accounts and their passwords
            access.passwords[username] = password
        for hall, lane_id in lanes:
            new = register_device(store, hall=hall, lane_id=lane_id, actor="demo")
            access.tokens[(hall, lane_id)] = new.token
        for scope in FeedScope:
            feed = register_feed_client(store, scope=scope, name=f"demo {scope}", actor="demo")
            access.feeds[str(scope)] = feed.token
    finally:
        store.dispose()
    return access
