"""The embedded store: one SQLite file in WAL mode, every write fsync'd, writes group-committed.

One writer thread owns the write connection. Callers queue operations; the thread runs everything queued so far in
one transaction (each operation in its own savepoint, so one failing operation does not undo the others) and
commits once, so a single fsync acknowledges many requests. Readers use their own connections (WAL lets them run
alongside the writer).
"""

from __future__ import annotations

import collections
import fcntl
import functools
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ..store import (
    ACTIVITY_RETENTION_S,
    FILTER_REASONS,
    PURGE_CHUNK,
    AppendResult,
    DeliveryRecord,
    DestinationCounts,
    DeviceEvent,
    DueDelivery,
    Lease,
    LeaseState,
    LogEntry,
    LogRow,
    PurgeResult,
    StoredEvent,
    StoreError,
    SubjectKind,
    Suppression,
    activity_buckets,
)
from . import log_sql
from .group_commit import STOP, take_group
from .sqlite_checkpoint import Checkpointer
from .sqlite_integrity import QUICK_CHECK_BUDGET_S, check_path, damaged, is_corruption, quick_check

T = TypeVar("T")

MAX_GROUP_OPS = 512
"""Operations folded into one transaction at most; bounds a commit's latency under heavy load."""

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for another process (a separate `worker`) holding the write lock."""

WRITER_CACHE_KIB = 32 * 1024
"""Page cache of the writing connection: keeps the messageId index's hot pages in memory as the log grows."""

WAL_AUTOCHECKPOINT_PAGES = 4_000
"""A commit checkpoints the WAL itself only past ~16 MB of log (SQLite's default is 4 MB); normally the background
`Checkpointer` keeps the log far shorter, so commits never pay for a checkpoint."""

JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
"""The WAL file is truncated back to this size after a checkpoint, so one burst does not keep disk forever."""

PRUNE_CHUNK = 5_000
"""Events examined per prune step; each step is one short transaction between ingest's commits."""


SCHEMA_VERSION = 2
"""Recorded in the file (`PRAGMA user_version`); a file of another layout is refused rather than misread."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after pruning the newest: cursors stay valid
    source TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_message ON events(source, message_id);
CREATE TABLE IF NOT EXISTS cursors (
    destination TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY,  -- one HTTP request and its answer, shared by every delivery it carried
    at REAL NOT NULL,
    request TEXT,
    response TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    event_seq INTEGER NOT NULL,
    destination TEXT NOT NULL,
    subscription TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('delivered', 'filtered', 'retrying', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at REAL,
    next_attempt_at REAL,
    updated_at REAL NOT NULL,
    error TEXT,
    hint TEXT,
    exchange_id INTEGER,
    replays INTEGER NOT NULL DEFAULT 0,
    UNIQUE (event_seq, destination, subscription)
);
CREATE INDEX IF NOT EXISTS deliveries_retrying ON deliveries(destination, next_attempt_at) WHERE status = 'retrying';
CREATE INDEX IF NOT EXISTS deliveries_failed ON deliveries(updated_at) WHERE status IN ('retrying', 'dead');
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
CREATE TABLE IF NOT EXISTS suppressions (  -- added within schema 2: files without it get it when opened
    kind TEXT NOT NULL CHECK (kind IN ('userId', 'anonymousId')),
    value TEXT NOT NULL,
    created_at REAL NOT NULL,
    dropped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, value)
);
"""


def _reason(row: str) -> str:
    """The `filtered_by` reason of a delivery row (`NEW`/`OLD`), '' for none — FILTER_REASONS' prefix rule."""
    cases = " ".join(
        f"WHEN {row}.status = 'filtered' AND substr({row}.error, 1, {len(r)}) = '{r}' THEN '{r}'"
        for r in FILTER_REASONS
    )
    return f"CASE {cases} ELSE '' END"


def _minute(at: str) -> str:
    return f"(CAST({at} AS INTEGER) / 60) * 60"


_COUNTS_TABLES = """
CREATE TABLE received_totals (source TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE passed_totals (  -- events of `source` at or before `destination`'s cursor
    destination TEXT NOT NULL, source TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (destination, source)
) WITHOUT ROWID;
CREATE TABLE delivery_totals (
    destination TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (destination, status, reason)
) WITHOUT ROWID;
CREATE TABLE delivery_minutes (  -- deliveries entering `status` in the minute starting at `minute`
    destination TEXT NOT NULL, minute INTEGER NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (destination, minute, status)
) WITHOUT ROWID;
CREATE TABLE received_minutes (
    source TEXT NOT NULL, minute INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (source, minute)
) WITHOUT ROWID;
"""
"""Counts kept as rows are written, in the same transaction (added within schema 2: a file without them gets them,
filled from its rows, when opened). `append`, `record` and `requeue_dead` add to them themselves, a few grouped
upserts per call: row triggers on those paths halved ingest and delivery (a trigger runs per row). Deletions (prune,
purge) and cursor moves, rarer or once per call, are counted by the triggers below."""


