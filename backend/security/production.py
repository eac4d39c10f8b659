"""``BORDERGATE_ENV=production``: the backend refuses to start on a demo's footing.

The backend's secrets are the credentials in ``BORDERGATE_REDIS_URL`` (sessions, lane state and
events live there) and in ``BORDERGATE_DATABASE_URL`` (records, accounts, audit); sessions and
device and feed tokens are random per issue, so there is no signing key to leave at a default.
In production both URLs must be given, with a password that is not a well-known default, the
session cookie must be Secure (HTTPS only), and the records store must hold none of the demo's
accounts, kiosks or feed clients (``bordergate demo`` creates them with actor ``demo``).
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from backend.audit.tables import AuditEntry
from backend.auth.demo_access import DEMO_USERS
from backend.auth.tables import DeviceRow, FeedClientRow, UserRow
from backend.records.store import RecordsStore, guarded
from backend.settings import DEFAULT_DATABASE_URL, BackendSettings

MIN_SECRET_LENGTH = 12
# Passwords found in sample configurations and tutorials: never accepted in production.
DEFAULT_SECRETS = frozenset(
    {"", "admin", "bordergate", "changeme", "default", "demo", "password", "postgres", "redis",
     "root", "secret", "test"}
)  # fmt: skip


class ProductionConfigError(RuntimeError):
    """The settings or the records store are not fit for production; the app does not start."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("refusing to start in production: " + "; ".join(problems))
        self.problems = problems


def _weak(password: str | None) -> bool:
    return (
        password is None or password.lower() in DEFAULT_SECRETS or len(password) < MIN_SECRET_LENGTH
    )


def _url_password(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None


def settings_problems(cfg: BackendSettings) -> list[str]:
    """What keeps these settings out of production (empty when they are fit)."""
    problems: list[str] = []
    if not cfg.session_cookie_secure:
        problems.append("BORDERGATE_SESSION_COOKIE_SECURE must be true (cookies over HTTPS only)")
    if not cfg.redis_url:
        problems.append("BORDERGATE_REDIS_URL must be set (the in-process Redis is for demos)")
    elif _weak(_url_password(cfg.redis_url)):
        problems.append(
            f"BORDERGATE_REDIS_URL needs a password of at least {MIN_SECRET_LENGTH} characters "
            "that is not a default"
        )
    if cfg.database_url == DEFAULT_DATABASE_URL:
        problems.append("BORDERGATE_DATABASE_URL must be set (not the default SQLite file)")
    elif not cfg.database_url.startswith("sqlite") and _weak(_url_password(cfg.database_url)):
        problems.append(
            f"BORDERGATE_DATABASE_URL needs a password of at least {MIN_SECRET_LENGTH} "
            "characters that is not a default"
        )
    return problems


@guarded
def store_problems(store: RecordsStore) -> list[str]:
    """Demo accounts, kiosks or feed clients still active in the records store."""
    problems: list[str] = []
    with store.session() as session:
        demo_names = {name for name, _ in DEMO_USERS.values()}
        created_by_demo = set(
            session.execute(
                select(AuditEntry.subject).where(
                    AuditEntry.actor == "demo",
                    AuditEntry.kind.in_(
                        ("user-created", "device-registered", "feed-client-registered")
                    ),
                )
            ).scalars()
        )
        # Created by the demo (audited), or one of its names with its display name.
        demo_user = or_(
            UserRow.username.in_(created_by_demo),
            and_(
                UserRow.username.in_(demo_names),
                UserRow.display_name.in_([display for _, display in DEMO_USERS.values()]),
            ),
        )
        users = session.execute(
            select(UserRow.username).where(UserRow.disabled.is_(False), demo_user)
        ).scalars()
        found = sorted(users)
        if found:
            problems.append(f"demo accounts are active: {', '.join(found)} (disable them)")
        devices = session.execute(
            select(DeviceRow.device_id).where(
                DeviceRow.revoked_at.is_(None), DeviceRow.device_id.in_(created_by_demo)
            )
        ).scalars()
        feeds = session.execute(
            select(FeedClientRow.client_id).where(
                FeedClientRow.revoked_at.is_(None), FeedClientRow.client_id.in_(created_by_demo)
            )
        ).scalars()
        tokens = sorted([*devices, *feeds])
        if tokens:
            problems.append(f"the demo's kiosk or feed tokens are active: {', '.join(tokens)}")
    return problems


def check_settings(cfg: BackendSettings) -> None:
    """Raise :class:`ProductionConfigError` in production mode when the settings are unfit."""
    if cfg.env == "production" and (problems := settings_problems(cfg)):
        raise ProductionConfigError(problems)


def check_store(cfg: BackendSettings, store: RecordsStore) -> None:
    """Raise :class:`ProductionConfigError` in production mode when demo access is active."""
    if cfg.env == "production" and (problems := store_problems(store)):
        raise ProductionConfigError(problems)
