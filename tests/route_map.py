"""The backend's routes, enumerated from the app and sorted by the principal each declares."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount

from backend.auth.deps import RequireFeed, RequirePage, RequireRoles, require_device
from backend.auth.feeds import FeedScope
from backend.auth.roles import Role

PATH_VALUES = {
    "hall": "airport",
    "lane_id": "officer-01",
    "kind": "live",
    "event_id": "1-0",
    "device_id": "dev-000000000000",
}


@dataclass(frozen=True)
class Guarded:
    """A route and the principal it declares."""

    method: str
    path: str
    kind: str  # "staff", "page", "device" or "feed"
    roles: frozenset[Role]
    scope: FeedScope | None = None

    @property
    def url(self) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            return PATH_VALUES.get(name, str(uuid.uuid4()) if name.endswith("_id") else "x")

        return re.sub(r"{(\w+)(?::\w+)?}", fill, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _guard(route: APIRoute, method: str) -> Guarded | None:
    for call in _calls(route.dependant):
        if isinstance(call, RequireRoles):
            return Guarded(method, route.path, "staff", call.roles)
        if isinstance(call, RequirePage):
            return Guarded(method, route.path, "page", call.roles)
        if isinstance(call, RequireFeed):
            roles = call.staff.roles if call.staff else frozenset()
            return Guarded(method, route.path, "feed", roles, call.scope)
        if call is require_device:
            return Guarded(method, route.path, "device", frozenset())
    return None


@dataclass
class RouteMap:
    guarded: list[Guarded]
    websockets: list[str]
    unclassified: list[str]


def route_map(app: FastAPI, public: set[tuple[str, str]], public_mounts: set[str]) -> RouteMap:
    """The app's routes by principal; ``unclassified``: neither guarded nor listed public."""
    found = RouteMap([], [], [])
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIWebSocketRoute):
            found.websockets.append(route.path)
        elif isinstance(route, Mount):
            if context.path not in public_mounts:
                found.unclassified.append(f"mount {context.path}")
        elif isinstance(route, APIRoute):
            for method in sorted(set(route.methods or ()) - {"HEAD"}):
                guard = _guard(route, method)
                if guard is not None:
                    found.guarded.append(guard)
                elif (method, route.path) not in public:
                    found.unclassified.append(f"{method} {route.path}")
        else:
            for method in sorted((context.methods or set()) - {"HEAD"}):
                if (method, context.path) not in public:
                    found.unclassified.append(f"{method} {context.path}")
    return found
