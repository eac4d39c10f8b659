"""The error body, for the OpenAPI description."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorResponse(BaseModel):
    error: str
    message: str
    detail: list[dict[str, Any]] | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "Not signed in, or no valid device token (unknown or revoked device)",
        403: "Signed in, but this role (or this device's lane) may not do this",
        409: "The request_id was already used for a different body",
        413: "The body is larger than the configured limit",
        422: "Malformed JSON or a body that does not match the schema",
        503: "A dependency (records store or Redis) is unavailable; nothing was recorded",
    }
    return {
        code: {"model": ErrorResponse, "description": descriptions.get(code, "Error")}
        for code in codes
    }
