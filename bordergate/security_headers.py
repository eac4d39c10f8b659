"""Security headers on every HTTP response of the backend and the kiosk's traveller screen.

Pure ASGI middleware, so responses made by other middleware (413, 500) get them too. A header a
route already set is kept: a route may specialise (the photos' own Cache-Control, say).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The pages load only their own vendored scripts and styles (no inline code, no CDN), talk to
# their own origin (fetch and websocket), and show their own images (the referral photos).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, frame and referrer rules, isolation, HSTS (optional) and no-store."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        csp: str = PAGE_CSP,
        hsts: bool = False,
        cacheable_prefixes: Sequence[str] = (),
        path_csp: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.csp = csp
        # Public static files may be cached; everything else (pages, API answers) never is.
        self.cacheable_prefixes = tuple(cacheable_prefixes)
        # Pages that need another policy (the API docs), by exact path.
        self.path_csp = dict(path_csp or {})
        self.fixed = [
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "no-referrer"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if hsts:
            self.fixed.append(("Strict-Transport-Security", HSTS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = self.path_csp.get(path, self.csp)
        cacheable = path.startswith(self.cacheable_prefixes) if self.cacheable_prefixes else False

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                for name, value in self.fixed:
                    headers.setdefault(name, value)
                if not cacheable:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
