"""Running the backend under uvicorn, in the caller's event loop.

server = build_server(settings)
await server.serve()          # until ...
server.should_exit = True     # ... from another task
"""

from __future__ import annotations

import os
from typing import Any

import fakeredis
import structlog
import uvicorn
from fastapi import FastAPI

from backend.app import create_app
from backend.http_protocol import EnvHeaderDeadlineH11Protocol, header_deadline_protocol
from backend.settings import BackendSettings
from bordergate.logging import configure_logging

# Limits on what one client may hold (the header and body deadlines are the settings'):
# idle keep-alive connections close after 5 s; a request line plus headers over 16 KiB is refused
# (h11 answers 431/400); a websocket reads at most 16 messages ahead of the app.
CLIENT_LIMITS: dict[str, Any] = {
    "timeout_keep_alive": 5,
    "h11_max_incomplete_event_size": 16 * 1024,
    "ws_max_queue": 16,
}


def uvicorn_log_config(level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """A logging dictConfig that renders uvicorn's own records through structlog's renderer."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    renderer,
                ],
                "foreign_pre_chain": [
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
            }
        },
        "handlers": {
            "structlog": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["structlog"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["structlog"], "level": level, "propagate": False},
        },
    }


def build_server(
    settings: BackendSettings | None = None,
    *,
    embedded_redis: fakeredis.FakeServer | None = None,
    configure_logs: bool = True,
) -> uvicorn.Server:
    """A uvicorn server for the backend app on ``settings.host``:``settings.port``.

    Access logs are off: the app writes one structured line per request itself.
    """
    cfg = settings if settings is not None else BackendSettings()
    if configure_logs:
        configure_logging(cfg.log_level, cfg.log_json)
    app = create_app(cfg, embedded_redis=embedded_redis)
    config = uvicorn.Config(
        app,
        host=cfg.host,
        port=cfg.port,
        log_config=uvicorn_log_config(cfg.log_level, cfg.log_json) if configure_logs else None,
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
        http=header_deadline_protocol(cfg.request_header_timeout_s),
        **CLIENT_LIMITS,
        ws_max_size=cfg.ws_max_message_bytes,
    )
    return uvicorn.Server(config)


def worker_app() -> FastAPI:
    """The app of one worker process, its logs configured like the single-process server's."""
    cfg = BackendSettings()
    configure_logging(cfg.log_level, cfg.log_json)
    return create_app(cfg)


def run(settings: BackendSettings | None = None) -> None:
    """Serve until interrupted (for ``bordergate backend``).

    With ``workers`` > 1, uvicorn's supervisor runs that many processes on one socket and
    restarts any that dies; each builds its own app from the environment.
    """
    cfg = settings if settings is not None else BackendSettings()
    if cfg.workers == 1:
        build_server(cfg).run()
        return
    if not cfg.redis_url:
        # An embedded Redis lives in one process: workers would each see their own lanes.
        raise SystemExit("several backend workers share state only through Redis: set REDIS_URL")
    configure_logging(cfg.log_level, cfg.log_json)
    # The workers read their settings from the environment, so the command line's go there too.
    os.environ.update(
        {
            "BORDERGATE_HOST": cfg.host,
            "BORDERGATE_PORT": str(cfg.port),
            "BORDERGATE_DATABASE_URL": cfg.database_url,
            "REDIS_URL": cfg.redis_url,
            "BORDERGATE_REQUEST_HEADER_TIMEOUT_S": str(cfg.request_header_timeout_s),
        }
    )
    uvicorn.run(
        "backend.server:worker_app",
        factory=True,
        host=cfg.host,
        port=cfg.port,
        workers=cfg.workers,
        log_config=uvicorn_log_config(cfg.log_level, cfg.log_json),
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
        http=f"{EnvHeaderDeadlineH11Protocol.__module__}:{EnvHeaderDeadlineH11Protocol.__name__}",
        **CLIENT_LIMITS,
        ws_max_size=cfg.ws_max_message_bytes,
    )
