"""The embedded store: one SQLite file in WAL mode, every write fsync'd, writes group-committed.

One writer thread owns the write connection. Callers queue operations; the thread runs everything queued so far in
one transaction (each operation in its own savepoint, so one failing operation does not undo the others) and
commits once, so a single fsync acknowledges many requests. Readers use their own connections (WAL lets them run
alongside the writer).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import orjson

from .checkpoint import Checkpointer
from .store import (
    AppendResult,
    DeliveryRecord,
    DestinationCounts,
    DeviceEvent,
    DueDelivery,
    LogEntry,
    StoredEvent,
)

T = TypeVar("T")

MAX_GROUP_OPS = 512
"""Operations folded into one transaction at most; bounds a commit's latency under heavy load."""

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for another process (a separate `worker`) holding the write lock."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_message ON events(source, message_id);
CREATE INDEX IF NOT EXISTS events_by_time ON events(received_at);
CREATE TABLE IF NOT EXISTS cursors (
    destination TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    subscription TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('delivered', 'filtered', 'retrying', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at REAL,
    next_attempt_at REAL,
    updated_at REAL NOT NULL,
    error TEXT,
    hint TEXT,
    request TEXT,
    response TEXT,
    replays INTEGER NOT NULL DEFAULT 0,
    UNIQUE (destination, event_seq, subscription)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(destination, status, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_recent ON deliveries(updated_at);
CREATE TABLE IF NOT EXISTS device_events (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    subscription TEXT,
    event_type TEXT,
    message_id TEXT,
    sdk_url TEXT,
    origin TEXT
);
CREATE INDEX IF NOT EXISTS device_events_recent ON device_events(received_at);
"""

_UPSERT_DELIVERY = """
INSERT INTO deliveries (destination, event_seq, subscription, status, attempts, first_attempt_at,
                        next_attempt_at, updated_at, error, hint, request, response)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (destination, event_seq, subscription) DO UPDATE SET
    status = excluded.status,
    attempts = excluded.attempts,
    first_attempt_at = coalesce(deliveries.first_attempt_at, excluded.first_attempt_at),
    next_attempt_at = excluded.next_attempt_at,
    updated_at = excluded.updated_at,
    error = excluded.error,
    hint = excluded.hint,
    request = coalesce(excluded.request, deliveries.request),
    response = coalesce(excluded.response, deliveries.response)
"""


class _Op:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self.fn = fn
        self.future: Future[Any] = Future()


_STOP = object()


class SQLiteStore:
    """`Store` on one SQLite file. Safe to share between threads; one instance per process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        writer = self._connect()
        writer.executescript(_SCHEMA)
        self._writer = threading.Thread(target=self._write_loop, args=(writer,), name="sqlite-writer", daemon=True)
        self._closed = False
        self._writer.start()
        self._checkpointer = Checkpointer(self.path)

    # -- connections -----------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # -- group commit ----------------------------------------------------------------------------------------

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Run `fn(write_connection)` inside the next group transaction; the future resolves after the commit."""
        if self._closed:
            raise RuntimeError("the store is closed")
        op = _Op(fn)
        self._queue.put(op)
        return op.future

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                break
            ops = [first]
            stop = False
            while len(ops) < MAX_GROUP_OPS:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                ops.append(nxt)
            self._commit_group(conn, ops)
            if stop:
                break
        conn.close()

    @staticmethod
    def _commit_group(conn: sqlite3.Connection, ops: list[_Op]) -> None:
        outcomes: list[tuple[_Op, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    result = op.fn(conn)
                except Exception as exc:  # one bad operation must not undo the group
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((op, None, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((op, result, None))
            conn.execute("COMMIT")
        except Exception as exc:  # the commit itself failed (disk full, I/O error): nothing is durable
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for op in ops:
                op.future.set_exception(exc)
            return
        for op, result, error in outcomes:
            if error is None:
                op.future.set_result(result)
            else:
                op.future.set_exception(error)

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join()
        self._checkpointer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()

    # -- ingest ----------------------------------------------------------------------------------------------

    def append(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        rows = [(source, str(e["messageId"]), received_at, orjson.dumps(e)) for e in events]

        def insert(conn: sqlite3.Connection) -> AppendResult:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO events (source, message_id, received_at, body) VALUES (?, ?, ?, ?)", rows
            )
            accepted = conn.total_changes - before
            return AppendResult(accepted=accepted, duplicates=len(rows) - accepted)

        return self.submit(insert)

    # -- delivery --------------------------------------------------------------------------------------------

    def read_after(self, seq: int, sources: list[str], limit: int) -> list[StoredEvent]:
        marks = ",".join("?" * len(sources))
        # `+source` keeps SQLite on the primary key (already in log order) instead of the dedup index plus a sort.
        rows = self._reader().execute(
            f"SELECT seq, source, received_at, body FROM events WHERE seq > ? AND +source IN ({marks}) "
            "ORDER BY seq LIMIT ?",
            (seq, *sources, limit),
        )
        return [StoredEvent(s, src, at, orjson.loads(body)) for s, src, at, body in rows]

    def last_seq(self) -> int:
        """The newest position in the log (0 when empty)."""
        row = self._reader().execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
        return int(row[0])

    def ensure_cursor(self, destination: str) -> Future[int]:
        """Start a destination's cursor at the end of the log if it has none: a destination added later receives
        events from then on, not the history."""

        def ensure(conn: sqlite3.Connection) -> int:
            conn.execute(
                "INSERT OR IGNORE INTO cursors (destination, seq) SELECT ?, coalesce(max(seq), 0) FROM events",
                (destination,),
            )
            return int(conn.execute("SELECT seq FROM cursors WHERE destination = ?", (destination,)).fetchone()[0])

        return self.submit(ensure)

    def cursor(self, destination: str) -> int:
        row = self._reader().execute("SELECT seq FROM cursors WHERE destination = ?", (destination,)).fetchone()
        return int(row[0]) if row else 0

    def record(self, destination: str, records: list[DeliveryRecord], cursor: int | None = None) -> Future[None]:
        now = time.time()
        rows = [
            (
                destination, r.event_seq, r.subscription, r.status, r.attempts, r.first_attempt_at,
                r.next_attempt_at, now, r.error, r.hint, r.request, r.response,
            )
            for r in records
        ]

        def write(conn: sqlite3.Connection) -> None:
            if rows:
                conn.executemany(_UPSERT_DELIVERY, rows)
            if cursor is not None:
                conn.execute(
                    "INSERT INTO cursors (destination, seq) VALUES (?, ?) "
                    "ON CONFLICT (destination) DO UPDATE SET seq = max(seq, excluded.seq)",
                    (destination, cursor),
                )

        return self.submit(write)

    def due(self, destination: str, now: float, limit: int) -> list[DueDelivery]:
        rows = self._reader().execute(
            "SELECT e.seq, e.source, e.received_at, e.body, d.subscription, d.attempts, d.first_attempt_at "
            "FROM deliveries d JOIN events e ON e.seq = d.event_seq "
            "WHERE d.destination = ? AND d.status = 'retrying' AND d.next_attempt_at <= ? "
            "ORDER BY d.next_attempt_at LIMIT ?",
            (destination, now, limit),
        )
        return [
            DueDelivery(StoredEvent(seq, src, at, orjson.loads(body)), sub, attempts, first)
            for seq, src, at, body, sub, attempts, first in rows
        ]

    def next_due_at(self, destination: str) -> float | None:
        """When this destination's earliest retry is due (None when nothing is retrying)."""
        row = self._reader().execute(
            "SELECT min(next_attempt_at) FROM deliveries WHERE destination = ? AND status = 'retrying'",
            (destination,),
        ).fetchone()
        return row[0]

    # -- operations ------------------------------------------------------------------------------------------

    def requeue_dead(
        self, since: float, until: float, destination: str | None, now: float, dry_run: bool = False
    ) -> Future[int]:
        where = (
            "status = 'dead' AND event_seq IN (SELECT seq FROM events WHERE received_at >= ? AND received_at < ?)"
        )
        args: tuple[Any, ...] = (since, until)
        if destination is not None:
            where += " AND destination = ?"
            args += (destination,)

        def requeue(conn: sqlite3.Connection) -> int:
            if dry_run:
                return int(conn.execute(f"SELECT count(*) FROM deliveries WHERE {where}", args).fetchone()[0])
            cur = conn.execute(
                "UPDATE deliveries SET status = 'retrying', attempts = 0, first_attempt_at = NULL, "
                f"next_attempt_at = ?, updated_at = ?, replays = replays + 1 WHERE {where}",
                (now, now, *args),
            )
            return cur.rowcount

        return self.submit(requeue)

    def counts(self, destinations: dict[str, list[str]]) -> list[DestinationCounts]:
        db = self._reader()
        per_source = dict(db.execute("SELECT source, count(*) FROM events GROUP BY source").fetchall())
        by_status: dict[str, dict[str, int]] = {}
        for dest, status, n in db.execute("SELECT destination, status, count(*) FROM deliveries GROUP BY 1, 2"):
            by_status.setdefault(dest, {})[status] = n
        out = []
        for dest, sources in destinations.items():
            counts = DestinationCounts(dest, by_status=by_status.get(dest, {}))
            counts.received = sum(per_source.get(s, 0) for s in sources)
            if sources:
                marks = ",".join("?" * len(sources))
                cursor = self.cursor(dest)
                n, oldest = db.execute(
                    f"SELECT count(*), min(received_at) FROM events WHERE seq > ? AND +source IN ({marks})",
                    (cursor, *sources),
                ).fetchone()
                retry_n, retry_oldest = db.execute(
                    "SELECT count(*), min(e.received_at) FROM deliveries d JOIN events e ON e.seq = d.event_seq "
                    "WHERE d.destination = ? AND d.status = 'retrying'",
                    (dest,),
                ).fetchone()
                counts.pending = n + retry_n
                candidates = [t for t in (oldest, retry_oldest) if t is not None]
                counts.oldest_pending_at = min(candidates) if candidates else None
            out.append(counts)
        return out

    def log(self, limit: int, failed_only: bool = False, destination: str | None = None) -> list[LogEntry]:
        where, args = [], []
        if failed_only:
            where.append("d.status IN ('retrying', 'dead')")
        if destination is not None:
            where.append("d.destination = ?")
            args.append(destination)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._reader().execute(
            "SELECT d.destination, d.subscription, e.message_id, e.body, d.status, d.attempts, d.updated_at, "
            "d.next_attempt_at, d.error, d.hint, d.request, d.response "
            f"FROM deliveries d JOIN events e ON e.seq = d.event_seq {clause} ORDER BY d.updated_at DESC, d.id DESC LIMIT ?",
            (*args, limit),
        )
        out = []
        for dest, sub, mid, body, status, attempts, updated, next_at, error, hint, req, resp in rows:
            event_type = orjson.loads(body).get("type")
            out.append(LogEntry(dest, sub, mid, event_type, status, attempts, updated, next_at, error, hint, req, resp))
        return out

    def prune(self, before: float, destinations: list[str]) -> Future[int]:
        """Forget events received before `before` that all these destinations have passed, and their log rows.

        Events still retrying or dead-lettered are kept (they may be replayed), so their messageIds stay deduplicated.
        """

        def prune(conn: sqlite3.Connection) -> int:
            marks = ",".join("?" * len(destinations))
            low = conn.execute(
                f"SELECT coalesce(min(seq), 0) FROM cursors WHERE destination IN ({marks})", destinations
            ).fetchone()[0] if destinations else conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
            conn.execute(
                "DELETE FROM deliveries WHERE status IN ('delivered', 'filtered') AND event_seq IN "
                "(SELECT seq FROM events WHERE received_at < ? AND seq <= ?)",
                (before, low),
            )
            cur = conn.execute(
                "DELETE FROM events WHERE received_at < ? AND seq <= ? AND NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)",
                (before, low),
            )
            return cur.rowcount

        return self.submit(prune)

    # -- device mode -----------------------------------------------------------------------------------------

    def record_device_event(self, event: DeviceEvent) -> Future[None]:
        row = (
            event.received_at, event.source, event.destination, event.kind, event.message,
            None if event.subscription is None else orjson.dumps(event.subscription).decode(),
            event.event_type, event.message_id, event.sdk_url, event.origin,
        )

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO device_events (received_at, source, destination, kind, message, subscription, "
                "event_type, message_id, sdk_url, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        return self.submit(insert)

    def device_events(self, limit: int) -> list[DeviceEvent]:
        rows = self._reader().execute(
            "SELECT received_at, source, destination, kind, message, subscription, event_type, message_id, sdk_url, "
            "origin FROM device_events ORDER BY received_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [
            DeviceEvent(at, src, dest, kind, msg, None if sub is None else orjson.loads(sub), etype, mid, sdk, origin)
            for at, src, dest, kind, msg, sub, etype, mid, sdk, origin in rows
        ]
