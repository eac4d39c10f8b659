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
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.clearance.service import IdempotencyConflictError
from backend.records.store import DecisionLateError, RecordsUnavailableError

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


async def _decision_late(request: Request, exc: Exception) -> JSONResponse:
    return _error(
        503,
        "decision_late",
        "the decision was not recorded within the time budget; nothing was recorded, refer the "
        "traveller",
    )


async def _redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("redis.unavailable", path=request.url.path, error=type(exc).__name__)
    return _error(503, "redis_unavailable", "the shared state store is unavailable; try again")


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return _error(409, "request_id_conflict", str(exc))


# FastAPI's answer to a body it cannot decode at all (not UTF-8, say): a malformed body like any
# other, so the same 422 as a JSON syntax error rather than an undocumented 400.
_BODY_PARSE_ERROR = "There was an error parsing the body"
_HTTP_ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    422: "invalid_request",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing errors and the handlers' HTTPExceptions, in the same shape as every other error."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
        return _error(422, "malformed_json", "the request body is not valid JSON text")
    response = _error(
        exc.status_code,
        _HTTP_ERROR_CODES.get(exc.status_code, f"http_{exc.status_code}"),
        str(exc.detail),
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("http.unexpected_error", path=request.url.path, error=type(exc).__name__)
    return _error(500, "internal_error", "unexpected error; refer the traveller")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RecordsUnavailableError, _records_unavailable)
    app.add_exception_handler(DecisionLateError, _decision_late)
    app.add_exception_handler(IdempotencyConflictError, _conflict)
    app.add_exception_handler(RedisError, _redis_unavailable)
    app.add_exception_handler(Exception, _unexpected)
