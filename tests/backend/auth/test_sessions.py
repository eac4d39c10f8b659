"""Sessions in Redis (idle and absolute expiry), the sign-in throttle, argon2 password hashes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from backend.auth.roles import Principal, Role
from backend.auth.sessions import (
    LockoutPolicy,
    LoginThrottle,
    SessionPolicy,
    SessionStore,
    _key,
)
from backend.auth.tables import UserRow
from backend.auth.users import UserError, check_password, create_user, get_user
from backend.records.store import RecordsStore

ANN = Principal(username="ann", role=Role.OFFICER, display_name="Ann Li", language="zh")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_session_resolves_to_its_principal(fake_redis: Redis) -> None:
    store = SessionStore(fake_redis, SessionPolicy(idle_s=60, absolute_s=3600))
    token = await store.create(ANN)
    assert len(token) >= 40
    assert await store.resolve(token) == ANN
    assert await store.resolve(token + "x") is None
    assert await store.resolve(None) is None
    assert await store.resolve("") is None


async def test_only_a_hash_of_the_token_is_kept(fake_redis: Redis) -> None:
    store = SessionStore(fake_redis, SessionPolicy(idle_s=60, absolute_s=3600))
    token = await store.create(ANN)
    keys = [k.decode() if isinstance(k, bytes) else k async for k in fake_redis.scan_iter("*")]
    assert keys == [_key(token)]
    assert token not in keys[0]
    values = await fake_redis.hgetall(_key(token))
    assert all(token not in str(v) for v in values.values())


async def test_idle_sessions_expire_and_use_keeps_them_alive(fake_redis: Redis) -> None:
    clock = Clock()
    store = SessionStore(
        fake_redis, SessionPolicy(idle_s=30 * 60, absolute_s=12 * 3600), clock=clock
    )
    token = await store.create(ANN)
    for _ in range(4):  # used every 25 min: alive for 100 min
        clock.now += 25 * 60
        assert await store.resolve(token) == ANN
    clock.now += 30 * 60
    assert await store.resolve(token) is None
    assert not await fake_redis.exists(_key(token))  # and gone


async def test_sessions_end_at_the_absolute_limit_even_when_used(fake_redis: Redis) -> None:
    clock = Clock()
    store = SessionStore(
        fake_redis, SessionPolicy(idle_s=30 * 60, absolute_s=2 * 3600), clock=clock
    )
    token = await store.create(ANN)
    for _ in range(7):  # every 17 min: 119 min
        clock.now += 17 * 60
        assert await store.resolve(token) == ANN
    # The Redis TTL never outlives the absolute limit either.
    ttl_ms = await fake_redis.pttl(_key(token))
    assert 0 < ttl_ms <= 60 * 1000 + 50
    clock.now += 2 * 60
    assert await store.resolve(token) is None


async def test_the_redis_ttl_expires_idle_sessions_by_itself(fake_redis: Redis) -> None:
    import asyncio

    store = SessionStore(fake_redis, SessionPolicy(idle_s=0.2, absolute_s=60))
    token = await store.create(ANN)
    assert await store.resolve(token) == ANN
    await asyncio.sleep(0.35)
    assert not await fake_redis.exists(_key(token))
    assert await store.resolve(token) is None


async def test_sign_out_ends_the_session(fake_redis: Redis) -> None:
    store = SessionStore(fake_redis, SessionPolicy(idle_s=60, absolute_s=3600))
    token = await store.create(ANN)
    assert await store.end(token) is True
    assert await store.resolve(token) is None
    assert await store.end(token) is False


async def test_five_failures_within_the_window_lock_once(fake_redis: Redis) -> None:
    clock = Clock()
    throttle = LoginThrottle(
        fake_redis, LockoutPolicy(max_failures=5, window_s=15 * 60, lockout_s=15 * 60), clock=clock
    )
    for _ in range(4):
        assert await throttle.record_failure("bob") is False
        clock.now += 60
    assert await throttle.locked_for("bob") == 0
    assert await throttle.record_failure("bob") is True
    locked = await throttle.locked_for("bob")
    assert 14 * 60 < locked <= 15 * 60
    assert await throttle.locked_for("other") == 0


async def test_failures_outside_the_window_do_not_add_up(fake_redis: Redis) -> None:
    clock = Clock()
    throttle = LoginThrottle(
        fake_redis, LockoutPolicy(max_failures=5, window_s=15 * 60, lockout_s=15 * 60), clock=clock
    )
    for _ in range(10):  # one every 4 min: never 5 within 15 min
        assert await throttle.record_failure("bob") is False
        clock.now += 4 * 60
    await throttle.clear("bob")
    assert await throttle.locked_for("bob") == 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordsStore]:
    s = RecordsStore(f"sqlite:///{tmp_path / 'users.sqlite3'}")
    yield s
    s.dispose()


def test_passwords_are_stored_as_argon2id_hashes(store: RecordsStore) -> None:
    create_user(store, username="Ann", role=Role.OFFICER, display_name="Ann", password="pa55word-x")
    with store.session() as session:
        row = session.get(UserRow, "ann")
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert "pa55word-x" not in row.password_hash
    assert check_password(store, "ann", "pa55word-x") is not None
    assert check_password(store, "ANN ", "pa55word-x") is not None  # usernames are normalised
    assert check_password(store, "ann", "pa55word-y") is None
    assert check_password(store, "nobody", "pa55word-x") is None


def test_two_users_with_one_password_get_different_hashes(store: RecordsStore) -> None:
    for name in ("ann", "bob"):
        create_user(
            store, username=name, role=Role.OFFICER, display_name=name, password="same-pass"
        )
    with store.session() as session:
        hashes = {session.get(UserRow, n).password_hash for n in ("ann", "bob")}  # type: ignore[union-attr]
    assert len(hashes) == 2


def test_a_disabled_account_cannot_sign_in(store: RecordsStore) -> None:
    from backend.auth.users import set_disabled

    create_user(store, username="ann", role=Role.OFFICER, display_name="Ann", password="pa55word-x")
    assert set_disabled(store, "ann", True, actor="test")
    assert check_password(store, "ann", "pa55word-x") is None


@pytest.mark.parametrize(
    ("username", "role", "language", "password"),
    [
        ("a", "officer", "en", "longenough"),
        ("ann smith", "officer", "en", "longenough"),
        ("ann", "king", "en", "longenough"),
        ("ann", "officer", "fr", "longenough"),
        ("ann", "officer", "en", "short"),
    ],
)
def test_bad_account_data_is_refused_and_changes_nothing(
    store: RecordsStore, username: str, role: str, language: str, password: str
) -> None:
    with pytest.raises(UserError):
        create_user(
            store,
            username=username,
            role=role,
            display_name="X",
            password=password,
            language=language,
        )
    assert get_user(store, username) is None


def test_a_taken_username_is_refused(store: RecordsStore) -> None:
    create_user(store, username="ann", role="officer", display_name="Ann", password="longenough")
    with pytest.raises(UserError, match="taken"):
        create_user(store, username="ANN", role="admin", display_name="X", password="longenough")
    user = get_user(store, "ann")
    assert user is not None
    assert user.role is Role.OFFICER


def test_an_outdated_hash_is_upgraded_at_sign_in(store: RecordsStore) -> None:
    from argon2 import PasswordHasher

    create_user(store, username="ann", role=Role.OFFICER, display_name="Ann", password="pa55word-x")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pa55word-x")
    with store.session() as session, session.begin():
        row = session.get(UserRow, "ann")
        assert row is not None
        row.password_hash = weak
    assert check_password(store, "ann", "pa55word-x") is not None
    with store.session() as session:
        upgraded = session.get(UserRow, "ann")
        assert upgraded is not None
        assert upgraded.password_hash != weak
        assert upgraded.password_hash.startswith("$argon2id$")
    assert check_password(store, "ann", "pa55word-x") is not None


@pytest.mark.redis
async def test_sessions_on_a_real_redis_expire_by_ttl(redis_url: str) -> None:
    import asyncio

    real = Redis.from_url(redis_url)
    try:
        store = SessionStore(real, SessionPolicy(idle_s=0.3, absolute_s=60))
        token = await store.create(ANN)
        assert await store.resolve(token) == ANN
        assert 0 < await real.pttl(_key(token)) <= 300
        await asyncio.sleep(0.5)
        assert await real.exists(_key(token)) == 0
        assert await store.resolve(token) is None
    finally:
        await real.aclose()