def _add(table: str, keys: str, values: str, n: str = "1") -> str:
    return (
        f"INSERT INTO {table} ({keys}, n) VALUES ({values}, {n}) ON CONFLICT ({keys}) DO UPDATE SET n = n + excluded.n;"
    )


_COUNTS_TRIGGERS = f"""
DROP TRIGGER IF EXISTS events_counted_in;
DROP TRIGGER IF EXISTS deliveries_counted_in;
DROP TRIGGER IF EXISTS deliveries_counted_change;
CREATE TRIGGER IF NOT EXISTS events_counted_out AFTER DELETE ON events BEGIN
    {_add("received_totals", "source", "OLD.source", "-1")}
    UPDATE passed_totals SET n = n - 1
        WHERE source = OLD.source AND destination IN (SELECT destination FROM cursors WHERE seq >= OLD.seq);
END;
CREATE TRIGGER IF NOT EXISTS cursors_counted_in AFTER INSERT ON cursors BEGIN
    INSERT INTO passed_totals (destination, source, n)  -- all events, less those after the cursor (few, usually)
        SELECT NEW.destination, r.source, r.n - (SELECT count(*) FROM events e WHERE e.seq > NEW.seq AND e.source = r.source)
        FROM received_totals r WHERE true
        ON CONFLICT (destination, source) DO UPDATE SET n = excluded.n;
END;
CREATE TRIGGER IF NOT EXISTS cursors_counted_move AFTER UPDATE OF seq ON cursors WHEN NEW.seq <> OLD.seq BEGIN
    INSERT INTO passed_totals (destination, source, n)
        SELECT NEW.destination, source, CASE WHEN NEW.seq > OLD.seq THEN count(*) ELSE -count(*) END FROM events
        WHERE seq > min(OLD.seq, NEW.seq) AND seq <= max(OLD.seq, NEW.seq) GROUP BY source
        ON CONFLICT (destination, source) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER IF NOT EXISTS cursors_counted_out AFTER DELETE ON cursors BEGIN
    DELETE FROM passed_totals WHERE destination = OLD.destination;
END;
CREATE TRIGGER IF NOT EXISTS deliveries_counted_out AFTER DELETE ON deliveries BEGIN
    {_add("delivery_totals", "destination, status, reason", f"OLD.destination, OLD.status, {_reason('OLD')}", "-1")}
END;
"""  # noqa: E501 -- the trigger SQL is kept byte for byte

_ADD_RECEIVED = _add("received_totals", "source", "?", "?")
_ADD_RECEIVED_MINUTE = _add("received_minutes", "source, minute", "?, ?", "?")
_ADD_PASSED_NEW = (  # new events at or before a cursor: only a cursor put past the log's end (by hand) has any
    "INSERT INTO passed_totals (destination, source, n) SELECT c.destination, ?, "
    "(SELECT count(*) FROM events e WHERE e.seq > ? AND e.seq <= c.seq AND e.source = ?) "
    "FROM cursors c WHERE c.seq > ? "
    "ON CONFLICT (destination, source) DO UPDATE SET n = n + excluded.n"
)
_ADD_TOTAL = _add("delivery_totals", "destination, status, reason", "?, ?, ?", "?")
_ADD_MINUTE = _add("delivery_minutes", "destination, minute, status", "?, ?, ?", "?")


def filter_reason(status: str, error: str | None) -> str:
    """The `filtered_by` reason of a delivery ('' for none): FILTER_REASONS' prefix rule, as `_reason` in SQL."""
    if status == "filtered" and error:
        for reason in FILTER_REASONS:
            if error.startswith(reason):
                return reason
    return ""


def _count_outcomes(conn: sqlite3.Connection, destination: str, records: list[DeliveryRecord], now: float) -> None:
    """Before `records` are upserted: move the kept totals from each row's old (status, reason) to its new one,
    and count each status a row enters in the minute of `now`."""
    seqs = sorted({r.event_seq for r in records})
    old: dict[tuple[int, str], tuple[str, str | None]] = {}
    for i in range(0, len(seqs), 10_000):
        chunk = seqs[i : i + 10_000]
        for seq, sub, status, error in conn.execute(
            "SELECT event_seq, subscription, status, error FROM deliveries "
            f"WHERE event_seq IN ({','.join('?' * len(chunk))}) AND destination = ?",
            (*chunk, destination),
        ):
            old[(seq, sub)] = (status, error)
    totals: collections.Counter[tuple[str, str]] = collections.Counter()
    entered: collections.Counter[str] = collections.Counter()
    for r in records:
        prev = old.get((r.event_seq, r.subscription))
        if prev is not None:
            totals[(prev[0], filter_reason(*prev))] -= 1
        totals[(r.status, filter_reason(r.status, r.error))] += 1
        if prev is None or prev[0] != r.status:
            entered[r.status] += 1
    conn.executemany(_ADD_TOTAL, [(destination, st, reason, n) for (st, reason), n in totals.items() if n])
    minute = int(now) // 60 * 60
    conn.executemany(_ADD_MINUTE, [(destination, minute, st, n) for st, n in entered.items()])


