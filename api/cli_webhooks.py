"""`callytics webhooks ...`: add, list and remove webhooks, and read a delivery log.

The same store as REST's /v1/webhooks (core/webhooks/store.py), on the database of the
settings; a running server's dispatcher sends to a webhook added here within WEBHOOK_POLL_S.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from core.errors import CallyticsError

EXIT_BAD_INPUT = 2

app = typer.Typer(
    no_args_is_help=True,
    help="Webhooks: add (the secret is shown once), list, remove, and each one's deliveries.",
)


def _store() -> Any:
    from bootstrap.settings import Settings
    from core.persistence.database import Database
    from core.webhooks.store import WebhookStore

    # Only the database: no container, so no engine is imported for a table's rows.
    database = Database(Settings().database_url)  # the environment and `.env`, read afresh
    database.upgrade()
    return WebhookStore(database)


def _fail(message: str) -> None:
    Console(stderr=True).print(f"[red]error:[/red] {message}")
    raise typer.Exit(EXIT_BAD_INPUT)


def _dump(items: list[Any]) -> None:
    rows = [i.model_dump(mode="json") for i in items]
    sys.stdout.write(json.dumps(rows, indent=2) + "\n")


@app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="The http(s) URL events are POSTed to.")],
    event: Annotated[
        list[str],
        typer.Option(
            "--event",
            "-e",
            help="An event to send (repeat): job.succeeded, job.failed, call.deleted, "
            "category.matched, live.alert.",
        ),
    ],
    secret: Annotated[
        str | None, typer.Option(help="The signing secret; generated when left out.")
    ] = None,
    description: Annotated[str, typer.Option(help="What the webhook is for.")] = "",
) -> None:
    """Add a webhook. Its id goes to stdout; its secret to stderr, this once."""
    try:
        hook = _store().create(url, event, secret, description, "cli")
    except CallyticsError as exc:
        _fail(str(exc))
    sys.stdout.write(f"{hook.id}\n")
    Console(stderr=True).print(
        f"webhook {hook.id} added for {', '.join(hook.events)}. Its signing secret (not "
        f"shown again): {hook.secret}"
    )


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the webhooks: id, URL, events, active (never their secrets)."""
    from rich.table import Table

    hooks = _store().list()
    if as_json:
        _dump(hooks)
        return
    table = Table("id", "url", "events", "active", "created")
    for h in hooks:
        table.add_row(
            h.id,
            h.url,
            ", ".join(h.events),
            "yes" if h.active else "no",
            f"{h.created_at:%Y-%m-%d %H:%M}",
        )
    Console().print(table)


@app.command("remove")
def remove(webhook_id: Annotated[str, typer.Argument(help="The webhook's id.")]) -> None:
    """Remove a webhook and its delivery log (what was pending is not sent)."""
    try:
        _store().delete(webhook_id)
    except CallyticsError as exc:
        _fail(str(exc))
    Console(stderr=True).print(f"webhook {webhook_id} removed")


@app.command("deliveries")
def deliveries(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id.")],
    status: Annotated[
        str | None, typer.Option(help="pending, delivered or failed; all when left out.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A webhook's delivery log, newest first: event, status, attempts, last answer."""
    from rich.table import Table

    try:
        rows = _store().deliveries(webhook_id, status=status, limit=limit)
    except CallyticsError as exc:
        _fail(str(exc))
    if as_json:
        _dump(rows)
        return
    table = Table("event id", "type", "status", "attempts", "last", "next try", "created")
    for d in rows:
        table.add_row(
            d.event_id,
            d.event_type,
            d.status,
            str(d.attempts),
            str(d.last_status or d.last_error or ""),
            f"{d.next_attempt_at:%H:%M:%S}" if d.next_attempt_at else "",
            f"{d.created_at:%Y-%m-%d %H:%M:%S}",
        )
    Console().print(table)
