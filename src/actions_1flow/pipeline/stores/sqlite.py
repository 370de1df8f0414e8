"""The embedded store: one SQLite file in WAL mode, every write fsync'd, writes group-committed (`writer`).

One writer thread owns the write connection; readers use their own connections, one per thread (WAL lets them
run alongside the writer). Positions are event ids (`seq`); there is one partition, leased with a lock file to one
process at a time. What both stores share is `core`'s.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ..records import Lease, LeaseState, StoredEvent, StoreError, SubjectKind
from .core import PRUNE_CHUNK, UPSERT_SET, StoreCore
from .layout import SQLITE
from .sqlite_checkpoint import Checkpointer
from .sqlite_integrity import QUICK_CHECK_BUDGET_S, check_path, damaged, is_corruption, quick_check
from .sqlite_schema import prepare
from .writer import GroupWriter

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for another process (a separate `worker`) holding the write lock."""

WRITER_CACHE_KIB = 32 * 1024
"""Page cache of the writing connection: keeps the messageId index's hot pages in memory as the log grows."""

WAL_AUTOCHECKPOINT_PAGES = 4_000
"""A commit checkpoints the WAL itself only past ~16 MB of log (SQLite's default is 4 MB); normally the background
`Checkpointer` keeps the log far shorter, so commits never pay for a checkpoint."""

JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
"""The WAL file is truncated back to this size after a checkpoint, so one burst does not keep disk forever."""

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
"""Events hold what users did and who they are: the store's directory and file are created for the owner only.
SQLite gives the `-wal` and `-shm` files the main file's permissions."""

PASSED_AS_IS = (type(None), bytes)
"""Parameter types registered with sqlite3 as their own adapters. Python 3.11's sqlite3 looks up an adapter for every
parameter that is not exactly an int, a float or a str, and for these it raises and clears an AttributeError each
time (~1,700 instructions a value: a third of a delivery row's cost, with its NULL columns; an event body's blob on
every append); registered, they are found at once and bound unchanged."""


def _as_is(value: Any) -> Any:
    return value


for _type in PASSED_AS_IS:
    sqlite3.register_adapter(_type, _as_is)

_DELIVERY_COLUMNS = (
    "event_seq, destination, subscription, status, attempts, first_attempt_at, next_attempt_at, updated_at, error, "
    "hint, exchange_id, reason, replays, replay_of, replay_config"
)
_DELIVERY_COLUMN_NAMES = _DELIVERY_COLUMNS.split(", ")
_DELIVERY_ROW = "(" + ", ".join("?" * len(_DELIVERY_COLUMN_NAMES)) + ")"

ROWS_PER_STATEMENT = (100, 10, 1)
"""Appended events, and delivery rows that differ in many columns, go in multi-row statements of these sizes
(largest first), each one SQLite call that runs without the GIL: a statement per row took ~60 % more instructions
a row (a bind-step-reset and a GIL hand-back each; an event also its own update of the log's AUTOINCREMENT
counter), and a few fixed sizes keep the prepared statements few (100 delivery rows are 1,500 variables, within
SQLite's limit of 32,766 since 3.32)."""

SHARED_ROWS_MAX_VARYING = 4
"""A round's rows mostly differ only in their event (a batch delivered by one request): when one to this many
columns differ, none of them in floats (a time read back from JSON text could differ in its last bit) nor in a
text holding U+0000 (SQLite's JSON functions end the text there), the rows go in one statement that binds the
shared columns once and the differing ones as one JSON array, which `json_each` reads in order (so a later row of
a round still updates an earlier one of the same key, and ids follow the round). Binding 15 values a row was half
the cost of writing a round's rows."""


@functools.cache
def _insert_events_sql(rows: int) -> str:
    """The append of `rows` events in one statement, in order (a messageId the source already has is skipped)."""
    return "INSERT OR IGNORE INTO events (source, message_id, received_at, body) VALUES " + ", ".join(
        ["(?, ?, ?, ?)"] * rows
    )


def _in_statements(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], statement: Callable[[int], str]) -> int:
    """Run `statement(n)` over `rows`, n at a time in `ROWS_PER_STATEMENT` sizes, in order; the rows it changed."""
    changed = start = 0
    for size in ROWS_PER_STATEMENT:
        while len(rows) - start >= size:
            chunk = rows[start : start + size]
            changed += conn.execute(statement(size), [value for row in chunk for value in row]).rowcount
            start += size
    return changed


@functools.cache
def _upsert_deliveries_sql(rows: int) -> str:
    """The upsert of `rows` delivery rows in one statement (rows later in it update earlier ones of the same key,
    as separate statements would)."""
    return (
        f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}) VALUES {', '.join([_DELIVERY_ROW] * rows)} "
        f"ON CONFLICT (event_seq, destination, subscription) DO UPDATE SET {UPSERT_SET}"
    )


