"""Typed access to what the lifespan put on ``app.state``."""

from __future__ import annotations

from typing import cast

from fastapi import Request
from redis.asyncio import Redis

from backend.clearance.service import ClearanceService
from backend.metrics import BackendMetrics
from backend.records.store import RecordsStore
from backend.settings import BackendSettings


def get_settings(request: Request) -> BackendSettings:
    return cast(BackendSettings, request.app.state.settings)


def get_redis(request: Request) -> Redis:
    return cast(Redis, request.app.state.redis)


def get_records(request: Request) -> RecordsStore:
    return cast(RecordsStore, request.app.state.records)


def get_metrics(request: Request) -> BackendMetrics:
    return cast(BackendMetrics, request.app.state.metrics)


def get_clearance_service(request: Request) -> ClearanceService:
    return cast(ClearanceService, request.app.state.clearances)
