"""HTTP routers: health, metrics, clearances, cruise manifests, registries, schedules."""

from fastapi import APIRouter

from backend.api import clearances, health, metrics
from backend.auth.api import router as auth_router
from backend.auth.devices_api import router as devices_router
from backend.console.api import router as console_router
from backend.cruise.api import router as manifests_router
from backend.dashboard.routes import router as dashboard_router
from backend.referrals.api import router as referrals_router
from backend.registries.api import router as registries_router
from backend.schedules.api import router as schedules_router

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(metrics.router)
api_router.include_router(clearances.router)
api_router.include_router(manifests_router)
api_router.include_router(registries_router)
api_router.include_router(schedules_router)
api_router.include_router(auth_router)
api_router.include_router(devices_router)
api_router.include_router(referrals_router)
api_router.include_router(console_router)
api_router.include_router(dashboard_router)

__all__ = ["api_router"]
