"""`import`: history into a source, through the same checks, store and dedup as the tracking API.

Files are read as Segment's archives are written: newline-delimited JSON, gzipped or not (told by the content, not
the name), or a directory of them (walked in name order). Each line is checked like a tracking-API event
(`ingest.history`); a bad line is counted with its file and line number and the import goes on. Events of
suppressed users are dropped as at ingest. What is stored keeps its messageId, and the source's imported keys are
kept for good (`Backfill.append_imported`): a second run of the same files stores nothing new, however much later.

Flow control. The import stores one batch, then waits while any destination fed by the source has more events
waiting than it delivers in `max_lag` seconds (its delivery rate measured as the import goes, over the last few
seconds: whatever limits it, `max_requests_per_second`, the destination's answers or the machine). The log stays
that short, so live events, which take their place in the same log behind the history already stored, are
delivered about `max_lag` after they arrive. One log means one order: a user's events are delivered in the order
they were stored, history first.
"""

from __future__ import annotations

import gzip
import os
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..ingest import IngestError
from ..ingest.events import iso
from ..ingest.history import history_event
from .store import AppendResult, Backfill, DestinationCounts
from .suppression import SuppressionList

IMPORT_BATCH = 1_000
"""Events stored per transaction (one batch is checked while the one before is written)."""

MIN_BACKLOG = 500
"""Events the import lets wait for delivery whatever the measured rate (before there is one, or when it is low)."""

RATE_WINDOW_S = 5.0
"""The delivery rate is measured over about this long."""

SUFFIXES = (".gz", ".json", ".jsonl", ".ndjson")
"""Files a directory contributes (named files are read whatever their name)."""

MAX_REPORTED = 20
"""Bad lines kept with their file and line number for the summary (all are counted)."""

STALL_S = 60.0
"""How long the import waits for the backlog to shrink before it stops, saying no one seems to be delivering."""

WAIT_STEP_S = 0.1

_GZIP_MAGIC = b"\x1f\x8b"


class ImportStalled(Exception):
    """The destinations' backlog did not shrink for `STALL_S`: nothing delivers from this store now."""


@dataclass
class ImportReport:
    """What an import did, counted by line."""

    files: int = 0
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    suppressed: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    """Bad lines by reason (`invalid_json`, `no_user_anon_id`, …)."""
    problems: list[str] = field(default_factory=list)
    """The first `MAX_REPORTED` bad lines, each as `file:line: reason`."""

    def refuse(self, where: str, code: str, message: str) -> None:
        self.refused[code] += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(f"{where}: {message}")


def archive_files(paths: list[Path]) -> list[Path]:
    """The files to read: each named file, and the archive files under each named directory (in name order).
    FileNotFoundError names a path that does not exist."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
        elif path.exists():
            out.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    return out


def archive_lines(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """A file's non-empty lines with their numbers (from 1) and the bytes of the file read so far, gunzipped when
    the file is gzip (told by its first bytes). A damaged gzip stream raises OSError, EOFError or zlib.error
    after the lines read up to the damage."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw) if gzipped else raw
        for number, line in enumerate(stream, 1):
            if line.strip():
                yield number, line, raw.tell()


def total_bytes(files: list[Path]) -> int:
    """The files' sizes on disk (the progress bar's total: what is read of each is counted compressed)."""
    return sum(os.path.getsize(p) for p in files)