_COUNTS_BACKFILL = f"""
INSERT INTO received_totals (source, n) SELECT source, count(*) FROM events GROUP BY source;
INSERT INTO received_minutes (source, minute, n)
    SELECT source, {_minute("received_at")}, count(*) FROM events GROUP BY 1, 2;
INSERT INTO passed_totals (destination, source, n)
    SELECT c.destination, e.source, count(*) FROM cursors c JOIN events e ON e.seq <= c.seq GROUP BY 1, 2;
INSERT INTO delivery_totals (destination, status, reason, n)
    SELECT destination, status, {_reason("deliveries")}, count(*) FROM deliveries GROUP BY 1, 2, 3;
INSERT INTO delivery_minutes (destination, minute, status, n)  -- the past as far as it is known: current outcomes
    SELECT destination, {_minute("updated_at")}, status, count(*) FROM deliveries GROUP BY 1, 2, 3;
"""
"""Counts for a file written before they were kept (one pass over its rows, once)."""

_FAILED = "d.status IN ('retrying', 'dead')"
"""Written exactly as in the `deliveries_failed` index, so SQLite can use that (small) index."""

_DEAD_JOIN = "deliveries d INDEXED BY deliveries_failed JOIN events e ON e.seq = d.event_seq"
"""Dead-lettered deliveries with their events: driven by the small failures index, events looked up by position."""

_UPSERT_DELIVERY = """
INSERT INTO deliveries (event_seq, destination, subscription, status, attempts, first_attempt_at,
                        next_attempt_at, updated_at, error, hint, exchange_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (event_seq, destination, subscription) DO UPDATE SET
    status = excluded.status,
    attempts = excluded.attempts,
    first_attempt_at = coalesce(deliveries.first_attempt_at, excluded.first_attempt_at),
    next_attempt_at = excluded.next_attempt_at,
    updated_at = excluded.updated_at,
    error = excluded.error,
    hint = excluded.hint,
    exchange_id = coalesce(excluded.exchange_id, deliveries.exchange_id)
"""


class _Op:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self.fn = fn
        self.future: Future[Any] = Future()


