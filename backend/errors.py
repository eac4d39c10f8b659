"""Exception handlers: every error is a small JSON body, never a traceback.

Shape: ``{"error": <code>, "message": <text>, "detail": <optional list>}``. Validation errors
never echo the submitted values (they may hold a document number or a name).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from backend.clearance.service import IdempotencyConflictError
from backend.records.store import RecordsUnavailableError

log = structlog.get_logger(__name__)


def _error(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "message": message, **extra})


def _safe_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        item: dict[str, Any] = {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        ctx = err.get("ctx")
        if isinstance(ctx, dict) and err.get("type") == "json_invalid":
            item["msg"] = f"malformed JSON: {ctx.get('error', 'decode error')}"
        details.append(item)
    return details


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _safe_details(exc)
    log.info(
        "http.invalid_request",
        path=request.url.path,
        errors=[f"{'.'.join(d['loc'])}: {d['type']}" for d in details],
    )
    malformed = any(d["type"] == "json_invalid" for d in details)
    return _error(
        422,
        "malformed_json" if malformed else "invalid_request",
        "the request body is not valid JSON"
        if malformed
        else "the request does not match the schema; see detail",
        detail=details,
    )


async def _records_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _error(
        503,
        "records_unavailable",
        "the records store is unavailable; nothing was recorded, refer the traveller",
    )


async def _redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("redis.unavailable", path=request.url.path, error=type(exc).__name__)
    return _error(503, "redis_unavailable", "the shared state store is unavailable; try again")


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return _error(409, "request_id_conflict", str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("http.unexpected_error", path=request.url.path, error=type(exc).__name__)
    return _error(500, "internal_error", "unexpected error; refer the traveller")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RecordsUnavailableError, _records_unavailable)
    app.add_exception_handler(IdempotencyConflictError, _conflict)
    app.add_exception_handler(RedisError, _redis_unavailable)
    app.add_exception_handler(Exception, _unexpected)
