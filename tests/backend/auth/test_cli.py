"""``bordergate users`` and ``bordergate devices`` on the records store of the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.audit.chain import recent_entries, verify_chain
from backend.auth.devices import device_for_token
from backend.auth.users import check_password
from backend.records.store import RecordsStore
from bordergate.cli import app


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordsStore]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("BORDERGATE_DATABASE_URL", url)
    s = RecordsStore(url)
    yield s
    s.dispose()


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, result.output


def test_users_add_takes_the_password_from_the_environment(store: RecordsStore) -> None:
    code, out = run(
        "users", "add", "Olga", "--role", "officer", "--display-name", "Olga Wang",
        "--language", "zh", env={"BORDERGATE_NEW_PASSWORD": "s3cret-enough"},
    )  # fmt: skip
    assert code == 0, out
    assert "added olga (officer, zh)" in out
    user = check_password(store, "olga", "s3cret-enough")
    assert user is not None
    assert user.display_name == "Olga Wang"
    code, out = run("users", "list", "--json")
    assert json.loads(out.strip())["role"] == "officer"
    assert [e.kind for e in recent_entries(store)] == ["user-created"]


def test_users_add_prompts_for_the_password(store: RecordsStore) -> None:
    code, out = run(
        "users", "add", "mia", "--role", "manager", "--display-name", "Mia",
        env={"BORDERGATE_NEW_PASSWORD": ""}, stdin="prompted-pass\nprompted-pass\n",
    )  # fmt: skip
    assert code == 0, out
    assert check_password(store, "mia", "prompted-pass") is not None


@pytest.mark.parametrize(
    "args",
    [
        ["ann", "--role", "emperor", "--display-name", "Ann"],
        ["ann", "--role", "officer", "--display-name", "Ann", "--language", "de"],
        ["a b", "--role", "officer", "--display-name", "Ann"],
    ],
)
def test_users_add_refuses_bad_data_with_exit_2(store: RecordsStore, args: list[str]) -> None:
    code, out = run("users", "add", *args, env={"BORDERGATE_NEW_PASSWORD": "long-enough"})
    assert code == 2
    assert "error:" in out


def test_users_add_refuses_a_taken_username(store: RecordsStore) -> None:
    env = {"BORDERGATE_NEW_PASSWORD": "long-enough"}
    assert run("users", "add", "ann", "--role", "officer", "--display-name", "A", env=env)[0] == 0
    code, out = run("users", "add", "ann", "--role", "admin", "--display-name", "B", env=env)
    assert code == 2
    assert "taken" in out


def test_devices_register_list_and_revoke(store: RecordsStore) -> None:
    code, out = run("devices", "register", "--hall", "cruise", "--lane", "C2", "--json")
    assert code == 0, out
    device = json.loads(out)
    found = device_for_token(store, device["token"])
    assert found is not None
    assert (found.hall, found.lane_id) == ("cruise", "C2")

    code, out = run("devices", "register", "--hall", "airport", "--lane", "A1")
    assert code == 0
    assert "token (shown once): bgd_" in out

    code, out = run("devices", "revoke", device["device_id"])
    assert code == 0, out
    assert device_for_token(store, device["token"]) is None

    code, out = run("devices", "list", "--json")
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert len(rows) == 2
    assert [r["revoked_at"] is not None for r in rows] == [True, False]
    assert all("token" not in r for r in rows)

    assert run("devices", "revoke", "dev-unknown")[0] == 1
    assert run("devices", "register", "--hall", "moon", "--lane", "A1")[0] == 2
    kinds = [e.kind for e in reversed(recent_entries(store))]
    assert kinds == ["device-registered", "device-registered", "device-revoked"]
    assert verify_chain(store) is None
