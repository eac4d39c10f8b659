"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from anyio import fail_after, to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from backend.api.deps import get_records, get_redis, get_settings
from backend.records.store import RecordsStore
from backend.settings import BackendSettings

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_redis(redis: Redis, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            await redis.ping()
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"


async def _check_records(store: RecordsStore, timeout_s: float) -> str:
    try:
        with fail_after(timeout_s):
            await to_thread.run_sync(store.ping, abandon_on_cancel=True)
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"


@router.get(
    "/readyz",
    summary="Readiness: Redis answers a ping and the records store a query",
    responses={503: {"description": "A dependency failed; see checks"}},
)
async def readyz(
    redis: Redis = Depends(get_redis),
    store: RecordsStore = Depends(get_records),
    settings: BackendSettings = Depends(get_settings),
) -> JSONResponse:
    timeout = settings.readiness_timeout_s
    redis_status, records_status = await asyncio.gather(
        _check_redis(redis, timeout), _check_records(store, timeout)
    )
    checks = {"redis": redis_status, "records": records_status}
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not_ready", "checks": checks},
    )
