"""Backend settings, read from ``BORDERGATE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from bordergate.settings import CommonSettings

DEFAULT_DATABASE_URL = "sqlite:///var/bordergate.sqlite3"


class BackendSettings(CommonSettings):
    """``BORDERGATE_DATABASE_URL``, ``BORDERGATE_HOST``, ``BORDERGATE_PORT`` and so on."""

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description=(
            "SQLAlchemy URL of the records store. Default: a SQLite file under ./var (the folder "
            "is created); PostgreSQL with postgresql+psycopg://user:pass@host/db."
        ),
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="uvicorn worker processes; more than one needs REDIS_URL (shared state)",
    )
    max_body_bytes: int = Field(
        default=64 * 1024, gt=0, description="Larger request bodies get 413 before parsing"
    )
    policy_rules_dir: Path | None = Field(
        default=None, description="Effective-dated policy rules; default: the shipped ones"
    )
    flight_timetable: Path | None = Field(
        default=None, description="Flight registry timetable (YAML); default: the shipped one"
    )
    max_manifest_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description="Body limit of POST /v1/manifests: a cruise ship's list of thousands",
    )
    outbox_replay_interval_s: float = Field(
        default=2.0, gt=0, description="How often pending outbox rows are re-published"
    )
    outbox_replay_grace_s: float = Field(
        default=2.0,
        ge=0,
        description="Replay leaves rows this young to the request that wrote them",
    )
    outbox_batch_size: int = Field(default=200, gt=0)
    publish_timeout_s: float = Field(
        default=1.0, gt=0, description="Budget for the publish after commit; the replay retries"
    )
    readiness_timeout_s: float = Field(default=1.0, gt=0)
    # A kiosk's clock is not trusted: decisions and stays run on the backend's own clock.
    decision_clock: Literal["backend", "request"] = Field(
        default="backend",
        description=(
            "'backend': decide on the backend's clock and refer (device-error) a request whose "
            "arrival_time is off by more than clock_skew_tolerance_s; 'request': decide on the "
            "request's arrival_time (replaying past cases, tests of effective-dated rules)"
        ),
    )
    clock_skew_tolerance_s: float = Field(
        default=120.0, gt=0, description="How far a kiosk's arrival_time may be from ours"
    )
    # A kiosk refers when its budget runs out; a decision committed after that would say admit
    # for a traveller standing at an officer's desk.
    decision_deadline_s: float = Field(
        default=1.8,
        gt=0,
        description=(
            "A clearance not committed within this many seconds (or within the kiosk's own "
            "remaining budget, header X-Decision-Budget-Ms, less decision_budget_margin_s) is "
            "rolled back and answered 503 decision_late"
        ),
    )
    decision_budget_margin_s: float = Field(
        default=0.1, ge=0, description="Kept back from the kiosk's budget for the answer's trip"
    )
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # Referrals (backend.referrals): the photos live in Redis only while a referral is open.
    referral_photo_ttl_s: int = Field(
        default=4 * 3600, gt=0, description="A referral's photos expire after this, closed or not"
    )
    max_referral_photos_bytes: int = Field(
        default=800 * 1024, gt=0, description="Body limit of PUT /v1/referrals/{id}/photos"
    )
    # Slow and greedy clients (backend.http_protocol, backend.middleware).
    request_header_timeout_s: float = Field(
        default=10.0, gt=0, description="A request's headers must arrive within this (slowloris)"
    )
    request_body_timeout_s: float = Field(
        default=30.0, gt=0, description="A request's whole body must arrive within this (408)"
    )
    ws_max_message_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="Largest websocket message a page may send; bigger closes the socket (1009)",
    )
    # Staff sign-in (backend.auth).
    session_idle_s: float = Field(
        default=30 * 60, gt=0, description="A staff session ends after this long unused"
    )
    session_absolute_s: float = Field(
        default=12 * 3600, gt=0, description="A staff session ends this long after sign-in"
    )
    session_cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind TLS)"
    )
    login_max_failures: int = Field(
        default=5, gt=0, description="Failed sign-ins within the window that lock an account"
    )
    login_failure_window_s: float = Field(default=15 * 60, gt=0)
    login_lockout_s: float = Field(default=15 * 60, gt=0, description="How long a lock lasts")
    # Hardening (backend.security).
    env: Literal["development", "production"] = Field(
        default="development",
        description=(
            "production: refuse to start with missing or default secrets, insecure cookies or "
            "the demo's accounts (backend.security.production)"
        ),
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Extra origins (scheme://host[:port]) the staff pages are served from, for a proxy "
            "that rewrites Host; the request's own host is always allowed"
        ),
    )
