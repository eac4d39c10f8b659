"""The app factory. Everything stateful is created in the lifespan and kept on ``app.state``.

``app.state`` after start-up: ``settings``, ``redis`` (async client), ``records``
(:class:`RecordsStore`), ``metrics`` (:class:`BackendMetrics`, its own ``CollectorRegistry`` as
``metrics.registry`` and ``registry``), ``outbox`` (:class:`OutboxPublisher`), ``clearances``
(:class:`ClearanceService`), ``cruise`` (:class:`CruiseService`, manifests and the licensed
agencies), ``registries`` (:class:`Registries`, visas and records), ``dashboard``
(:class:`DashboardService`, the manager dashboard's stores and live loops) and ``tasks``
(background tasks, cancelled at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

import fakeredis
import structlog
from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import bordergate
from backend.api import api_router
from backend.audit.lane_changes import run_lane_audit
from backend.auth.deps import install_auth_handlers
from backend.clearance.facts import Sources
from backend.clearance.service import ClearanceService
from backend.cruise.service import open_cruise_service
from backend.dashboard.service import DashboardService
from backend.errors import install_error_handlers
from backend.events.outbox import OutboxPublisher
from backend.journey.flights import load_registry
from backend.metrics import BackendMetrics
from backend.middleware import BodyLimitMiddleware, RequestLogMiddleware
from backend.policy.engine import PolicyEngine
from backend.policy.ruleset import DEFAULT_RULES_DIR
from backend.records.store import RecordsStore, RecordsUnavailableError
from backend.referrals.service import ReferralService
from backend.registries.service import open_registries
from backend.security.production import ProductionConfigError, check_settings, check_store
from backend.settings import BackendSettings
from bordergate.redis_conn import open_redis
from bordergate.security_headers import SecurityHeadersMiddleware

log = structlog.get_logger(__name__)

# The interactive API docs are FastAPI's page, which loads Swagger UI / ReDoc over HTTPS with an
# inline bootstrap script; the staff pages keep the strict policy.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https:; "
    "style-src 'self' 'unsafe-inline' https:; img-src 'self' data: https:; font-src https:; "
    "connect-src 'self'; worker-src blob:; base-uri 'none'; frame-ancestors 'none'"
)
DESCRIPTION = """\
Decides self-service border clearances for the bordergate e-gates, keeps the entry records and
publishes clearance events. A kiosk that gets no decision refers the traveller to an officer.
"""


def create_app(
    settings: BackendSettings | None = None,
    *,
    embedded_redis: fakeredis.FakeServer | None = None,
) -> FastAPI:
    """Build the backend app.

    ``settings`` default to the environment (``BORDERGATE_*``). With ``settings.redis_url``
    unset, ``embedded_redis`` is the in-process Redis to share with other parts of the process
    (a private one if not given).
    """
    cfg = settings if settings is not None else BackendSettings()
    check_settings(cfg)  # production mode: no default secrets, no insecure cookies

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = open_redis(cfg.redis_url, embedded_redis)
        store = RecordsStore(cfg.database_url, sqlite_busy_timeout_ms=cfg.sqlite_busy_timeout_ms)
        try:
            await to_thread.run_sync(store.ensure_schema)
        except RecordsUnavailableError:
            log.error("records.schema_deferred", database=store.backend_name)
        try:
            await to_thread.run_sync(check_store, cfg, store)  # production: no demo accounts
        except (ProductionConfigError, RecordsUnavailableError):
            await redis.aclose()
            await to_thread.run_sync(store.dispose)
            raise
        metrics = BackendMetrics()
        outbox = OutboxPublisher(
            redis,
            store,
            metrics,
            batch_size=cfg.outbox_batch_size,
            grace_s=cfg.outbox_replay_grace_s,
            publish_timeout_s=cfg.publish_timeout_s,
        )
        with contextlib.suppress(RecordsUnavailableError):
            await outbox.refresh_pending_gauge()
        app.state.redis = redis
        app.state.records = store
        app.state.metrics = metrics
        app.state.registry = metrics.registry
        app.state.outbox = outbox
        # Cruise manifests (agencies file loaded once) and the visa / records registries.
        app.state.cruise = await to_thread.run_sync(open_cruise_service, store)
        app.state.registries = await to_thread.run_sync(open_registries, store)
        # Policy rules and the flight timetable: loaded and validated once, at start.
        app.state.policy = await to_thread.run_sync(
            PolicyEngine.load, cfg.policy_rules_dir or DEFAULT_RULES_DIR
        )
        flights = await to_thread.run_sync(load_registry, cfg.flight_timetable)
        # Referrals to the officer console (their photos in Redis while open).
        app.state.referrals = ReferralService(
            store,
            redis,
            photo_ttl_s=cfg.referral_photo_ttl_s,
            publish_timeout_s=cfg.publish_timeout_s,
        )
        app.state.clearances = ClearanceService(
            store,
            outbox,
            metrics,
            app.state.policy,
            Sources(registries=app.state.registries, cruise=app.state.cruise, flights=flights),
            referrals=app.state.referrals,
            decision_clock=cfg.decision_clock,
            clock_skew_tolerance_s=cfg.clock_skew_tolerance_s,
            decision_deadline_s=cfg.decision_deadline_s,
            budget_margin_s=cfg.decision_budget_margin_s,
        )
        replay = asyncio.create_task(
            outbox.run(cfg.outbox_replay_interval_s), name="bordergate-outbox-replay"
        )
        # Lane commands join the audit trail (own consumer group, once per stream id).
        lane_audit = asyncio.create_task(run_lane_audit(redis, store), name="bordergate-lane-audit")
        app.state.tasks = [replay, lane_audit]
        # Manager dashboard: wait samples, alerts, live relay and forecast loops.
        app.state.dashboard = DashboardService(redis, store)
        app.state.tasks += app.state.dashboard.start()
        log.info(
            "backend.started",
            database=store.backend_name,
            redis="url" if cfg.redis_url else "embedded",
        )
        # What start-up built (modules, app, rules, registries) lives as long as the process.
        # Left to the collector, every full pass walks it all and stops the worker for ~0.1 s
        # with requests in flight (measured: the decisions' p99); frozen, it is never walked.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # an app built again in this process (tests) must not pile up
            # Cancel until done: redis-py can swallow a cancellation that lands while it
            # connects, and the task would then run on (and shutdown hang).
            pending = set(app.state.tasks)
            while pending:
                for task in pending:
                    task.cancel()
                _, pending = await asyncio.wait(pending, timeout=0.2)
            for task in app.state.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            app.state.tasks = []
            await redis.aclose()
            await to_thread.run_sync(store.dispose)
            log.info("backend.stopped")

    app = FastAPI(
        title="bordergate backend",
        version=bordergate.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = cfg
    install_error_handlers(app)
    install_auth_handlers(app)
    app.include_router(api_router)
    # The console's own files; mounted before /static, which would otherwise take the path.
    app.mount(
        "/static/console", StaticFiles(packages=[("backend.console", "static")]), name="console"
    )
    # Shared CSS and scripts of the staff pages (sign-in, console, dashboard).
    app.mount("/static", StaticFiles(packages=[("backend", "static")]), name="static")
    # Added last = outermost: log every request, then refuse oversized bodies before parsing.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=cfg.max_body_bytes,
        path_limits={
            "/v1/manifests": cfg.max_manifest_bytes,
            "/v1/referrals/*/photos": cfg.max_referral_photos_bytes,
        },
        body_timeout_s=cfg.request_body_timeout_s,
    )
    app.add_middleware(RequestLogMiddleware)
    # Outermost: every response, the middleware's own 413s included, gets the headers.
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts=cfg.session_cookie_secure,
        cacheable_prefixes=("/static/",),
        path_csp={"/docs": DOCS_CSP, "/redoc": DOCS_CSP},
    )
    return app
