"""`status`, `events` and `replay`: what the delivery pipeline holds, what happened to recent events, and
re-delivering dead letters. They read (and, for `replay`, update) the store of a running or stopped server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .. import times
from ..config import Config
from ..pipeline import DeviceEvent, LogEntry, Store, StoreError, open_store, queries
from ..pipeline.store import REPLAYABLE, FilterReason
from ..service import records
from ..terminal import escape_controls, json_line, print_table
from .common import fail, load_config_or_exit

COMMANDS: list[click.Command] = []

config_option = click.option(
    "--config",
    "config_path",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="The YAML configuration.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="JSON (one object per line) instead of a table.")


def _open(config: Config) -> Store:
    if config.storage_kind == "sqlite" and not config.storage_path().exists():
        fail(
            f"no event store at {config.storage_path()}: nothing has been received with this configuration yet "
            "(a relative storage path is read from the configuration file's directory)"
        )
    try:
        return open_store(config.storage, partitions=config.pipeline.partitions)
    except StoreError as exc:
        fail(str(exc))


@contextmanager
def store_errors(store: Store) -> Iterator[None]:
    """A store that fails mid-command (found damaged, I/O error, database gone) ends it with the reason, never a
    traceback; the store is closed either way."""
    try:
        yield
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()


def _destination(config: Config, name: str | None, *, cloud_only: bool = True) -> str | None:
    known = [d.name for d in (config.cloud_destinations() if cloud_only else config.destinations)]
    if name is not None and name not in known:
        kind = "cloud-mode destinations" if cloud_only else "destinations"
        fail(f"unknown destination {name!r}; the {kind} are: {', '.join(known) or 'none'}")
    return name


def format_age(seconds: float | None) -> str:
    """`45s`, `12m 5s`, `3h 20m`, `2d 4h` (empty for None)."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if seconds >= size:
            rest = (seconds % size) // sub_size
            return f"{seconds // size}{unit}" + (f" {rest}{sub}" if rest else "")
    return f"{seconds}s"


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment).astimezone().isoformat(timespec="seconds")