@functools.cache
def _upsert_shared_sql(varying: tuple[int, ...]) -> str:
    """The upsert of any number of delivery rows whose columns at `varying` come from a JSON array (of values when
    one column varies, else of arrays), in its order, and whose other columns are bound once, in column order."""
    if len(varying) == 1:
        picked = {varying[0]: "value"}
    else:
        picked = {column: f"json_extract(value, '$[{i}]')" for i, column in enumerate(varying)}
    values = ", ".join(picked.get(i, "?") for i in range(len(_DELIVERY_COLUMN_NAMES)))
    return (
        f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}) SELECT {values} FROM json_each(?) WHERE true "
        f"ON CONFLICT (event_seq, destination, subscription) DO UPDATE SET {UPSERT_SET}"
    )


def create_private(path: Path) -> None:
    """Create the store's directory (0700) and an empty store file (0600) when they do not exist yet. Existing
    ones keep their permissions: they may be shared on purpose (a group running `serve` and `worker`)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=PRIVATE_DIR)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))


class _Writes:
    """The writer's driver: one connection for the store's life, transactions that take the write lock at once."""

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection) -> None:
        self.store = store
        self.conn = conn

    def connect(self) -> sqlite3.Connection:
        return self.conn

    def begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def commit(self, conn: sqlite3.Connection) -> None:
        conn.execute("COMMIT")

    def rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def failure(self, exc: BaseException, conn: sqlite3.Connection | None) -> tuple[BaseException, bool]:
        self.store._note_error(exc)
        if isinstance(exc, sqlite3.Error):  # the file refused the write (full, read-only, damaged …)
            return StoreError(self.store.damaged or f"the event store {self.store.path} refused a write: {exc}"), False
        return exc, False


class SQLiteStore(StoreCore):
    """`Store` on one SQLite file. Safe to share between threads; one instance per process (several processes may
    open the same file: SQLite serialises their writes). One partition: one process delivers at a time."""

    backend = SQLITE
    partitions = 1
    PART = "0"
    AT_OR_BEFORE = "e.seq <= c.seq"
    BODY_TEXT = "CAST(e.body AS TEXT)"
    GREATEST = "max"
    POSITION = "e.seq"

    def __init__(self, path: str | Path, integrity_budget: float = QUICK_CHECK_BUDGET_S) -> None:
        """Open (or create) the store at `path`; StoreError, saying what to do, when the path is no usable store
        or the file fails `quick_check` (given at most `integrity_budget` seconds; see `sqlite_integrity`)."""
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
        self._lock_file: Any = None
        writer = None
        try:
            writer = self._connect()
            quick_check(writer, self.path, integrity_budget)
            writer.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            writer.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            writer.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}")
            prepare(writer, self.path, self._counts)
        except (sqlite3.Error, StoreError) as exc:
            if writer is not None:
                writer.close()
            if isinstance(exc, StoreError):
                raise
            if is_corruption(exc):
                raise damaged(self.path, exc) from None
            raise StoreError(f"cannot open the event store {self.path}: {exc}") from None
        self._writer_conn = writer
        self._writer = GroupWriter(_Writes(self, writer), "sqlite-writer")
        self._checkpointer = Checkpointer(self.path)

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

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """This thread's reader. A read that fails is a StoreError saying why (as for writes): one saying the file
        is corrupt marks the store damaged."""
        try:
            yield self._reader()
        except sqlite3.Error as exc:
            self._note_error(exc)
            if is_corruption(exc):
                raise damaged(self.path, exc) from exc
            raise StoreError(f"cannot read the event store {self.description}: {exc}") from exc

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        with self._reading() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _note_error(self, exc: BaseException) -> None:
        """Remember (and log, once) that the file is corrupt when `exc` says so."""
        if self.damaged is None and is_corruption(exc):
            self.damaged = str(damaged(self.path, exc))
            log.error("%s — refusing to store events from now on", self.damaged)

    def _refusal(self) -> BaseException | None:
        return None if self.damaged is None else StoreError(self.damaged)  # nothing more goes into a corrupt file

    def close(self) -> None:
        """Commit what is queued, then stop the writer and close every connection."""
        if self._writer.closed:
            return
        self.release_delivery_lock()
        self._writer.close()
        self._writer_conn.close()
        self._checkpointer.close()
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()

    # -- SQL -------------------------------------------------------------------------------------------------

    @staticmethod
    def _sql(text: str) -> str:
        return text

    def _in(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def _part(self, alias: str, partition: int) -> tuple[str, list[Any]]:
        return "", []

    def _stored(self, seq: int, source: str, received_at: float, body: Any, position: Any) -> StoredEvent:
        return StoredEvent(seq, source, received_at, orjson.loads(body), seq)

    # -- the log and the cursors -----------------------------------------------------------------------------

    def _prepare_events(self, source: str, events: list[dict[str, Any]], received_at: float) -> Any:
        return [(source, str(e["messageId"]), received_at, orjson.dumps(e)) for e in events]

    def _insert_events(self, conn: sqlite3.Connection, rows: Any) -> dict[int, int]:
        accepted = _in_statements(conn, rows, _insert_events_sql)
        return {0: accepted} if accepted else {}

    def read_after(self, position: int, sources: list[str], limit: int, partition: int = 0) -> list[StoredEvent]:
        marks = ",".join("?" * len(sources))
        with self._reading() as conn:
            # `+source` keeps SQLite on the primary key (already in log order) instead of the dedup index plus a sort.
            rows = conn.execute(
                f"SELECT seq, source, received_at, body FROM events WHERE seq > ? AND +source IN ({marks}) "
                "ORDER BY seq LIMIT ?",
                (position, *sources, limit),
            ).fetchall()
        return [StoredEvent(s, src, at, orjson.loads(body), s) for s, src, at, body in rows]

    def _upsert_deliveries(self, conn: sqlite3.Connection, partition: int, rows: list[tuple[Any, ...]]) -> None:
        columns = list(zip(*rows))
        varying = tuple(i for i, column in enumerate(columns) if column.count(column[0]) != len(rows))
        if 0 < len(varying) <= SHARED_ROWS_MAX_VARYING and not any(
            type(value) is float for i in varying for value in columns[i]
        ):
            picked = columns[varying[0]] if len(varying) == 1 else list(zip(*(columns[i] for i in varying)))
            array = orjson.dumps(picked)
            if b"\\u0000" not in array:  # SQLite's JSON functions end a text at U+0000
                shared = [column[0] for i, column in enumerate(columns) if i not in varying]
                conn.execute(_upsert_shared_sql(varying), (*shared, array))
                return
        _in_statements(conn, rows, _upsert_deliveries_sql)

    def _create_cursors(self, conn: sqlite3.Connection, destination: str) -> list[tuple[str, int]]:
        created = conn.execute(
            "INSERT OR IGNORE INTO cursors (destination, seq) SELECT ?, coalesce(max(seq), 0) FROM events",
            (destination,),
        ).rowcount
        # At the log's end: it passes every event received (one writer, so the totals are the rows').
        return conn.execute("SELECT source, n FROM received_totals").fetchall() if created else []

    def _cursor_of(self, conn: sqlite3.Connection, destination: str, partition: int) -> int:
        row = conn.execute("SELECT seq FROM cursors WHERE destination = ?", (destination,)).fetchone()
        return int(row[0]) if row else 0

    def _advance_cursor(
        self, conn: sqlite3.Connection, destination: str, partition: int, position: int
    ) -> list[tuple[str, int]]:
        old = self._cursor_of(conn, destination, partition)
        if position <= old:
            return []
        conn.execute(
            "INSERT INTO cursors (destination, seq) VALUES (?, ?) ON CONFLICT (destination) DO UPDATE SET seq = ?",
            (destination, position, position),
        )
        return conn.execute(
            "SELECT source, count(*) FROM events WHERE seq > ? AND seq <= ? GROUP BY source", (old, position)
        ).fetchall()

    def _oldest_waiting(self, conn: sqlite3.Connection, destination: str, sources: list[str]) -> float | None:
        """The first event after the cursor, in log order (receipt times follow it)."""
        marks = ",".join("?" * len(sources))
        row = conn.execute(
            f"SELECT received_at FROM events WHERE seq > ? AND +source IN ({marks}) ORDER BY seq LIMIT 1",
            (self._cursor_of(conn, destination, 0), *sources),
        ).fetchone()
        return None if row is None else float(row[0])

    # -- leases: one process delivers ------------------------------------------------------------------------

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

    # -- what a clean-up or an erasure takes -----------------------------------------------------------------

    def _prunable(
        self, conn: sqlite3.Connection, before: float, destinations: list[str], after: int, kept: dict[str, float]
    ) -> tuple[list[int], int | None]:
        """Events up to the lowest cursor, in log order; receipt times follow it, so the chunk ends at the first
        event young enough to keep (an event of a source in `kept`, not yet old enough for its own window, is
        skipped, not an end)."""
        if destinations:
            clause, args = self._in("destination", destinations)
            low, known = conn.execute(f"SELECT min(seq), count(*) FROM cursors WHERE {clause}", args).fetchone()
            if known < len(destinations):
                low = 0  # a destination without a cursor yet has not passed anything
        else:
            low = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        rows = conn.execute(
            "SELECT seq, received_at, source FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (after, low or 0, PRUNE_CHUNK),
        ).fetchall()
        seqs = []
        last = None
        for seq, received_at, source in rows:
            if received_at >= before:
                break
            last = seq
            if received_at < kept.get(source, before):
                seqs.append(seq)
        more = len(rows) == PRUNE_CHUNK and last == rows[-1][0]
        return seqs, (last if more else None)

    def _subject(self, kind: SubjectKind, value: str) -> tuple[str, tuple[Any, ...]]:
        # The body is a BLOB of JSON text: read as text, or newer SQLite takes a BLOB for its binary JSONB.
        return "CAST(json_extract(CAST(body AS TEXT), ?) AS TEXT) = ?", (f"$.{kind}", value)
