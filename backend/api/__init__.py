"""HTTP routers: health, metrics, clearances, cruise manifests, registries, schedules."""

from fastapi import APIRouter

from backend.api import clearances, health, metrics
from backend.cruise.api import router as manifests_router
from backend.registries.api import router as registries_router
from backend.schedules.api import router as schedules_router

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(metrics.router)
api_router.include_router(clearances.router)
api_router.include_router(manifests_router)
api_router.include_router(registries_router)
api_router.include_router(schedules_router)

__all__ = ["api_router"]
