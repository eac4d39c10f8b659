"""The app factory's lifespan: what start-up builds is kept out of the collector's full passes."""

from __future__ import annotations

import gc
from pathlib import Path

import fakeredis

from tests.backend.conftest import make_settings, running


async def test_start_up_state_is_frozen_while_serving_and_released_after(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    gc.unfreeze()
    async with running(make_settings(tmp_path), embedded_redis) as (app, _client):
        # The rules, registries and services built at start-up are frozen, not walked by gc.
        assert gc.get_freeze_count() > 10_000
        frozen = {id(o) for o in gc.get_objects(generation=None)}
        assert id(app.state.policy) not in frozen  # get_objects leaves frozen ones out
    assert gc.get_freeze_count() == 0