log = logging.getLogger(__name__)


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """A read method that marks the store damaged when SQLite says the file is corrupt (then re-raises)."""

    @functools.wraps(method)
    def guarded(self: SQLiteStore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            self._note_error(exc)
            raise

    return guarded


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
"""Events hold what users did and who they are: the store's directory and file are created for the owner only.
SQLite gives the `-wal` and `-shm` files the main file's permissions."""


def create_private(path: Path) -> None:
    """Create the store's directory (0700) and an empty store file (0600) when they do not exist yet. Existing
    ones keep their permissions: they may be shared on purpose (a group running `serve` and `worker`)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=PRIVATE_DIR)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))


class SQLiteStore:
    """`Store` on one SQLite file. Safe to share between threads; one instance per process (several processes may
    open the same file: SQLite serialises their writes). One partition: one process delivers at a time."""

    partitions = 1
    unavailable: str | None = None
    """A local file is never unreachable: what goes wrong with it is `damaged` or an error of the call."""

    def __init__(self, path: str | Path, integrity_budget: float = QUICK_CHECK_BUDGET_S) -> None:
        """Open (or create) the store at `path`; StoreError, saying what to do, when the path is no usable store
        or the file fails `quick_check` (given at most `integrity_budget` seconds; see `integrity`)."""
        self.path = Path(path)
        self.description = str(self.path)
        self.damaged: str | None = None
        """Why the file is known to be corrupt, once an operation found it so (writes are refused from then on)."""
        check_path(self.path)
        try:
            create_private(self.path)
        except OSError as exc:
            raise StoreError(f"cannot create the event store {self.path}: {exc.strerror or exc}") from None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        writer = None
        try:
            writer = self._connect()
            quick_check(writer, self.path, integrity_budget)
            writer.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            writer.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            writer.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}")
            self._create_schema(writer)
        except (sqlite3.Error, StoreError) as exc:
            if writer is not None:
                writer.close()
            if isinstance(exc, StoreError):
                raise
            if is_corruption(exc):
                raise damaged(self.path, exc) from None
            raise StoreError(f"cannot open the event store {self.path}: {exc}") from None
        self._writer = threading.Thread(target=self._write_loop, args=(writer,), name="sqlite-writer", daemon=True)
        self._closed = False
        self._lock_file: Any = None
        self._writer.start()
        self._checkpointer = Checkpointer(self.path)

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'events'").fetchone()[0]
        if has_tables and version != SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{self.path} was written by another version of actions-1flow (store schema {version}, this version "
                f"reads {SCHEMA_VERSION}); deliver what it holds with that version, then move the file away"
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("BEGIN IMMEDIATE")  # another process may be adding the counts at the same moment
        try:
            if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'delivery_totals'").fetchone()[0] == 0:
                for script in (_COUNTS_TABLES, _COUNTS_BACKFILL):
                    for statement in _statements(script):
                        conn.execute(statement)
            for statement in _statements(_COUNTS_TRIGGERS):
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- connections -----------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # WAL + FULL: every commit is fsync'd before its futures resolve
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    # -- group commit ----------------------------------------------------------------------------------------

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Run `fn(write_connection)` inside the next group transaction; the future resolves after the commit."""
        if self._closed:
            raise RuntimeError("the store is closed")
        op = _Op(fn)
        if self.damaged is not None:  # nothing more is written to, or acknowledged from, a corrupt file
            op.future.set_exception(StoreError(self.damaged))
            return op.future
        self._queue.put(op)
        return op.future

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        while True:
            ops, stop = take_group(self._queue, MAX_GROUP_OPS)
            if ops:
                self._commit_group(conn, ops)
            if stop:
                break
        conn.close()

    def _note_error(self, exc: BaseException) -> None:
        """Remember (and log, once) that the file is corrupt when `exc` says so."""
        if self.damaged is None and is_corruption(exc):
            self.damaged = str(damaged(self.path, exc))
            log.error("%s — refusing to store events from now on", self.damaged)

    def _commit_group(self, conn: sqlite3.Connection, ops: list[_Op]) -> None:
        outcomes: list[tuple[_Op, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    result = op.fn(conn)
                except Exception as exc:  # one bad operation must not undo the group
                    self._note_error(exc)
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((op, None, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((op, result, None))
            conn.execute("COMMIT")
        except Exception as exc:  # the commit itself failed (disk full, I/O error): nothing is durable
            self._note_error(exc)
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

    def heartbeat(self, worker: str, destinations: list[str], ttl: float) -> LeaseState:
        """Every destination's one partition while this process holds the delivery lock, else nothing (and who
        holds it). Two processes delivering the same destination would send every event twice."""
        holder = self.acquire_delivery_lock()
        if holder is not None:
            return LeaseState([], others=holder, lapses=False)
        return LeaseState([Lease(d, 0, 0) for d in destinations], lapses=False)

    def release(self, worker: str, leases: list[Lease]) -> None:
        if leases:
            self.release_delivery_lock()

    def acquire_delivery_lock(self) -> str | None:
        """Become the one process delivering from this store: None when acquired (or already held), else who
        holds it. An advisory lock on `<db>.delivery.lock`; the kernel releases it when its process ends, however
        it ends, so a restarted worker takes over at once (the lease of a store with one partition)."""
        if self._lock_file is not None:
            return None
        lock_path = self.path.with_name(self.path.name + ".delivery.lock")
        handle = open(os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, PRIVATE_FILE), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            return holder
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock_file = handle
        return None

    def release_delivery_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the lock
            self._lock_file = None

    def close(self) -> None:
        """Commit what is queued, then stop the writer and close every connection."""
        if self._closed:
            return
        self.release_delivery_lock()
        self._closed = True
        self._queue.put(STOP)
        self._writer.join()
        self._checkpointer.close()
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()

    # -- ingest ----------------------------------------------------------------------------------------------

    def append(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        rows = [(source, str(e["messageId"]), received_at, orjson.dumps(e)) for e in events]

        def insert(conn: sqlite3.Connection) -> AppendResult:
            top = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
            accepted = conn.executemany(
                "INSERT OR IGNORE INTO events (source, message_id, received_at, body) VALUES (?, ?, ?, ?)", rows
            ).rowcount
            if accepted:
                conn.execute(_ADD_RECEIVED, (source, accepted))
                conn.execute(_ADD_RECEIVED_MINUTE, (source, int(received_at) // 60 * 60, accepted))
                conn.execute(_ADD_PASSED_NEW, (source, top, source, top))
            return AppendResult(accepted=accepted, duplicates=len(rows) - accepted)

        return self.submit(insert)

    # -- delivery --------------------------------------------------------------------------------------------

    @_guarded
    def read_after(self, seq: int, sources: list[str], limit: int, partition: int = 0) -> list[StoredEvent]:
        marks = ",".join("?" * len(sources))
        # `+source` keeps SQLite on the primary key (already in log order) instead of the dedup index plus a sort.
        rows = self._reader().execute(
            f"SELECT seq, source, received_at, body FROM events WHERE seq > ? AND +source IN ({marks}) "
            "ORDER BY seq LIMIT ?",
            (seq, *sources, limit),
        )
        return [StoredEvent(s, src, at, orjson.loads(body), s) for s, src, at, body in rows]

    @_guarded
    def last_seq(self) -> int:
        """The newest position in the log (0 when empty)."""
        row = self._reader().execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
        return int(row[0])

    def ensure_cursor(self, destination: str, partition: int = 0) -> Future[int]:
        def ensure(conn: sqlite3.Connection) -> int:
            conn.execute(
                "INSERT OR IGNORE INTO cursors (destination, seq) SELECT ?, coalesce(max(seq), 0) FROM events",
                (destination,),
            )
            return int(conn.execute("SELECT seq FROM cursors WHERE destination = ?", (destination,)).fetchone()[0])

        return self.submit(ensure)

    @_guarded
    def cursor(self, destination: str, partition: int = 0) -> int:
        row = self._reader().execute("SELECT seq FROM cursors WHERE destination = ?", (destination,)).fetchone()
        return int(row[0]) if row else 0

    def record(
        self,
        destination: str,
        records: list[DeliveryRecord],
        cursor: int | None = None,
        partition: int = 0,
        lease: Lease | None = None,
    ) -> Future[None]:
        # No fence needed: the lease is the delivery lock, held until this process ends.
        now = time.time()
        exchanges: dict[tuple[str | None, str | None], int | None] = {}
        for r in records:
            if r.request is not None or r.response is not None:
                exchanges[(r.request, r.response)] = None

        def write(conn: sqlite3.Connection) -> None:
            for key in exchanges:  # one row per distinct request/answer (a batch's deliveries share it)
                exchanges[key] = conn.execute(
                    "INSERT INTO exchanges (at, request, response) VALUES (?, ?, ?)", (now, *key)
                ).lastrowid
            if records:
                _count_outcomes(conn, destination, records, now)
                conn.executemany(
                    _UPSERT_DELIVERY,
                    [
                        (
                            r.event_seq,
                            destination,
                            r.subscription,
                            r.status,
                            r.attempts,
                            r.first_attempt_at,
                            r.next_attempt_at,
                            now,
                            r.error,
                            r.hint,
                            exchanges.get((r.request, r.response)),
                        )
                        for r in records
                    ],
                )
            if cursor is not None:
                conn.execute(
                    "INSERT INTO cursors (destination, seq) VALUES (?, ?) "
                    "ON CONFLICT (destination) DO UPDATE SET seq = max(seq, excluded.seq)",
                    (destination, cursor),
                )

        return self.submit(write)

    @_guarded
    def due(self, destination: str, now: float, limit: int, partition: int = 0) -> list[DueDelivery]:
        rows = self._reader().execute(
            "SELECT e.seq, e.source, e.received_at, e.body, d.subscription, d.attempts, d.first_attempt_at "
            "FROM deliveries d JOIN events e ON e.seq = d.event_seq "
            "WHERE d.destination = ? AND d.status = 'retrying' AND d.next_attempt_at <= ? "
            "ORDER BY d.next_attempt_at LIMIT ?",
            (destination, now, limit),
        )
        return [
            DueDelivery(StoredEvent(seq, src, at, orjson.loads(body), seq), sub, attempts, first)
            for seq, src, at, body, sub, attempts, first in rows
        ]

    @_guarded
    def next_due_at(self, destination: str, partition: int = 0) -> float | None:
        row = (
            self._reader()
            .execute(
                "SELECT min(next_attempt_at) FROM deliveries WHERE destination = ? AND status = 'retrying'",
                (destination,),
            )
            .fetchone()
        )
        return row[0]

    # -- operations ------------------------------------------------------------------------------------------

    def requeue_dead(
        self,
        since: float,
        until: float,
        destination: str | None,
        now: float,
        *,
        limit: int | None = None,
        dry_run: bool = False,
        event: int | None = None,
    ) -> Future[int]:
        # `updated_at < now`: a delivery that failed again after the replay began is not picked up a second time.
        where = f"{_FAILED} AND d.status = 'dead' AND d.updated_at < ? AND e.received_at >= ? AND e.received_at < ?"
        args: tuple[Any, ...] = (now, since, until)
        if destination is not None:
            where += " AND d.destination = ?"
            args += (destination,)
        if event is not None:
            where += " AND d.event_seq = ?"
            args += (event,)

        def requeue(conn: sqlite3.Connection) -> int:
            if dry_run:
                return int(conn.execute(f"SELECT count(*) FROM {_DEAD_JOIN} WHERE {where}", args).fetchone()[0])
            taken = conn.execute(
                f"SELECT d.id, d.destination FROM {_DEAD_JOIN} WHERE {where} LIMIT ?",
                (*args, -1 if limit is None else limit),
            ).fetchall()
            at = time.time()
            conn.executemany(
                "UPDATE deliveries SET status = 'retrying', attempts = 0, first_attempt_at = NULL, "
                "next_attempt_at = ?, updated_at = max(?, updated_at), replays = replays + 1 WHERE id = ?",
                [(now, at, row_id) for row_id, _ in taken],
            )
            per_destination = collections.Counter(dest for _, dest in taken)
            minute = int(at) // 60 * 60
            for dest, n in per_destination.items():  # dead → retrying (a dead row has no filter reason)
                conn.execute(_ADD_TOTAL, (dest, "dead", "", -n))
                conn.execute(_ADD_TOTAL, (dest, "retrying", "", n))
                conn.execute(_ADD_MINUTE, (dest, minute, "retrying", n))
            return len(taken)

        return self.submit(requeue)

    @_guarded
    def counts(self, destinations: dict[str, list[str]]) -> list[DestinationCounts]:
        """From the kept totals (a few rows per destination and source), not the rows themselves: events not yet
        passed are those received less those at or before the cursor; the oldest of them is the first in log
        order (receipt times follow it). Only the retrying rows are read (for the oldest), through their index."""
        db = self._reader()
        db.execute("BEGIN")  # one snapshot for every figure
        try:
            per_source = dict(db.execute("SELECT source, n FROM received_totals").fetchall())
            by_status: dict[str, dict[str, int]] = {}
            filtered_by: dict[str, dict[str, int]] = {}
            for dest, status, reason, n in db.execute(
                "SELECT destination, status, reason, n FROM delivery_totals WHERE n <> 0"
            ):
                by_status.setdefault(dest, {})
                by_status[dest][status] = by_status[dest].get(status, 0) + n
                if reason:
                    filtered_by.setdefault(dest, {})[reason] = n
            passed: dict[str, dict[str, int]] = {}
            for dest, source, n in db.execute("SELECT destination, source, n FROM passed_totals"):
                passed.setdefault(dest, {})[source] = n
            out = []
            for dest, sources in destinations.items():
                counts = DestinationCounts(
                    dest, by_status=by_status.get(dest, {}), filtered_by=filtered_by.get(dest, {})
                )
                counts.received = sum(per_source.get(s, 0) for s in sources)
                if sources:
                    waiting = counts.received - sum(passed.get(dest, {}).get(s, 0) for s in sources)
                    retrying = counts.by_status.get("retrying", 0)
                    counts.pending = waiting + retrying
                    candidates = []
                    if waiting:
                        marks = ",".join("?" * len(sources))
                        row = db.execute(
                            "SELECT received_at FROM events "
                            f"WHERE seq > ? AND +source IN ({marks}) ORDER BY seq LIMIT 1",
                            (self.cursor(dest), *sources),
                        ).fetchone()
                        candidates.append(row[0] if row else None)
                    if retrying:
                        candidates.append(
                            db.execute(
                                "SELECT min(e.received_at) FROM deliveries d JOIN events e ON e.seq = d.event_seq "
                                "WHERE d.destination = ? AND d.status = 'retrying'",
                                (dest,),
                            ).fetchone()[0]
                        )
                    present = [t for t in candidates if t is not None]
                    counts.oldest_pending_at = min(present) if present else None
                out.append(counts)
            return out
        finally:
            db.execute("COMMIT")

    @_guarded
    def activity(
        self, destinations: list[str], since: float, step_s: int, sources: dict[str, list[str]] | None = None
    ) -> dict[str, list[tuple[int, dict[str, int]]]]:
        now = time.time()
        activity_buckets([], since, step_s, now, [])  # refuses a step that is no multiple of a minute
        start = int(since // step_s) * step_s
        db = self._reader()
        rows: list[tuple[str, int, str, int]] = []
        if destinations:
            marks = ",".join("?" * len(destinations))
            rows = db.execute(  # summed per bucket here: a week of minutes is 10,080 rows per status
                "SELECT destination, minute - minute % ?, status, sum(n) FROM delivery_minutes "
                f"WHERE destination IN ({marks}) AND minute >= ? GROUP BY 1, 2, 3",
                (step_s, *destinations, start),
            ).fetchall()
        received: dict[str, list[tuple[int, int]]] | None = None
        if sources is not None:
            received = {}
            per_source: dict[str, list[tuple[int, int]]] = {}
            names = sorted({s for dest in destinations for s in sources.get(dest, [])})
            if names:
                marks = ",".join("?" * len(names))
                for source, minute, n in db.execute(
                    f"SELECT source, minute - minute % ?, sum(n) FROM received_minutes WHERE source IN ({marks}) "
                    "AND minute >= ? GROUP BY 1, 2",
                    (step_s, *names, start),
                ):
                    per_source.setdefault(source, []).append((minute, n))
            for dest in destinations:
                received[dest] = [x for s in sources.get(dest, []) for x in per_source.get(s, [])]
        return activity_buckets(destinations, since, step_s, now, rows, received)

    @_guarded
    def log(
        self, limit: int, failed_only: bool = False, destination: str | None = None, source: str | None = None
    ) -> list[LogEntry]:
        where, args = [], []
        if failed_only:
            where.append(_FAILED)
        if destination is not None:
            where.append("d.destination = ?")
            args.append(destination)
        if source is not None:
            where.append("e.source = ?")
            args.append(source)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._reader().execute(
            "SELECT d.destination, d.subscription, e.message_id, e.body, d.status, d.attempts, d.updated_at, "
            "d.next_attempt_at, d.error, d.hint, x.request, x.response, e.received_at, d.replays "
            "FROM deliveries d JOIN events e ON e.seq = d.event_seq LEFT JOIN exchanges x ON x.id = d.exchange_id "
            f"{clause} ORDER BY d.updated_at DESC, d.id DESC LIMIT ?",
            (*args, limit),
        )
        return [
            LogEntry(
                dest,
                sub,
                mid,
                log_sql.event_type(body),
                status,
                attempts,
                updated,
                next_at,
                error,
                hint,
                req,
                resp,
                received,
                replays,
            )
            for (
                dest,
                sub,
                mid,
                body,
                status,
                attempts,
                updated,
                next_at,
                error,
                hint,
                req,
                resp,
                received,
                replays,
            ) in rows
        ]

    def prune(
        self, before: float, dead_before: float, destinations: list[str], after: int = 0
    ) -> Future[tuple[int, int | None]]:
        """One chunk of clean-up, from log position `after` on.

        Events go once they are older than `before` (the dedup window: until then their messageId keeps being
        deduplicated) and every destination's cursor has passed them; their delivered and filtered rows go with
        them. Deliveries still retrying are kept, and dead-lettered ones until `dead_before` (so they can be
        inspected and replayed), and with them their events; rows of destinations not in `destinations` (removed
        from the configuration) go after `dead_before` whatever their status. Exchanges older than both horizons go
        too, and device-mode reports older than `dead_before`.
        """

        def prune(conn: sqlite3.Connection) -> tuple[int, int | None]:
            marks = ",".join("?" * len(destinations))
            if destinations:
                low, known = conn.execute(
                    f"SELECT min(seq), count(*) FROM cursors WHERE destination IN ({marks})", destinations
                ).fetchone()
                if known < len(destinations):
                    low = 0  # a destination without a cursor yet has not passed anything
            else:
                low = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
            removed = conn.execute(
                "DELETE FROM exchanges WHERE id IN (SELECT id FROM exchanges WHERE at < ? ORDER BY id LIMIT ?)",
                (min(before, dead_before), PRUNE_CHUNK),
            ).rowcount
            removed += conn.execute(  # device-mode reports are a log too: kept as long as dead letters
                "DELETE FROM device_events WHERE id IN "
                "(SELECT id FROM device_events WHERE received_at < ? ORDER BY id LIMIT ?)",
                (dead_before, PRUNE_CHUNK),
            ).rowcount
            if after == 0:  # once per clean-up: per-minute counts beyond the console's longest range
                horizon = (int(time.time()) - ACTIVITY_RETENTION_S) // 60 * 60
                for table in ("delivery_minutes", "received_minutes"):
                    conn.execute(f"DELETE FROM {table} WHERE minute < ?", (horizon,))
            rows = conn.execute(
                "SELECT seq, received_at FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (after, low or 0, PRUNE_CHUNK),
            ).fetchall()
            more = removed >= PRUNE_CHUNK
            end = None
            for seq, received_at in rows:  # receipt times follow the log order, so stop at the first young one
                if received_at >= before:
                    break
                end = seq
            if end is None:
                return removed, (after if more else None)
            first = rows[0][0]
            conn.execute(  # a destination no longer configured keeps its rows as long as dead letters, then not
                "DELETE FROM deliveries WHERE event_seq BETWEEN ? AND ? AND "
                "(status IN ('delivered', 'filtered') OR (status = 'dead' AND updated_at < ?) "
                f"OR (destination NOT IN ({marks}) AND updated_at < ?))",
                (first, end, dead_before, *destinations, dead_before),
            )
            removed += conn.execute(
                "DELETE FROM events WHERE seq BETWEEN ? AND ? AND NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)",
                (first, end),
            ).rowcount
            more = more or (len(rows) == PRUNE_CHUNK and end == rows[-1][0])
            return removed, (end if more else None)

        return self.submit(prune)

    # -- privacy ---------------------------------------------------------------------------------------------

    def suppress(self, kind: SubjectKind, value: str, at: float) -> Future[bool]:
        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO suppressions (kind, value, created_at) VALUES (?, ?, ?)", (kind, value, at)
            )
            return cur.rowcount > 0

        return self.submit(insert)

    def unsuppress(self, kind: SubjectKind, value: str) -> Future[bool]:
        def delete(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM suppressions WHERE kind = ? AND value = ?", (kind, value)).rowcount > 0

        return self.submit(delete)

    @_guarded
    def suppressions(self) -> list[Suppression]:
        rows = self._reader().execute(
            "SELECT kind, value, created_at, dropped FROM suppressions ORDER BY created_at, kind, value"
        )
        return [Suppression(kind, value, at, dropped) for kind, value, at, dropped in rows]

    def count_suppressed(self, dropped: dict[tuple[SubjectKind, str], int]) -> Future[None]:
        rows = [(n, kind, value) for (kind, value), n in dropped.items()]

        def add(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE suppressions SET dropped = dropped + ? WHERE kind = ? AND value = ?", rows)

        return self.submit(add)

    def purge(self, kind: SubjectKind, value: str, after: int = 0) -> Future[PurgeResult]:
        # The body is a BLOB of JSON text: read as text, or newer SQLite takes a BLOB for its binary JSONB.
        match = "seq > ? AND seq <= ? AND CAST(json_extract(CAST(body AS TEXT), ?) AS TEXT) = ?"

        def purge(conn: sqlite3.Connection) -> PurgeResult:
            last = conn.execute(
                "SELECT max(seq), count(*) FROM (SELECT seq FROM events WHERE seq > ? ORDER BY seq LIMIT ?)",
                (after, PURGE_CHUNK),
            ).fetchone()
            if not last[1]:
                return PurgeResult(0, 0, 0, None)
            args = (after, last[0], f"$.{kind}", value)
            dead = conn.execute(
                "SELECT count(*) FROM deliveries "
                f"WHERE status = 'dead' AND event_seq IN (SELECT seq FROM events WHERE {match})",
                args,
            ).fetchone()[0]
            deliveries = conn.execute(
                f"DELETE FROM deliveries WHERE event_seq IN (SELECT seq FROM events WHERE {match})", args
            ).rowcount
            events = conn.execute(f"DELETE FROM events WHERE {match}", args).rowcount
            return PurgeResult(events, deliveries, dead, last[0] if last[1] == PURGE_CHUNK else None)

        return self.submit(purge)

    @_guarded
    def log_page(
        self,
        *,
        destination: str | None = None,
        status: str | None = None,
        text: str | None = None,
        before: tuple[float, int] | None = None,
        limit: int = 50,
        source: str | None = None,
    ) -> list[LogRow]:
        sql, args = log_sql.page(
            "?",
            "CAST(e.body AS TEXT)",
            destination=destination,
            status=status,
            text=text,
            before=before,
            limit=limit,
            source=source,
        )
        return log_sql.rows(self._reader().execute(sql, args).fetchall())

    @_guarded
    def find_event(self, message_id: str, sources: list[str]) -> StoredEvent | None:
        if not sources:
            return None
        row = self._reader().execute(log_sql.find_event("?", sources), (*sources, message_id)).fetchone()
        if row is None:
            return None
        seq, source, received_at, body = row
        return StoredEvent(seq, source, received_at, orjson.loads(body), seq)

    @_guarded
    def event_log(self, event_seq: int) -> list[LogRow]:
        return log_sql.rows(self._reader().execute(log_sql.event_log("?"), (event_seq,)).fetchall())

    # -- device mode -----------------------------------------------------------------------------------------

    def record_device_event(self, event: DeviceEvent) -> Future[None]:
        row = log_sql.device_row(event)

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(log_sql.device_insert("?"), row)

        return self.submit(insert)

    @_guarded
    def device_events(self, limit: int, source: str | None = None) -> list[DeviceEvent]:
        sql, args = log_sql.device_select("?", source, limit)
        return log_sql.device_events(self._reader().execute(sql, args).fetchall())


def _statements(script: str) -> list[str]:
    """A script's statements, one by one (a trigger, with the `;` of its body, stays whole)."""
    out: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending)
            pending = ""
    return out
