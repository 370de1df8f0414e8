"""`import`: history (Segment archives, JSON-lines exports) into a source, paced to what delivery keeps up with."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..pipeline import StoreError, open_store
from ..pipeline.backfill import SUFFIXES, Importer, ImportReport, ImportStalled, archive_files, total_bytes
from ..pipeline.suppression import SuppressionList
from .common import fail, load_config_or_exit
from .operations import config_option, store_errors

COMMANDS: list[click.Command] = []

MAX_LAG_S = 2.0
"""How far behind live events may fall while history is imported (the backlog the import allows, in seconds of
the destinations' measured delivery)."""


@click.command("import")
@config_option
@click.option("--source", "source_name", required=True, metavar="NAME", help="The source the events are stored for.")
@click.argument("paths", nargs=-1, required=True, metavar="FILE…", type=click.Path(path_type=Path))
@click.option(
    "--max-lag",
    type=click.FloatRange(min=0.1),
    default=MAX_LAG_S,
    show_default=True,
    metavar="SECONDS",
    help="Wait while the destinations have more waiting than they deliver in SECONDS (live events' delay).",
)
@click.option("--no-wait", is_flag=True, help="Store everything at once (live events then queue behind it).")
def import_command(config_path: str, source_name: str, paths: tuple[Path, ...], max_lag: float, no_wait: bool) -> None:
    """Store history for a source: JSON lines, gzipped or not (Segment's S3/GCS archives as they are), or
    directories of them. Each line is checked like a tracking-API event and keeps its messageId, timestamp and
    receivedAt; a messageId this source already imported is skipped, however long ago (run it again safely).
    Bad lines are reported with file and line, and the import goes on. It keeps pace with delivery: it waits while
    the destinations have more waiting than they deliver in --max-lag seconds, so live events keep flowing."""
    config = load_config_or_exit(config_path, secrets_optional=True)  # writes the store: no 1Flow key needed
    known = [s.name for s in config.sources]
    if source_name not in known:
        fail(f"unknown source {source_name!r}; the sources are: {', '.join(known) or 'none'}")
    try:
        files = archive_files(list(paths))
    except FileNotFoundError as exc:
        fail(str(exc))
    if not files:
        fail(f"no archive files (names ending {', '.join(SUFFIXES)}) under {', '.join(map(str, paths))}")
    destinations = {
        d.name: config.sources_of(d) for d in config.cloud_destinations() if source_name in config.sources_of(d)
    }
    lag = None if no_wait else max_lag
    try:
        store = open_store(config.storage, partitions=config.pipeline.partitions)
    except StoreError as exc:
        fail(str(exc))
    err = Console(stderr=True, highlight=False)
    with store_errors(store):
        suppressions = SuppressionList(store)
        suppressions.load()
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        ) as progress:
            task = progress.add_task("import", total=total_bytes(files), counts="")

            def advance(read: int, report: ImportReport) -> None:
                refused = sum(report.refused.values())
                counts = f"{report.stored:,} stored · {report.duplicates:,} duplicate · {refused:,} refused"
                progress.update(task, completed=read, counts=counts)

            def waiting(pending: int) -> None:
                progress.console.print(f"keeping pace with delivery ({pending:,} events waiting)")

            importer = Importer(
                store,
                source_name,
                destinations,
                max_lag=lag,
                suppressions=suppressions,
                on_progress=advance,
                on_wait=waiting,
            )
            stalled = None
            try:
                report = importer.run(files)
            except ImportStalled as exc:
                stalled, report = str(exc), importer.report
        suppressions.flush()
    _summary(report, source_name)
    if stalled:
        fail(f"import stopped: {stalled}")


def _summary(report: ImportReport, source: str) -> None:
    refused = sum(report.refused.values())
    click.echo(
        f"{report.files:,} file{'s' if report.files != 1 else ''}, {report.lines:,} lines: {report.stored:,} stored "
        f"for source {source}, {report.duplicates:,} duplicate{'s' if report.duplicates != 1 else ''} (imported or "
        f"received before), {report.suppressed:,} of suppressed users, {refused:,} refused"
    )
    for code, n in report.refused.most_common():
        click.echo(f"  refused {n:,}: {code}")
    for problem in report.problems:
        click.echo(f"  {problem}")
    if refused > len(report.problems):
        click.echo(f"  … and {refused - len(report.problems):,} more")


COMMANDS.append(import_command)
