"""Copying an SQLite store into a PostgreSQL store (`actions-1flow migrate`), so that a single-box installation can
move to the shared store without losing or re-delivering anything.

What moves: every stored event (pending ones, and delivered ones still inside the dedup window, so their messageIds
keep being deduplicated), every destination's cursor, the delivery log (retries with their schedule, dead letters,
delivered and filtered rows), the exchanges the log points at, and the device-mode reports. Leases do not move: the
PostgreSQL workers take their own.

Positions. SQLite has one partition and a cursor is one event id; PostgreSQL has a cursor per partition at a
(transaction id, seq) pair. Everything is written in ONE transaction, so every copied event carries that one
transaction's id, and the events get new ids in SQLite's order (allocated from the events' sequence, sorted), so each
partition keeps SQLite's order. A destination's cursor in a partition is then the copied position of the last event
of that partition it had passed in SQLite, or (that transaction, 0) when it had passed none: the copied events it had
not passed lie after it, the ones it had passed before it. A failed migration leaves the target as it was.

The source must not change meanwhile: `serve` and `worker` on it are to be stopped first. The copy is read in one
SQLite read transaction (a consistent snapshot), and the source's delivery lock is held throughout, so a worker
starting on the source meanwhile stands by.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg

from ..secrets import redact_url, scrub_url_secrets
from .store import StoreError, partition_of
from .stores.layout import (
    DELIVERIES,
    DELIVERY_MINUTES,
    DELIVERY_TOTALS,
    DEVICE_EVENTS,
    EVENTS,
    EXCHANGES,
    IMPORTED,
    PASSED_TOTALS,
    RECEIVED_MINUTES,
    RECEIVED_TOTALS,
    SQLITE,
    SUPPRESSIONS,
)
from .stores.postgres import PostgresStore
from .stores.postgres_schema import SCHEMA, prepare
from .stores.sqlite import SQLiteStore

_DELIVERY_COLUMNS = [c for c in DELIVERIES.names(SQLITE) if c != "id"]
"""What a delivery row carries over (its id is the target's own; `part` is added: its event's partition)."""
_DEVICE_COLUMNS = [c for c in DEVICE_EVENTS.names(SQLITE) if c != "id"]

CHUNK = 5_000
"""Rows read from SQLite and written to PostgreSQL per statement."""


class MigrationError(StoreError):
    """The migration cannot run as asked (no source, a busy source, a non-empty target …); the message says why."""


@dataclass
class MigrationReport:
    """What a migration copied, for its summary."""

    source: str
    target: str
    partitions: int
    events: int = 0
    duplicates: int = 0
    """Events whose (source, messageId) the target already held (only with `into_non_empty`): not copied again."""
    pending: dict[str, int] = field(default_factory=dict)
    """Per destination: copied events after its cursor (still to deliver), besides its retries."""
    cursors: dict[str, int] = field(default_factory=dict)
    """Per destination: the SQLite cursor (an event id) translated into a cursor per partition."""
    kept_cursors: list[str] = field(default_factory=list)
    """Destinations that already had cursors in the target: those are kept, not overwritten."""
    deliveries: dict[str, int] = field(default_factory=dict)
    """Delivery-log rows copied, by status."""
    skipped_deliveries: int = 0
    """Rows of events that were not copied (already in the target, or missing from the source)."""
    exchanges: int = 0
    device_events: int = 0
    suppressions: int = 0
    imported: int = 0
    """Import keys (`import`'s dedup for good)."""
    """Suppressed ids copied (one the target already had keeps its own record)."""
    seconds: float = 0.0


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///PATH` URL (relative) or `sqlite:////PATH` (absolute)."""
    if not url.startswith("sqlite:///"):
        raise MigrationError(
            f"--from must be an SQLite store, sqlite:///PATH (relative) or sqlite:////PATH, not {redact_url(url)}"
        )
    return Path(url.removeprefix("sqlite:///"))


class Migration:
    """One copy of an SQLite store into a PostgreSQL store. Opening it checks both and takes a consistent snapshot
    of the source (`total` rows to copy); `run()` copies, in one PostgreSQL transaction; `close()` lets go of both.
    """

    def __init__(self, source_url: str, target_url: str, *, partitions: int, into_non_empty: bool = False) -> None:
        """Check the source (exists, is a store of this version, nobody delivers from it) and the target (a
        PostgreSQL store, created now with `partitions` if new, empty unless `into_non_empty`); MigrationError
        saying why not."""
        path = sqlite_path(source_url)
        if not target_url.startswith(("postgresql://", "postgres://")):
            raise MigrationError(
                f"--to must be a PostgreSQL store, postgresql://user:pass@host:port/db, not {redact_url(target_url)}"
            )
        if not path.is_file():
            raise MigrationError(f"no SQLite store at {path}: nothing to migrate")
        self.into_non_empty = into_non_empty
        self._store: SQLiteStore | None = None
        self._source: sqlite3.Connection | None = None
        self._target: psycopg.Connection | None = None
        try:
            self._open_source(path)
            self._open_target(target_url, partitions)
        except BaseException:
            self.close()
            raise

    def _open_source(self, path: Path) -> None:
        self._store = SQLiteStore(path)  # checks the file's layout and integrity, as every command does
        holder = self._store.acquire_delivery_lock()
        if holder is not None:
            raise MigrationError(
                f"a worker is delivering from {path} ({holder}): stop `serve` and `worker` on it first, then migrate"
            )
        self.source = str(path)
        self._source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        self._source.execute("BEGIN")  # one snapshot for counting and copying
        self.totals = {
            table: int(self._source.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("exchanges", "events", "deliveries", "device_events", "suppressions", "imported")
        }

    def _open_target(self, url: str, partitions: int) -> None:
        self.target = redact_url(url)
        self._target_url = url
        try:
            self._target = psycopg.connect(url, autocommit=True, connect_timeout=5)
            self.partitions = prepare(self._target, self.target, partitions, PostgresStore.kept_counts())
            self._target.execute(f"SET search_path TO {SCHEMA}")
            self._target.execute("SET synchronous_commit TO on")
            events, cursors = self._target.execute(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM cursors)"
            ).fetchone()  # type: ignore[misc]
        except psycopg.Error as exc:
            raise MigrationError(
                f"cannot use the target store {self.target}: {_reason(exc, self._target_url)}"
            ) from None
        if (events or cursors) and not self.into_non_empty:
            raise MigrationError(
                f"the target store {self.target} is not empty ({events:,} events, {cursors:,} cursors); "
                "migrate into an empty database, or pass --into-non-empty to add to it (see --help)"
            )

    @property
    def total(self) -> int:
        """Rows to copy (exchanges, events, deliveries, device-mode reports, suppressions, import keys)."""
        return sum(self.totals.values())

    def close(self) -> None:
        """Close both stores (a migration that did not commit leaves the target as it was)."""
        if self._source is not None:
            self._source.close()
            self._source = None
        if self._target is not None:
            self._target.close()
            self._target = None
        if self._store is not None:
            self._store.close()  # releases the delivery lock
            self._store = None

    def __enter__(self) -> Migration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- copying ---------------------------------------------------------------------------------------------

    def run(self, advance: Callable[[int], None] = lambda n: None) -> MigrationReport:
        """Copy everything in one transaction; `advance(rows)` after each chunk (for a progress bar)."""
        assert self._source is not None and self._target is not None, "the migration is closed"
        started = time.monotonic()
        report = MigrationReport(self.source, self.target, self.partitions)
        src, dst = self._source, self._target
        try:
            with dst.transaction():
                xid = str(dst.execute("SELECT pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
                exchange_ids = self._copy_exchanges(src, dst, report, advance)
                cursors = dict(src.execute("SELECT destination, seq FROM cursors").fetchall())
                passed = self._copy_events(src, dst, report, advance, cursors, exchange_ids)
                self._set_cursors(dst, report, xid, cursors, passed)
                self._copy_device_events(src, dst, report, advance)
                self._copy_suppressions(src, dst, report, advance)
                self._copy_imported(src, dst, report, advance)
                self._count(src, dst, [d for d in cursors if d not in report.kept_cursors])
        except psycopg.Error as exc:
            raise MigrationError(
                f"the migration into {self.target} failed, nothing was written: {_reason(exc, self._target_url)}"
            ) from None
        report.seconds = time.monotonic() - started
        return report

    @staticmethod
    def _allocate(dst: psycopg.Connection, table: str, column: str, n: int) -> list[int]:
        """`n` new ids of `table.column`'s identity sequence, ascending (so copied rows keep their order)."""
        rows = dst.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", (table, column, n)
        ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def _copy_exchanges(
        self, src: sqlite3.Connection, dst: psycopg.Connection, report: MigrationReport, advance: Callable[[int], None]
    ) -> dict[int, int]:
        """Copy the request/response pairs; returns old id → new id (deliveries point at them)."""
        mapping: dict[int, int] = {}
        for rows in _chunks(src, "SELECT id, at, request, response FROM exchanges ORDER BY id"):
            ids = self._allocate(dst, f"{SCHEMA}.exchanges", "id", len(rows))
            dst.execute(
                EXCHANGES.insert_arrays(["id", "at", "request", "response"]),
                (ids, [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]),
            )
            mapping.update(zip((r[0] for r in rows), ids, strict=True))
            report.exchanges += len(rows)
            advance(len(rows))
        return mapping

    def _copy_events(
        self,
        src: sqlite3.Connection,
        dst: psycopg.Connection,
        report: MigrationReport,
        advance: Callable[[int], None],
        cursors: dict[str, int],
        exchange_ids: dict[int, int],
    ) -> dict[str, dict[int, int]]:
        """Copy the events in SQLite's order, each chunk followed by its delivery-log rows. Returns, per
        destination and partition, the new id of the last copied event the destination had passed."""
        passed: dict[str, dict[int, int]] = {d: {} for d in cursors}
        report.pending = dict.fromkeys(cursors, 0)
        copied_deliveries = 0
        for rows in _chunks(src, "SELECT seq, source, message_id, received_at, body FROM events ORDER BY seq"):
            new_ids = self._allocate(dst, f"{SCHEMA}.events", "seq", len(rows))
            parts = [partition_of(orjson.loads(r[4]), self.partitions) for r in rows]
            inserted = {
                int(r[0])
                for r in dst.execute(
                    EVENTS.insert_arrays(
                        ["seq", "part", "source", "message_id", "received_at", "body"],
                        " ON CONFLICT (source, message_id) DO NOTHING RETURNING seq",
                    ),
                    (
                        new_ids,
                        parts,
                        [r[1] for r in rows],
                        [r[2] for r in rows],
                        [r[3] for r in rows],
                        [r[4] for r in rows],
                    ),
                ).fetchall()
            }
            moved: dict[int, tuple[int, int]] = {}
            for (old, *_), new, part in zip(rows, new_ids, parts, strict=True):
                if new not in inserted:
                    report.duplicates += 1
                    continue
                moved[old] = (new, part)
                for dest, cursor in cursors.items():
                    if old <= cursor:
                        passed[dest][part] = new
                    else:
                        report.pending[dest] += 1
            report.events += len(moved)
            advance(len(rows))
            copied_deliveries += self._copy_deliveries(
                src, dst, report, advance, rows[0][0], rows[-1][0], moved, exchange_ids
            )
        orphans = self.totals["deliveries"] - copied_deliveries - report.skipped_deliveries
        if orphans:  # rows whose event is gone from the source (never written so by this version): not copied
            report.skipped_deliveries += orphans
            advance(orphans)
        return passed

    def _copy_deliveries(
        self,
        src: sqlite3.Connection,
        dst: psycopg.Connection,
        report: MigrationReport,
        advance: Callable[[int], None],
        first: int,
        last: int,
        moved: dict[int, tuple[int, int]],
        exchange_ids: dict[int, int],
    ) -> int:
        """Copy the delivery-log rows of the events with ids in [first, last] (events re-numbered, `part` set)."""
        rows = src.execute(
            f"SELECT {', '.join(_DELIVERY_COLUMNS)} FROM deliveries WHERE event_seq BETWEEN ? AND ? ORDER BY id",
            (first, last),
        ).fetchall()
        keep = [r for r in rows if r[0] in moved]
        report.skipped_deliveries += len(rows) - len(keep)
        if keep:
            columns = dict(zip(_DELIVERY_COLUMNS, ([*c] for c in zip(*keep, strict=True)), strict=True))
            seqs = columns["event_seq"]
            columns["event_seq"] = [moved[s][0] for s in seqs]
            columns["part"] = [moved[s][1] for s in seqs]
            columns["exchange_id"] = [None if x is None else exchange_ids.get(x) for x in columns["exchange_id"]]
            dst.execute(DELIVERIES.insert_arrays(list(columns)), list(columns.values()))
            for status in columns["status"]:
                report.deliveries[status] = report.deliveries.get(status, 0) + 1
        advance(len(rows))
        return len(keep)

    def _set_cursors(
        self,
        dst: psycopg.Connection,
        report: MigrationReport,
        xid: str,
        cursors: dict[str, int],
        passed: dict[str, dict[int, int]],
    ) -> None:
        """Every destination's cursor in every partition: after the last copied event it had passed there, else
        before the first copied one. Cursors already in the target are kept (moving one could skip events that
        the target's own workers have not delivered yet)."""
        for dest, cursor in sorted(cursors.items()):
            parts = list(range(self.partitions))
            written = dst.execute(
                "INSERT INTO cursors (destination, part, xid, seq) SELECT %s, p, %s::xid8, s "
                "FROM unnest(%s::smallint[], %s::bigint[]) AS t(p, s) ON CONFLICT (destination, part) DO NOTHING",
                (dest, xid, parts, [passed[dest].get(p, 0) for p in parts]),
            ).rowcount
            if written < len(parts):
                report.kept_cursors.append(dest)
            report.cursors[dest] = cursor

    def _copy_device_events(
        self, src: sqlite3.Connection, dst: psycopg.Connection, report: MigrationReport, advance: Callable[[int], None]
    ) -> None:
        sql = f"SELECT {', '.join(_DEVICE_COLUMNS)} FROM device_events ORDER BY id"
        for rows in _chunks(src, sql):
            dst.execute(DEVICE_EVENTS.insert_arrays(_DEVICE_COLUMNS), [list(c) for c in zip(*rows, strict=True)])
            report.device_events += len(rows)
            advance(len(rows))

    @staticmethod
    def _count(src: sqlite3.Connection, dst: psycopg.Connection, new_cursors: list[str]) -> None:
        """Add what the copy brought to the target's kept counts: the copied events and their delivery rows (this
        transaction's), the events the new cursors pass, and the source's per-minute history as it kept it."""
        counts = PostgresStore.kept_counts()
        mine = "xid = pg_current_xact_id()"
        counts.add(
            dst, RECEIVED_TOTALS, dst.execute(f"SELECT source, part, count(*) FROM events WHERE {mine} GROUP BY 1, 2")
        )
        counts.add(
            dst,
            DELIVERY_TOTALS,
            dst.execute(
                "SELECT d.destination, d.status, coalesce(d.reason, ''), count(*) FROM deliveries d "
                f"JOIN events e ON e.seq = d.event_seq WHERE e.{mine} GROUP BY 1, 2, 3"
            ),
        )
        counts.add(
            dst,
            PASSED_TOTALS,
            dst.execute(
                "SELECT c.destination, e.source, count(*) FROM cursors c "
                f"JOIN events e ON {PostgresStore.AT_OR_BEFORE} WHERE c.destination = ANY(%s) GROUP BY 1, 2",
                (new_cursors,),
            ),
        )
        counts.add(dst, RECEIVED_MINUTES, src.execute("SELECT source, minute, n FROM received_minutes"))
        counts.add(dst, DELIVERY_MINUTES, src.execute("SELECT destination, minute, status, n FROM delivery_minutes"))

    @staticmethod
    def _copy_suppressions(
        src: sqlite3.Connection, dst: psycopg.Connection, report: MigrationReport, advance: Callable[[int], None]
    ) -> None:
        """The suppression list (a migration must not let erased users back in)."""
        rows = src.execute("SELECT kind, value, created_at, dropped FROM suppressions ORDER BY created_at").fetchall()
        if rows:
            report.suppressions = dst.execute(
                SUPPRESSIONS.insert_arrays(["kind", "value", "created_at", "dropped"], " ON CONFLICT DO NOTHING"),
                [list(c) for c in zip(*rows, strict=True)],
            ).rowcount
            advance(len(rows))

    @staticmethod
    def _copy_imported(
        src: sqlite3.Connection, dst: psycopg.Connection, report: MigrationReport, advance: Callable[[int], None]
    ) -> None:
        """The import keys (a file imported before the move stays imported after it)."""
        for rows in _chunks(src, "SELECT source, message_id FROM imported"):
            report.imported += dst.execute(
                IMPORTED.insert_arrays(["source", "message_id"], " ON CONFLICT DO NOTHING"),
                [list(c) for c in zip(*rows, strict=True)],
            ).rowcount
            advance(len(rows))


def _chunks(src: sqlite3.Connection, sql: str) -> Iterator[list[Any]]:
    cursor = src.execute(sql)
    while rows := cursor.fetchmany(CHUNK):
        yield rows


def _reason(exc: BaseException, url: str) -> str:
    """The first line of a driver's error, without the secrets of `url`."""
    return scrub_url_secrets((str(exc).strip().splitlines() or [type(exc).__name__])[0], url)


__all__ = ["Migration", "MigrationError", "MigrationReport", "sqlite_path"]
