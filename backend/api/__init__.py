"""HTTP routers: health and readiness, metrics, clearances."""

from fastapi import APIRouter

from backend.api import clearances, health, metrics

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(metrics.router)
api_router.include_router(clearances.router)

__all__ = ["api_router"]