class Importer:
    """Imports files into one source of `store`, `on_progress(bytes read, report)` after every batch."""

    def __init__(
        self,
        store: Backfill,
        source: str,
        destinations: dict[str, list[str]],
        *,
        max_lag: float | None,
        suppressions: SuppressionList | None = None,
        on_progress: Callable[[int, ImportReport], None] | None = None,
        on_wait: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`destinations`: the cloud-mode destinations fed by `source` (name → sources), whose backlog the import
        keeps to `max_lag` seconds of delivery (None: no waiting); `on_wait(pending)` is told when it starts
        waiting."""
        self.store = store
        self.source = source
        self.destinations = destinations
        self.max_lag = max_lag
        self._samples: dict[str, deque[tuple[float, int]]] = {}
        """Per destination: (when, events it had passed or settled) as the import saw them."""
        self.suppressions = suppressions
        self.on_progress = on_progress
        self.on_wait = on_wait
        self.clock = clock
        self.report = ImportReport()
        self._writing: Future[AppendResult] | None = None
        self._told = False
        self._read = 0

    def run(self, files: list[Path]) -> ImportReport:
        """Import every file; ImportStalled when the backlog stops shrinking (what was stored stays stored: run
        again to go on, the stored part counts as duplicates)."""
        imported_at = iso(datetime.now(UTC))
        batch: list[dict[str, Any]] = []
        done = 0  # bytes of the files read to their end
        for path in files:
            self.report.files += 1
            number = 0
            try:
                for number, line, read in archive_lines(path):
                    self.report.lines += 1
                    try:
                        batch.append(history_event(_json(line), "the event", imported_at))
                    except IngestError as err:
                        self.report.refuse(f"{path}:{number}", err.code, err.message)
                        continue
                    if len(batch) >= IMPORT_BATCH:
                        self._store(batch, done + read)
                        batch = []
            except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated file: the next one
                self.report.refuse(str(path), "unreadable", f"cannot read on after line {number}: {exc}")
            done += os.path.getsize(path)
        self._store(batch, done)
        self._settle()
        if self.on_progress is not None:
            self.on_progress(done, self.report)
        return self.report

    def _store(self, batch: list[dict[str, Any]], read: int) -> None:
        """Hand a batch to the store, then account for the one before (so reading and checking the next batch
        overlaps the store's write of this one); `read` is how far the files are read with this batch."""
        kept = self.suppressions.keep(batch) if self.suppressions is not None else batch
        self.report.suppressed += len(batch) - len(kept)
        previous, self._writing = self._writing, None
        if kept:
            self._writing = self.store.append_imported(self.source, kept, time.time())
        self._account(previous)
        self._read = read

    def _settle(self) -> None:
        """Account for the batch still being written."""
        writing, self._writing = self._writing, None
        self._account(writing)

    def _account(self, writing: Future[AppendResult] | None) -> None:
        """Wait for a batch's write, count it, tell the progress, and hold on while the backlog is long (stalled,
        the batch written meanwhile is counted too before ImportStalled goes up)."""
        if writing is None:
            return
        result = writing.result()
        self.report.stored += result.accepted
        self.report.duplicates += result.duplicates
        if self.on_progress is not None:
            self.on_progress(self._read, self.report)
        if result.accepted:
            try:
                self._wait()
            except ImportStalled:
                self._settle()
                raise

    def _wait(self) -> None:
        """Hold on while a destination has more events waiting than it delivers in `max_lag` seconds;
        ImportStalled when its backlog stops shrinking."""
        if self.max_lag is None or not self.destinations:
            return
        best: int | None = None
        since = self.clock()
        while True:
            counts = self.store.counts(self.destinations)
            now = self.clock()
            allowed = max(MIN_BACKLOG, int(self._rate(counts, now) * self.max_lag))
            pending = max(c.pending for c in counts)
            if pending <= allowed:
                return
            if best is None or pending < best:
                best, since = pending, now
            elif now - since > STALL_S:
                raise ImportStalled(
                    f"{pending:,} events wait for delivery and none was delivered for {STALL_S:.0f}s: start "
                    "`actions-1flow serve` or `worker` with this configuration and run the import again (what is "
                    "stored stays stored), or pass --no-wait to store everything first"
                )
            if not self._told and self.on_wait is not None:
                self.on_wait(pending)  # once: the first time the import waits
                self._told = True
            time.sleep(WAIT_STEP_S)

    def _rate(self, counts: list[DestinationCounts], now: float) -> float:
        """The slowest destination's delivery rate (events a second) over the last `RATE_WINDOW_S`; 0 until known."""
        rates = []
        for c in counts:
            samples = self._samples.setdefault(c.destination, deque())
            samples.append((now, c.received - c.pending))
            while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_S:
                samples.popleft()
            then, before = samples[0]
            if now - then >= WAIT_STEP_S:
                rates.append((samples[-1][1] - before) / (now - then))
        return max(0.0, min(rates)) if rates else 0.0


def _json(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise IngestError(
            400, "invalid_json", f"not valid JSON: {str(exc).replace('line 1 column', 'column')}"
        ) from None
