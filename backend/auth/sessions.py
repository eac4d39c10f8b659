"""Staff sessions in Redis: the backend keeps no session state of its own (several workers).

The cookie carries a random token; Redis holds only its sha256, so a copy of Redis does not hand
out live sessions. A session ends after ``idle_s`` unused or ``absolute_s`` after sign-in,
whichever comes first; the Redis TTL follows the same rule, so expired sessions vanish by
themselves. With ``accounts`` given, every resolve also asks the account store: a disabled or
removed account's sessions end at once, and a changed role or name applies to the next request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from backend.auth.roles import Principal, Role
from bordergate.contracts import PREFIX

SESSION_COOKIE = "bordergate_session"


def _key(token: str) -> str:
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return f"{PREFIX}:auth:session:{digest}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_s: float
    absolute_s: float


AccountLookup = Callable[[str], Awaitable[Principal | None]]
"""The account's current principal by username; None when it is disabled or gone."""


class SessionStore:
    """Create, resolve (refreshing the idle timer) and end sessions."""

    def __init__(
        self,
        redis: Redis,
        policy: SessionPolicy,
        *,
        clock: Callable[[], float] = time.time,
        accounts: AccountLookup | None = None,
    ) -> None:
        self._redis = redis
        self._policy = policy
        self._clock = clock
        self._accounts = accounts

    async def create(self, principal: Principal) -> str:
        """A new session for ``principal``; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        key = _key(token)
        await self._redis.hset(
            key,
            mapping={
                "username": principal.username,
                "role": str(principal.role),
                "display_name": principal.display_name,
                "language": principal.language,
                "created_at": repr(now),
                "last_seen": repr(now),
            },
        )
        await self._redis.pexpire(key, self._ttl_ms(now, now))
        return token

    def _ttl_ms(self, created_at: float, now: float) -> int:
        left = min(self._policy.idle_s, created_at + self._policy.absolute_s - now)
        return max(1, int(left * 1000))

    async def resolve(self, token: str | None) -> Principal | None:
        """The session's principal, or None if there is none or it has expired."""
        if not token or len(token) > 256:
            return None
        key = _key(token)
        raw = await self._redis.hgetall(key)
        if not raw:
            return None
        data = {_text(k): _text(v) for k, v in raw.items()}
        now = self._clock()
        try:
            created_at = float(data["created_at"])
            last_seen = float(data["last_seen"])
            principal = Principal(
                username=data["username"],
                role=Role(data["role"]),
                display_name=data["display_name"],
                language=data.get("language", "en"),
            )
        except (KeyError, ValueError):
            await self._redis.delete(key)
            return None
        # Checked here too, not only by the TTL: the clock is the policy, Redis only cleans up.
        if now - last_seen >= self._policy.idle_s or now - created_at >= self._policy.absolute_s:
            await self._redis.delete(key)
            return None
        if self._accounts is not None:
            # The account store is the authority: the session only remembers who signed in.
            current = await self._accounts(principal.username)
            if current is None:
                await self._redis.delete(key)
                return None
            principal = current
        await self._redis.hset(key, "last_seen", repr(now))
        await self._redis.pexpire(key, self._ttl_ms(created_at, now))
        return principal

    async def end(self, token: str | None) -> bool:
        """End the session; True if there was one."""
        if not token or len(token) > 256:
            return False
        return bool(await self._redis.delete(_key(token)))


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int
    window_s: float
    lockout_s: float


class LoginThrottle:
    """Failed sign-ins per username in a sliding window; too many lock the account for a while."""

    def __init__(
        self, redis: Redis, policy: LockoutPolicy, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._policy = policy
        self._clock = clock

    @staticmethod
    def _failures_key(username: str) -> str:
        return f"{PREFIX}:auth:failures:{username}"

    @staticmethod
    def _lock_key(username: str) -> str:
        return f"{PREFIX}:auth:locked:{username}"

    async def locked_for(self, username: str) -> float:
        """Seconds the account stays locked (0 when it is not)."""
        ttl_ms = await self._redis.pttl(self._lock_key(username))
        return max(0.0, ttl_ms / 1000) if ttl_ms and ttl_ms > 0 else 0.0

    async def note_attempt(self, username: str) -> int:
        """Count an attempt in the window (before its password is checked); the count so far.

        Counting before checking bounds the guesses an attacker gets by sending many attempts at
        once: those past the limit are refused unchecked. A success clears the count.
        """
        now = self._clock()
        key = self._failures_key(username)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {f"{now!r}:{secrets.token_hex(4)}": now})
            pipe.zremrangebyscore(key, "-inf", now - self._policy.window_s)
            pipe.zcard(key)
            pipe.pexpire(key, int(self._policy.window_s * 1000))
            results = await pipe.execute()
        return int(results[2])

    async def lock(self, username: str) -> bool:
        """Lock the account; True if this call locked it (False: it already was)."""
        # SET NX: only the attempt that crosses the line locks (and is audited) once.
        locked = await self._redis.set(
            self._lock_key(username), "1", px=int(self._policy.lockout_s * 1000), nx=True
        )
        await self._redis.delete(self._failures_key(username))
        return bool(locked)

    async def record_failure(self, username: str) -> bool:
        """Count a failure; True if this one locked the account."""
        if await self.note_attempt(username) < self._policy.max_failures:
            return False
        return await self.lock(username)

    async def clear(self, username: str) -> None:
        await self._redis.delete(self._failures_key(username))
