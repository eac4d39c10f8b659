"""Feed clients: registered with a scope (and for an agency, its licence), revoked, listed; the
CLI prints a token once. And the account commands that change access at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.audit.chain import verify_chain
from backend.auth.devices import token_hash
from backend.auth.feeds import (
    FeedClientError,
    FeedScope,
    feed_client_for_token,
    list_feed_clients,
    register_feed_client,
    revoke_feed_client,
)
from backend.auth.roles import Role
from backend.auth.tables import FeedClientRow
from backend.auth.users import get_user
from backend.records.store import RecordsStore
from bordergate.cli import app
from tests.auth_helpers import add_user


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordsStore]:
    url = f"sqlite:///{tmp_path / 'feeds.sqlite3'}"
    monkeypatch.setenv("BORDERGATE_DATABASE_URL", url)
    s = RecordsStore(url)
    s.ensure_schema()
    yield s
    s.dispose()


def test_register_resolve_and_revoke(store: RecordsStore) -> None:
    new = register_feed_client(store, scope="registry", name="Visa authority", actor="ops")
    assert new.token.startswith("bgf_")
    client = feed_client_for_token(store, new.token)
    assert client is not None
    assert client.scope is FeedScope.REGISTRY
    with store.session() as session:
        row = session.get(FeedClientRow, client.client_id)
        assert row is not None
        assert row.token_hash == token_hash(new.token)  # only the hash is kept
        assert new.token not in (row.token_hash, row.name)
    assert feed_client_for_token(store, new.token + "x") is None
    revoked = revoke_feed_client(store, client.client_id, actor="ops")
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert feed_client_for_token(store, new.token) is None
    assert revoke_feed_client(store, "feed-nope", actor="ops") is None
    assert [i.client.client_id for i in list_feed_clients(store)] == [client.client_id]
    assert verify_chain(store) is None


@pytest.mark.parametrize(
    ("scope", "name", "licence"),
    [
        ("visas", "x", None),  # no such scope
        ("registry", "", None),
        ("registry", "<script>", None),
        ("registry", "Authority", "L-TJ-CJ00001"),  # only manifests clients carry a licence
        ("manifests", "Agency", "not a licence"),
    ],
)
def test_bad_client_data_changes_nothing(
    store: RecordsStore, scope: str, name: str, licence: str | None
) -> None:
    with pytest.raises(FeedClientError):
        register_feed_client(store, scope=scope, name=name, agency_licence=licence)
    assert list_feed_clients(store) == []


def test_cli_registers_lists_and_revokes(store: RecordsStore) -> None:
    runner = CliRunner()
    done = runner.invoke(
        app,
        ["feeds", "register", "--scope", "manifests", "--name", "Valid Tours",
         "--licence", "L-TJ-CJ00001", "--json"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["agency_licence"] == "L-TJ-CJ00001"
    client = feed_client_for_token(store, out["token"])
    assert client is not None
    assert client.name == "Valid Tours"
    listed = runner.invoke(app, ["feeds", "list"])
    assert out["client_id"] in listed.output
    assert out["token"] not in listed.output
    assert runner.invoke(app, ["feeds", "revoke", out["client_id"]]).exit_code == 0
    assert feed_client_for_token(store, out["token"]) is None
    bad = runner.invoke(app, ["feeds", "register", "--scope", "nope", "--name", "x"])
    assert bad.exit_code == 2


def test_cli_changes_role_and_enables(store: RecordsStore) -> None:
    add_user(store, "olga", Role.OFFICER)
    runner = CliRunner()
    assert runner.invoke(app, ["users", "set-role", "olga", "--role", "supervisor"]).exit_code == 0
    user = get_user(store, "olga")
    assert user is not None
    assert user.role is Role.SUPERVISOR
    assert runner.invoke(app, ["users", "set-role", "olga", "--role", "boss"]).exit_code == 2
    assert runner.invoke(app, ["users", "set-role", "nobody", "--role", "admin"]).exit_code == 1
    assert runner.invoke(app, ["users", "disable", "olga"]).exit_code == 0
    assert runner.invoke(app, ["users", "enable", "olga"]).exit_code == 0
    user = get_user(store, "olga")
    assert user is not None
    assert not user.disabled
