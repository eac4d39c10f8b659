"""``bordergate users ...`` and ``bordergate devices ...``: accounts and kiosk tokens.

They use the records store of ``BORDERGATE_DATABASE_URL``, as the backend does.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from backend.records.store import RecordsStore

PASSWORD_ENV = "BORDERGATE_NEW_PASSWORD"

users_app = typer.Typer(
    help="Staff accounts (officer, supervisor, manager, admin).", no_args_is_help=True
)
devices_app = typer.Typer(help="Kiosk devices and their tokens.", no_args_is_help=True)
feeds_app = typer.Typer(
    help="Feed clients (agencies' manifests, the visa authority, the operator's schedules).",
    no_args_is_help=True,
)


def open_store() -> RecordsStore:
    """The records store the backend would use (BORDERGATE_DATABASE_URL)."""
    from backend.records.store import RecordsStore
    from backend.settings import BackendSettings

    cfg = BackendSettings()
    return RecordsStore(cfg.database_url, sqlite_busy_timeout_ms=cfg.sqlite_busy_timeout_ms)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Lower-case login name")],
    role: Annotated[str, typer.Option(help="officer, supervisor, manager or admin")],
    display_name: Annotated[str, typer.Option(help="Name shown on the pages")],
    language: Annotated[str, typer.Option(help="Language of reason texts: en or zh")] = "en",
) -> None:
    """Add an account. The password comes from BORDERGATE_NEW_PASSWORD or a prompt."""
    from backend.auth.users import UserError, create_user
    from backend.records.store import RecordsUnavailableError

    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    store = open_store()
    try:
        user = create_user(
            store,
            username=username,
            role=role,
            display_name=display_name,
            password=password,
            language=language,
        )
    except UserError as exc:
        raise _fail(str(exc)) from None
    except RecordsUnavailableError as exc:
        raise _fail(str(exc), 1) from None
    finally:
        store.dispose()
    typer.echo(f"added {user.username} ({user.role}, {user.language})")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Every account, with role and whether it is disabled."""
    from backend.auth.users import list_users

    store = open_store()
    try:
        users = list_users(store)
    finally:
        store.dispose()
    for u in users:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "username": u.username,
                        "display_name": u.display_name,
                        "role": str(u.role),
                        "language": u.language,
                        "disabled": u.disabled,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            state = " (disabled)" if u.disabled else ""
            typer.echo(f"{u.username:<20} {u.role!s:<11} {u.language}  {u.display_name}{state}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Refuse the account: its open sessions end at once, and it cannot sign in again."""
    from backend.auth.users import set_disabled

    store = open_store()
    try:
        if not set_disabled(store, username, True, actor="cli"):
            raise _fail(f"no user {username!r}", 1)
    finally:
        store.dispose()
    typer.echo(f"disabled {username}")


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Let a disabled account sign in again."""
    from backend.auth.users import set_disabled

    store = open_store()
    try:
        if not set_disabled(store, username, False, actor="cli"):
            raise _fail(f"no user {username!r}", 1)
    finally:
        store.dispose()
    typer.echo(f"enabled {username}")


@users_app.command("set-role")
def users_set_role(
    username: str,
    role: Annotated[str, typer.Option(help="officer, supervisor, manager or admin")],
) -> None:
    """Change an account's role; its open sessions have the new role from their next request."""
    from backend.auth.users import UserError, set_role

    store = open_store()
    try:
        if not set_role(store, username, role, actor="cli"):
            raise _fail(f"no user {username!r}", 1)
    except UserError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.dispose()
    typer.echo(f"{username} is now {role}")


@devices_app.command("register")
def devices_register(
    hall: Annotated[str, typer.Option(help="airport or cruise")],
    lane: Annotated[str, typer.Option(help="The kiosk's lane id, e.g. A1")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Register a kiosk and print its token (shown this once: set it as BORDERGATE_DEVICE_TOKEN)."""
    from backend.auth.devices import DeviceError, register_device

    store = open_store()
    try:
        new = register_device(store, hall=hall, lane_id=lane, actor="cli")
    except DeviceError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "device_id": new.device.device_id,
                    "hall": new.device.hall,
                    "lane_id": new.device.lane_id,
                    "token": new.token,
                }
            )
        )
    else:
        typer.echo(f"device {new.device.device_id} for {hall}/{lane}")
        typer.echo(f"token (shown once): {new.token}")


@devices_app.command("revoke")
def devices_revoke(device_id: str) -> None:
    """Refuse a kiosk's token from now on."""
    from backend.auth.devices import revoke_device

    store = open_store()
    try:
        info = revoke_device(store, device_id, actor="cli")
    finally:
        store.dispose()
    if info is None:
        raise _fail(f"no device {device_id!r}", 1)
    typer.echo(f"revoked {device_id} ({info.hall}/{info.lane_id})")


@devices_app.command("list")
def devices_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Every registered kiosk; revoked ones are marked."""
    from backend.auth.devices import list_devices

    store = open_store()
    try:
        devices = list_devices(store)
    finally:
        store.dispose()
    for d in devices:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "device_id": d.device_id,
                        "hall": d.hall,
                        "lane_id": d.lane_id,
                        "registered_at": d.registered_at.isoformat(),
                        "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None,
                    }
                )
            )
        else:
            state = f"revoked {d.revoked_at:%Y-%m-%d %H:%M}" if d.revoked_at else "active"
            typer.echo(f"{d.device_id:<18} {d.hall:<8} {d.lane_id:<8} {state}")


@feeds_app.command("register")
def feeds_register(
    scope: Annotated[str, typer.Option(help="manifests, registry or schedules")],
    name: Annotated[str, typer.Option(help="Who feeds, e.g. the agency's name")],
    licence: Annotated[
        str | None, typer.Option(help="manifests only: the one agency licence it may file for")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Register a feed client and print its bearer token (shown this once)."""
    from backend.auth.feeds import FeedClientError, register_feed_client

    store = open_store()
    try:
        new = register_feed_client(store, scope=scope, name=name, agency_licence=licence)
    except FeedClientError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.dispose()
    client = new.info.client
    if as_json:
        typer.echo(json.dumps({**client.model_dump(mode="json"), "token": new.token}))
    else:
        typer.echo(f"feed client {client.client_id} ({client.scope}, {client.name})")
        typer.echo(f"token (shown once): {new.token}")


@feeds_app.command("revoke")
def feeds_revoke(client_id: str) -> None:
    """Refuse a feed client's token from now on."""
    from backend.auth.feeds import revoke_feed_client

    store = open_store()
    try:
        info = revoke_feed_client(store, client_id, actor="cli")
    finally:
        store.dispose()
    if info is None:
        raise _fail(f"no feed client {client_id!r}", 1)
    typer.echo(f"revoked {client_id} ({info.client.scope})")


@feeds_app.command("list")
def feeds_list() -> None:
    """Every feed client; revoked ones are marked."""
    from backend.auth.feeds import list_feed_clients

    store = open_store()
    try:
        clients = list_feed_clients(store)
    finally:
        store.dispose()
    for info in clients:
        c = info.client
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        bound = f" [{c.agency_licence}]" if c.agency_licence else ""
        typer.echo(f"{c.client_id:<18} {c.scope:<10} {state:<24} {c.name}{bound}")
