"""`migrate`: move an SQLite store into PostgreSQL (pending events, cursors, retries, dead letters, dedup keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..pipeline.store import STATUSES, StoreError
from .common import fail

if TYPE_CHECKING:
    from ..pipeline.migrate import MigrationReport

COMMANDS: list[click.Command] = []

DEFAULT_PARTITIONS = 16
"""As `pipeline.partitions`' default: the partitions of a PostgreSQL store created by the migration."""


@click.command("migrate")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="URL",
    help="The SQLite store: sqlite:///PATH (relative) or sqlite:////PATH.",
)
@click.option(
    "--to", "target", required=True, metavar="URL", help="The PostgreSQL store: postgresql://user:pass@host:port/db."
)
@click.option(
    "--partitions",
    default=DEFAULT_PARTITIONS,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Partitions per destination when the PostgreSQL store is created now (use pipeline.partitions' value; an "
    "existing store keeps its own).",
)
@click.option(
    "--into-non-empty",
    is_flag=True,
    help="Add to a PostgreSQL store that already holds events or cursors. Events it already has (same source and "
    "messageId) are skipped; destinations that already have cursors there keep them, and receive the copied events "
    "after those cursors (some perhaps a second time).",
)
def migrate_command(source: str, target: str, partitions: int, into_non_empty: bool) -> None:
    """Copy an SQLite store into PostgreSQL: every stored event (pending ones, and delivered ones still inside the
    dedup window, so their messageIds stay deduplicated), each destination's cursor, retries with their schedule,
    dead letters, the delivery log and device-mode reports. Afterwards the PostgreSQL workers deliver what was
    pending, and nothing that was delivered, exactly as the SQLite worker would have.

    Stop `serve` and `worker` on the SQLite store first (the migration refuses while one delivers from it, and events
    received meanwhile would not be copied), then point `storage:` at PostgreSQL and start them again. Everything is
    written in one transaction: a failed migration leaves the target as it was, and can simply be run again. The
    SQLite file is only read; it is left as it is: keep it until the new setup runs.
    """
    from ..pipeline.migrate import Migration, MigrationError  # psycopg is loaded only by the commands that use it

    try:
        migration = Migration(source, target, partitions=partitions, into_non_empty=into_non_empty)
    except StoreError as exc:  # MigrationError, or a source file that is damaged or of another version
        fail(str(exc))
    with migration:
        with Progress(
            TextColumn("migrating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        ) as progress:
            task = progress.add_task("migrate", total=migration.total)
            try:
                report = migration.run(lambda n: progress.advance(task, n))
            except MigrationError as exc:
                progress.stop()
                fail(str(exc))
    for line in summary(report):
        click.echo(line)


def summary(report: MigrationReport) -> list[str]:
    """What was copied, in a few lines."""
    lines = [
        f"migrated {report.source} → {report.target} ({report.partitions} partitions) in {report.seconds:.1f}s",
        f"  events: {report.events:,}"
        + (f" ({report.duplicates:,} already there, skipped)" if report.duplicates else ""),
    ]
    for dest in sorted(report.cursors):
        kept = " — kept its existing cursors in the target" if dest in report.kept_cursors else ""
        lines.append(
            f"  {dest}: cursor at event {report.cursors[dest]:,}, {report.pending.get(dest, 0):,} events pending{kept}"
        )
    statuses = ", ".join(f"{report.deliveries.get(s, 0):,} {s}" for s in STATUSES)
    lines.append(f"  delivery log: {statuses}")
    if report.skipped_deliveries:
        lines.append(f"  delivery log rows not copied (their event was not copied): {report.skipped_deliveries:,}")
    lines.append(f"  exchanges: {report.exchanges:,}, device-mode reports: {report.device_events:,}")
    if report.suppressions:
        lines.append(f"  suppressed ids: {report.suppressions:,}")
    if report.imported:
        lines.append(f"  import keys: {report.imported:,}")
    lines.append("next: point `storage:` at the PostgreSQL store and start `serve` and `worker` again")
    return lines


COMMANDS.append(migrate_command)
