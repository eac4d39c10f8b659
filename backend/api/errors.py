"""The error body, for the OpenAPI description."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorResponse(BaseModel):
    error: str
    message: str
    detail: list[dict[str, Any]] | None = None


def error_responses(
    *codes: int, described: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error ``codes`` (and ``described``, with route-specific text)."""
    descriptions = {
        401: "Not signed in, or no valid device token (unknown or revoked device)",
        403: "Signed in, but this role (or this device's lane) may not do this",
        404: "No such resource",
        409: "The request_id was already used for a different body",
        413: "The body is larger than the configured limit",
        422: "Malformed JSON or a body that does not match the schema",
        503: "A dependency (records store or Redis) is unavailable; nothing was recorded",
    }
    descriptions.update(described or {})
    return {
        code: {"model": ErrorResponse, "description": descriptions.get(code, "Error")}
        for code in (*codes, *(described or {}))
    }