def parse_moment(text: str, now: float) -> float:
    """`times.parse_moment` for the command line: click.BadParameter on a bad value."""
    try:
        return times.parse_moment(text, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


# -- status ----------------------------------------------------------------------------------------------------


@click.command("status")
@config_option
@json_option
def status_command(config_path: str, as_json: bool) -> None:
    """Counts per cloud-mode destination: received, filtered, delivered, retrying, dead-lettered, pending, and the
    age of the oldest pending event. Counts cover what the store still holds (see docs/operations.md)."""
    config = load_config_or_exit(config_path, secrets_optional=True)  # reads the store: no 1Flow key needed
    store = _open(config)
    now = time.time()
    with store_errors(store):
        destinations = {d.name: config.sources_of(d) for d in config.cloud_destinations()}
        rows = queries.status_rows(store, destinations, now)  # the console's figures too
        suppressions = store.suppressions()
    dropped = sum(s.dropped for s in suppressions)
    if as_json:
        for row in rows:
            click.echo(json_line(row))
        if suppressions:
            click.echo(json_line({"suppressed_ids": len(suppressions), "dropped_at_ingest": dropped}))
        return
    if suppressions:
        click.echo(
            f"{len(suppressions):,} suppressed id{'s' if len(suppressions) != 1 else ''}: {dropped:,} event"
            f"{'s' if dropped != 1 else ''} dropped at ingest (see `actions-1flow suppressions`)"
        )
    if not rows:
        click.echo(f"{config_path}: no cloud-mode destinations (device-mode delivery happens in the browser)")
        return
    table = Table(title=f"delivery pipeline — {config.storage_description()}", title_justify="left")
    for name in (
        "destination",
        "received",
        "filtered",
        "delivered",
        "retrying",
        "dead-lettered",
        "pending",
        "oldest pending",
        "next retry",
    ):
        table.add_column(name, justify="left" if name == "destination" else "right")
    for row in rows:
        table.add_row(
            Text(row["destination"]),
            f"{row['received']:,}",
            _filtered(row),
            f"{row['delivered']:,}",
            f"{row['retrying']:,}",
            f"{row['dead']:,}",
            f"{row['pending']:,}",
            format_age(row["oldest_pending_age_s"]),
            "" if row["next_retry_in_s"] is None else "in " + format_age(row["next_retry_in_s"]),
        )
    print_table(table)


def _filtered(row: dict[str, Any]) -> str:
    """`12`, then why, one reason a line: `no match 8`, `consent 3`, `refused 1`."""
    reasons = [f"{FilterReason(r).label} {n:,}" for r, n in queries.filtered_by(row).items() if n]
    return "\n".join([f"{row['filtered']:,}", *reasons])


# -- events ----------------------------------------------------------------------------------------------------


def _device_table(reports: list[DeviceEvent], now: float) -> Table:
    """What device-mode plugins reported from pages (SDK load failures, mapping errors …)."""
    table = Table(title="device mode: reports from pages", title_justify="left", show_lines=True)
    for name in ("when", "destination · subscription", "messageId", "kind", "message"):
        table.add_column(name, overflow="fold")
    for d in reports:
        subscription = (d.subscription or {}).get("name") or ""
        table.add_row(  # every field is data from a page: control characters escaped, never read as markup
            Text(f"{_when(d.received_at)}\n{format_age(now - d.received_at)} ago"),
            _cell(d.destination, subscription),
            _cell(d.message_id or "", d.event_type or ""),
            Text(escape_controls(d.kind), style="bold red"),
            _cell(d.message, *([f"page: {d.origin}"] if d.origin else [])),
        )
    return table


def _cell(*lines: str) -> Text:
    """A table cell of data lines: each line's control characters (ESC, CR, newlines …) escaped, so event data
    can neither drive the terminal nor fake extra lines; the lines are then joined by real line breaks."""
    return Text("\n".join(escape_controls(line) for line in lines))


_STATUS_STYLE = {"delivered": "green", "filtered": "dim", "retrying": "yellow", "dead": "bold red"}


@click.command("events")
@config_option
@click.option("--failed", is_flag=True, help="Only deliveries that are retrying or dead-lettered.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many, newest first.")
@click.option("--destination", default=None, help="Only this destination.")
@json_option
def events_command(config_path: str, failed: bool, limit: int, destination: str | None, as_json: bool) -> None:
    """Recent delivery outcomes, newest first: status, attempts, error and hint, and the last request and response
    (the Project API Key masked); then what device-mode plugins reported from pages (all of those are failures)."""
    config = load_config_or_exit(config_path, secrets_optional=True)  # reads the store: no 1Flow key needed
    destination = _destination(config, destination, cloud_only=False)
    store = _open(config)
    with store_errors(store):
        entries = queries.recent_log(store, limit, failed_only=failed, destination=destination)
        reports = [d for d in store.device_events(limit) if destination is None or d.destination == destination]
    if as_json:
        for row in entries:
            click.echo(json_line(records.log_entry(row.entry, row.source)))
        for d in reports:
            click.echo(json_line({"channel": "device", **records.device_event(d)}))
        return
    now = time.time()
    if reports:
        print_table(_device_table(reports, now))
    if not entries:
        click.echo(
            "no "
            + ("failed " if failed else "")
            + "deliveries recorded"
            + (f" for {destination}" if destination else "")
        )
        return
    table = Table(show_lines=True)
    for name in ("when", "destination · subscription", "event · messageId", "status", "details"):
        table.add_column(name, overflow="fold")
    for row in entries:
        e = row.entry
        status = f"[{_STATUS_STYLE[e.status]}]{e.status}[/]\n{e.attempts} attempt{'s' if e.attempts != 1 else ''}"
        if e.replays:
            status += f", {e.replays} replay{'s' if e.replays != 1 else ''}"
        if e.status == "retrying" and e.next_attempt_at is not None:
            status += f"\nnext in {format_age(e.next_attempt_at - now)}"
        details = []
        if e.error:
            details.append(e.error)
        if e.hint:
            details.append(f"hint: {e.hint}")
        if e.request:
            details.append(f"→ {e.request}")
        if e.response:
            details.append(f"← {e.response}")
        table.add_row(  # everything but the status is data: control characters escaped, never read as markup
            Text(f"{_when(e.updated_at)}\n{format_age(now - e.updated_at)} ago"),
            _cell(e.destination, e.subscription or _unsubscribed(e)),
            _cell(_event(e.event_type, e.event_name), e.message_id, f"from {row.source}"),
            status,
            _cell(*details),
        )
    print_table(table)


def _event(kind: str | None, name: str | None) -> str:
    """`track "Order Completed"`, `identify`: what tells one event from another."""
    return " ".join(filter(None, (kind, json.dumps(name, ensure_ascii=False) if name else None))) or "(no type)"


def _unsubscribed(e: LogEntry) -> str:
    """What the subscription cell says of an event's single row recorded before any subscription ran."""
    if e.reason is FilterReason.NO_MATCH:
        return "(no subscription matched)"
    return "(kept from every subscription)"  # consent or suppression: the error says which


# -- replay ----------------------------------------------------------------------------------------------------


@click.command("replay")
@config_option
@click.option(
    "--since", required=True, metavar="T", help="Events received from T on: 2h, 30m, 1d ago, or an ISO-8601 time."
)
@click.option("--until", default=None, metavar="T", help="…and before T (default: now).")
@click.option("--destination", default=None, help="Only this destination's deliveries.")
@click.option(
    "--status",
    type=click.Choice([*REPLAYABLE, "all"]),
    default="dead",
    show_default=True,
    help="Which deliveries to send again: dead-lettered, delivered, filtered, or all three.",
)
@click.option("--again", is_flag=True, help="Also those already replayed with the configuration as it is now.")
@click.option("--dry-run", is_flag=True, help="Only count what would be re-sent.")
def replay_command(
    config_path: str,
    since: str,
    until: str | None,
    destination: str | None,
    status: str,
    again: bool,
    dry_run: bool,
) -> None:
    """Send deliveries of events received in [--since, --until) again, through the triggers and mappings of the
    configuration as it is now (fix the key, trigger or mapping, restart the server or worker, then replay): the
    dead-lettered ones, or those delivered or filtered (kept for `pipeline.retention`). Each is logged as a replay
    of what it was. A second identical replay re-sends nothing: what a replay re-queued is no longer dead, and a
    delivered or filtered delivery already replayed with this configuration is left alone (--again re-sends it)."""
    config = load_config_or_exit(config_path, secrets_optional=True)  # reads the store: no 1Flow key needed
    destination = _destination(config, destination)
    now = time.time()
    start = parse_moment(since, now)
    end = now if until is None else parse_moment(until, now)
    if end <= start:
        fail(f"--until ({_when(end)}) must be after --since ({_when(start)})")
    statuses = queries.replay_statuses(status)
    store = _open(config)
    kinds = " or ".join("dead-lettered" if st == "dead" else st for st in statuses)
    window = f"events received {_when(start)} – {_when(end)}"
    with store_errors(store):
        names = config.fingerprints(destination)
        what = queries.ReplayRange(start, end, now, statuses, again=again)
        plan = queries.replay_plan(store, names, what)
        total = plan.count
        detail = ", ".join(f"{n}: {k:,}" for n, k in plan.by_destination.items() if k)
        already = sum(plan.already.values())
        skipped = (
            f"; {already:,} already replayed with this configuration left alone (--again re-sends them)"
            if already
            else ""
        )
        if dry_run:
            click.echo(
                f"would re-queue {_deliveries(total, kinds)} ({window})" + (f" — {detail}" if detail else "") + skipped
            )
            return
        if not total:
            click.echo(f"nothing to replay: no {kinds} deliveries of {window}{skipped}")
            return
        with Progress(
            TextColumn("replaying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        ) as progress:
            task = progress.add_task("replay", total=total)
            done = queries.replay(store, names, what, lambda n: progress.update(task, completed=min(n, total)))
    click.echo(
        f"re-queued {_deliveries(done, kinds)} ({window}) — {detail}{skipped}; the worker sends them now with the "
        "configuration it runs with, each logged as a replay of what it was"
    )


def _deliveries(count: int, kinds: str) -> str:
    return f"{count:,} {kinds} deliver{'y' if count == 1 else 'ies'}"


COMMANDS.extend([status_command, events_command, replay_command])
