"""`suppress`, `unsuppress` and `suppressions`: erase a user's stored events and keep their new ones out (see
docs/privacy.md). They work on the store of a running or stopped server; running servers and workers pick a
change up within `pipeline.suppression.REFRESH_S` seconds."""

from __future__ import annotations

import time

import click
from rich.table import Table
from rich.text import Text

from ..pipeline import PurgeResult, Store
from ..pipeline.store import SubjectKind
from ..pipeline.suppression import REFRESH_S, SETTLE_S
from ..terminal import json_line, print_table
from .common import fail, load_config_or_exit
from .operations import _open, _when, config_option, json_option, store_errors

COMMANDS: list[click.Command] = []

user_id_option = click.option("--user-id", "user_ids", multiple=True, metavar="ID", help="A userId (repeatable).")
anonymous_id_option = click.option(
    "--anonymous-id", "anonymous_ids", multiple=True, metavar="ID", help="An anonymousId (repeatable)."
)


def _subjects(user_ids: tuple[str, ...], anonymous_ids: tuple[str, ...]) -> list[tuple[SubjectKind, str]]:
    subjects: list[tuple[SubjectKind, str]] = [("userId", u) for u in user_ids]
    subjects += [("anonymousId", a) for a in anonymous_ids]
    if not subjects:
        fail("name the user: --user-id ID and/or --anonymous-id ID")
    if any(not value.strip() for _, value in subjects):
        fail("an id must not be empty")
    return subjects


def _purge(store: Store, kind: SubjectKind, value: str) -> PurgeResult:
    """Every chunk of one user's stored events, with their delivery-log rows; the totals."""
    events = deliveries = dead = 0
    after: int | None = 0
    while after is not None:
        step = store.purge(kind, value, after).result()
        events, deliveries, dead, after = (
            events + step.events,
            deliveries + step.deliveries,
            dead + step.dead_letters,
            step.next,
        )
    return PurgeResult(events, deliveries, dead, None)


def _purged(p: PurgeResult) -> str:
    return (
        f"{p.events:,} stored event{'s' if p.events != 1 else ''}, {p.deliveries:,} delivery-log "
        f"row{'s' if p.deliveries != 1 else ''} ({p.dead_letters:,} dead letter{'s' if p.dead_letters != 1 else ''})"
    )


@click.command("suppress")
@config_option
@user_id_option
@anonymous_id_option
@click.option("--list", "list_only", is_flag=True, help="Only list the suppressions (as `suppressions` does).")
@click.option(
    "--settle",
    default=SETTLE_S,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Wait this long for running servers to read the new list, then purge once more (0: no second pass).",
)
def suppress_command(
    config_path: str, user_ids: tuple[str, ...], anonymous_ids: tuple[str, ...], list_only: bool, settle: float
) -> None:
    """Erase users and keep them out: purge their stored events, delivery-log rows and dead letters, and from
    then on drop their new events at ingest (answered 200, counted in `status`, never stored or delivered).
    The suppression is durable until `unsuppress`."""
    if list_only:
        _list(config_path, as_json=False)
        return
    config = load_config_or_exit(config_path, secrets_optional=True)  # the store only: no 1Flow key needed
    subjects = _subjects(user_ids, anonymous_ids)
    store = _open(config)
    with store_errors(store):
        now = time.time()
        for kind, value in subjects:
            new = store.suppress(kind, value, now).result()
            purged = _purge(store, kind, value)
            state = "suppressed" if new else "already suppressed"
            click.echo(f"{kind} {value!r}: {state}; purged {_purged(purged)}")
        if settle > 0:
            click.echo(f"waiting {settle:g}s for running servers to read the new list (they do every {REFRESH_S:g}s) …")
            time.sleep(settle)
            for kind, value in subjects:
                purged = _purge(store, kind, value)
                if purged.events or purged.deliveries:
                    click.echo(f"{kind} {value!r}: second pass purged {_purged(purged)} accepted meanwhile")
        click.echo(
            f"done: new events of {'these ids' if len(subjects) > 1 else 'this id'} "
            "are dropped at ingest until `unsuppress`"
        )


@click.command("unsuppress")
@config_option
@user_id_option
@anonymous_id_option
def unsuppress_command(config_path: str, user_ids: tuple[str, ...], anonymous_ids: tuple[str, ...]) -> None:
    """Lift suppressions: new events of these ids are stored and delivered again (what was purged stays gone)."""
    config = load_config_or_exit(config_path, secrets_optional=True)
    subjects = _subjects(user_ids, anonymous_ids)
    store = _open(config)
    with store_errors(store):
        for kind, value in subjects:
            lifted = store.unsuppress(kind, value).result()
            click.echo(f"{kind} {value!r}: " + ("no longer suppressed" if lifted else "was not suppressed"))
    click.echo(f"running servers accept their events again within {REFRESH_S:g}s")


@click.command("suppressions")
@config_option
@json_option
def suppressions_command(config_path: str, as_json: bool) -> None:
    """The suppressed ids, since when, and how many of their events were dropped at ingest."""
    _list(config_path, as_json)


def _list(config_path: str, as_json: bool) -> None:
    config = load_config_or_exit(config_path, secrets_optional=True)
    store = _open(config)
    with store_errors(store):
        rows = store.suppressions()
    if as_json:
        for s in rows:
            click.echo(json_line({"kind": s.kind, "id": s.value, "since": s.created_at, "dropped": s.dropped}))
        return
    if not rows:
        click.echo("no suppressions")
        return
    table = Table(title=f"suppressed users — {config.storage_description()}", title_justify="left")
    for name in ("kind", "id", "since", "dropped at ingest"):
        table.add_column(name, justify="right" if name == "dropped at ingest" else "left")
    for s in rows:
        table.add_row(s.kind, Text(s.value), _when(s.created_at), f"{s.dropped:,}")
    print_table(table)


COMMANDS.extend([suppress_command, unsuppress_command, suppressions_command])
