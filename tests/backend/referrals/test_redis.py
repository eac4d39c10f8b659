"""Referrals on a real redis-server: photos with their TTL, deleted on close; the live channel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bordergate.contracts import Hall, ReferralChange, referral_photo_key, referrals_channel
from bordergate.redis_conn import open_redis
from tests.auth_helpers import add_user, device_headers, sign_in
from tests.backend.conftest import make_settings, running
from tests.backend.referrals.conftest import b64, jpeg, referred_transit

pytestmark = pytest.mark.slow


async def test_photos_live_in_redis_with_a_ttl_and_go_when_the_referral_closes(
    tmp_path: Path, redis_url: str
) -> None:
    settings = make_settings(tmp_path, redis_url=redis_url, referral_photo_ttl_s=600)
    watcher = open_redis(redis_url)
    pubsub = watcher.pubsub()
    await pubsub.subscribe(referrals_channel(Hall.AIRPORT))
    try:
        async with running(settings) as (app, client):
            add_user(app.state.records, "olga", "officer")  # type: ignore[arg-type]
            decision = (await client.post("/v1/clearances", json=referred_transit())).json()
            rid = decision["referral_id"]
            headers = device_headers(app.state.records)
            put = await client.put(
                f"/v1/referrals/{rid}/photos",
                json={"document": b64(jpeg(seed=5)), "live": b64(jpeg(seed=6))},
                headers=headers,
            )
            assert put.status_code == 200, put.text
            for kind in ("document", "live"):
                ttl = await watcher.ttl(referral_photo_key(rid, kind))
                assert 0 < ttl <= 600
            await sign_in(client, "olga")
            decided = await client.post(
                f"/v1/referrals/{rid}/decision",
                json={"decision": "refuse"},
                headers={"X-Bordergate-Console": "1"},
            )
            assert decided.status_code == 200, decided.text
            assert await watcher.keys("bordergate:referral-photo:*") == []
        changes: list[str] = []
        async with asyncio.timeout(5):
            while len(changes) < 3:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    change = ReferralChange.model_validate_json(message["data"])
                    assert change.referral_id == rid
                    changes.append(change.change)
        assert changes == ["opened", "photos", "closed"]
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await watcher.aclose()
