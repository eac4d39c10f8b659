"""Cross-site request refusal: the second defence, after the session cookie's SameSite=Strict.

A state-changing request authenticated by the session cookie must show that one of our own pages
sent it: ``Sec-Fetch-Site: same-origin``, or an ``Origin`` whose host is the request's own
``Host`` (or one of ``allowed_origins``, for a proxy that rewrites Host). Browsers send one or both
on every POST, and a page cannot forge either; a request with neither is refused too, so an old
browser or a plugin that strips them fails closed. Websocket handshakes carry ``Origin`` from every
browser (RFC 6455), so a websocket is refused when its ``Origin`` is foreign.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_ok(origin: str, host: str | None, allowed_origins: Iterable[str]) -> bool:
    origin = origin.strip().lower()
    if origin in {o.strip().lower().rstrip("/") for o in allowed_origins}:
        return True
    parsed = urlsplit(origin)
    return bool(parsed.scheme in ("http", "https") and host and parsed.netloc == host.lower())


def cross_site_reason(
    headers: Mapping[str, str], allowed_origins: Iterable[str] = ()
) -> str | None:
    """Why this cookie-authenticated state change is refused; None when it is same-origin."""
    site = headers.get("sec-fetch-site")
    origin = headers.get("origin")
    if site is not None and site != "same-origin":
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    if origin is not None:
        if _origin_ok(origin, headers.get("host"), allowed_origins):
            return None
        return "cross-origin request refused (foreign Origin)"
    if site == "same-origin":
        return None
    return "request refused: no Origin or Sec-Fetch-Site header shows it came from this site"


def websocket_origin_reason(
    headers: Mapping[str, str], allowed_origins: Iterable[str] = ()
) -> str | None:
    """Why this websocket handshake is refused; None for our own pages and non-browser clients."""
    origin = headers.get("origin")
    if origin is None or _origin_ok(origin, headers.get("host"), allowed_origins):
        return None
    return "cross-origin websocket refused (foreign Origin)"


def login_origin_reason(
    headers: Mapping[str, str], allowed_origins: Iterable[str] = ()
) -> str | None:
    """Why a sign-in is refused: only when the browser says another site sent it (login CSRF).

    Scripts and the command line send neither header and are not refused.
    """
    if headers.get("sec-fetch-site") is None and headers.get("origin") is None:
        return None
    return cross_site_reason(headers, allowed_origins)
