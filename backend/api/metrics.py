"""Prometheus text exposition of the per-app registry."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.deps import get_metrics
from backend.metrics import BackendMetrics

router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(m: BackendMetrics = Depends(get_metrics)) -> Response:
    return Response(content=generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
