"""``bordergate audit verify``: check the hash chain; exit 1 naming the first broken entry."""

from __future__ import annotations

import json
from typing import Annotated

import typer

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Recompute every entry's hash and link. Exit 0 when intact, 1 at the first broken entry."""
    from backend.audit.chain import verify_chain_counted
    from backend.auth.cli import open_store
    from backend.records.store import RecordsUnavailableError

    store = open_store()
    try:
        broken, checked = verify_chain_counted(store)
    except RecordsUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "intact": broken is None,
                    "entries": checked,
                    "first_broken_seq": None if broken is None else broken.seq,
                    "reason": None if broken is None else broken.reason,
                }
            )
        )
    elif broken is None:
        typer.echo(f"audit chain intact: {checked} entries")
    else:
        typer.echo(f"audit chain BROKEN at entry {broken.seq}: {broken.reason}")
    if broken is not None:
        raise typer.Exit(1)
