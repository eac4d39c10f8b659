"""``BORDERGATE_ENV=production`` refuses default or missing secrets and the demo's accounts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backend.app import create_app
from backend.auth.demo_access import prepare_demo_access
from backend.auth.devices import list_devices, revoke_device
from backend.auth.feeds import list_feed_clients, revoke_feed_client
from backend.auth.users import set_disabled
from backend.records.store import RecordsStore
from backend.security.production import ProductionConfigError, check_store, settings_problems
from backend.settings import BackendSettings
from tests.conftest import ReliabilityCase

STRONG = "q7V-wN2e-Lp9x-Tz4K"


def production(tmp_path: Path, **overrides: Any) -> BackendSettings:
    values: dict[str, Any] = {
        "env": "production",
        "redis_url": f"redis://:{STRONG}@127.0.0.1:6379/0",
        "database_url": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "session_cookie_secure": True,
    }
    values.update(overrides)
    return BackendSettings(**values)


@pytest.mark.reliability("security")
@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"session_cookie_secure": False}, "SESSION_COOKIE_SECURE"),
        ({"redis_url": None}, "REDIS_URL must be set"),
        ({"redis_url": "redis://127.0.0.1:6379/0"}, "REDIS_URL needs a password"),
        ({"redis_url": "redis://:redis@127.0.0.1:6379/0"}, "REDIS_URL needs a password"),
        ({"redis_url": "redis://default:changeme@127.0.0.1/0"}, "REDIS_URL needs a password"),
        ({"redis_url": "redis://:short1@127.0.0.1/0"}, "REDIS_URL needs a password"),
        ({"database_url": "sqlite:///var/bordergate.sqlite3"}, "DATABASE_URL must be set"),
        (
            {"database_url": "postgresql+psycopg://bordergate:postgres@db/bordergate"},
            "DATABASE_URL needs a password",
        ),
        ({"database_url": "postgresql+psycopg://bordergate@db/bordergate"}, "DATABASE_URL needs"),
    ],
)
def test_production_refuses_missing_or_default_secrets(
    tmp_path: Path, overrides: dict[str, Any], problem: str, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(f"production mode with {overrides}")
    reliability_case.asserts(f"create_app refuses to build the app, naming {problem!r}")
    with pytest.raises(ProductionConfigError) as refused:
        create_app(production(tmp_path, **overrides))
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_production_settings_with_real_secrets_pass(tmp_path: Path) -> None:
    assert settings_problems(production(tmp_path)) == []
    pg = f"postgresql+psycopg://bordergate:{STRONG}@db/bordergate"
    assert settings_problems(production(tmp_path, database_url=pg)) == []
    # Development mode starts on the defaults, as the demo does.
    create_app(BackendSettings(database_url=f"sqlite:///{tmp_path / 'dev.sqlite3'}"))


@pytest.mark.reliability("security")
def test_production_refuses_a_store_with_the_demo_accounts(
    tmp_path: Path, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "a production start on a records store where 'bordergate demo' created its users, "
        "kiosk devices and feed clients"
    )
    reliability_case.asserts(
        "start-up fails naming them; it fails while any is left active, and starts once every "
        "demo account is disabled and every demo token revoked"
    )
    cfg = production(tmp_path, redis_url=None, env="development")
    access = prepare_demo_access(cfg.database_url, [("airport", "A1"), ("cruise", "C1")])
    prod = production(tmp_path)
    store = RecordsStore(cfg.database_url)
    try:
        with pytest.raises(ProductionConfigError) as refused:
            check_store(prod, store)
        text = str(refused.value)
        assert all(name in text for name in access.passwords)
        assert "tokens are active" in text
        for name in access.passwords:
            set_disabled(store, name, True, actor="ops")
        with pytest.raises(ProductionConfigError, match="tokens are active"):
            check_store(prod, store)
        for device in list_devices(store):
            revoke_device(store, device.device_id, actor="ops")
        for client in list_feed_clients(store):
            revoke_feed_client(store, client.client.client_id, actor="ops")
        check_store(prod, store)  # fit now
    finally:
        store.dispose()


@pytest.mark.reliability("security")
@pytest.mark.slow
def test_the_backend_process_refuses_to_start_in_production_on_defaults(
    tmp_path: Path, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("'bordergate backend' started with BORDERGATE_ENV=production only")
    reliability_case.asserts("the process exits non-zero at once, naming each unfit setting")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BORDERGATE_")}
    env.pop("REDIS_URL", None)
    env["BORDERGATE_ENV"] = "production"
    bordergate = Path(sys.executable).with_name("bordergate")
    done = subprocess.run(
        [str(bordergate), "backend", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    out = done.stdout + done.stderr
    for problem in ("SESSION_COOKIE_SECURE", "REDIS_URL", "DATABASE_URL"):
        assert problem in out, out[-2000:]
