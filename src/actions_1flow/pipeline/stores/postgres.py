"""The shared store: PostgreSQL, for any number of `serve` and `worker` processes on any number of machines.

Writes are group-committed as in the SQLite store: one writer thread per process owns a connection and runs every
operation queued meanwhile in one transaction (`synchronous_commit` on), so one WAL flush acknowledges many requests.
Reads, heartbeats and operator queries use a small connection pool.

Positions. Identity values are handed out before transactions commit, so a reader that moved a cursor past `seq`
could miss a smaller `seq` committed later. Each event therefore also records its transaction's id (`xid8`), and a
reader sees only events of transactions older than every transaction still running (`pg_snapshot_xmin`): nothing
can ever appear behind a cursor at `(xid, seq)`. A position is that pair as one integer (`xid << 64 | seq`).

Leases. Each partition of each destination has a lease row (holder, epoch, expiry in database time). A worker's
heartbeat renews what it holds and takes expired or free rows up to its fair share among the workers seen alive;
every cursor and outcome write checks, in its own transaction, that its lease is still held with the same epoch.

When the database cannot be reached, every call raises `StoreUnavailable` (the tracking API answers 503) and
`unavailable` says why; the next call tries again, so nothing needs a restart once the database is back.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
import psycopg
import psycopg_pool

from ...config import redact_url
from ...secrets import scrub_url_secrets
from ..store import (
    ACTIVITY_RETENTION_S,
    PURGE_CHUNK,
    AppendResult,
    DeliveryRecord,
    DestinationCounts,
    DeviceEvent,
    DueDelivery,
    Lease,
    LeaseLost,
    LeaseState,
    LogEntry,
    LogRow,
    PurgeResult,
    StoredEvent,
    StoreError,
    StoreUnavailable,
    SubjectKind,
    Suppression,
    activity_buckets,
    partition_of,
)
from . import log_sql
from .group_commit import STOP, take_group
from .postgres_schema import SCHEMA, prepare

T = TypeVar("T")
log = logging.getLogger(__name__)
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
"""The pool warns on every failed connection attempt; while the database is down that is many a second. The store
says it once (`unavailable`), and again when it is back."""

DEFAULT_PARTITIONS = 16
"""Partitions of each destination's log in a new store: enough for 16 workers to share one destination."""

MAX_GROUP_OPS = 512
"""Operations folded into one transaction at most."""

CONNECT_TIMEOUT_S = 5
"""How long a connection attempt waits (a database that is down refuses at once; an unreachable host does not)."""

POOL_SIZE = 8
POOL_TIMEOUT_S = 2.0
"""How long a read waits for a pooled connection before it reports the store unavailable (while the database is
down, every read waits this long: `/ready` answers within it)."""

PRUNE_CHUNK = 5_000
PRUNE_LOCK = 0x1F10_0002
"""The advisory lock a worker holds while it cleans up (every worker prunes; one at a time)."""

_SHIFT = 64
_LOW = (1 << _SHIFT) - 1

_UPSERT_DELIVERY = """
INSERT INTO deliveries (event_seq, destination, part, subscription, status, attempts, first_attempt_at,
                        next_attempt_at, updated_at, error, hint, exchange_id)
SELECT s, %s, %s, sub, st, a, f, n, %s, e, h, x
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::float8[], %s::float8[], %s::text[], %s::text[],
            %s::bigint[]) AS r(s, sub, st, a, f, n, e, h, x)
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
"""A round's outcomes in one statement (arrays, one per column): far cheaper than a statement per row. A round has
one row per (event, subscription), so no row is upserted twice by it."""

_VISIBLE = "xid < pg_snapshot_xmin(pg_current_snapshot())"
"""Only events of finished transactions: none can commit later behind them."""


READ_AFTER_SQL = (
    "SELECT seq, source, received_at, body, xid::text AS xid_text FROM events "
    f"WHERE part = %s AND (xid, seq) > (%s::xid8, %s) AND {_VISIBLE} AND source = ANY(%s) "
    "ORDER BY events.xid, events.seq LIMIT %s"
)
"""A partition's next events after a position, walking the (part, xid, seq) index. The text form of the id gets
its own name: `ORDER BY xid` would otherwise sort by that output column, as text (xid 100 before 99), and sort the
partition's whole backlog for every batch instead of reading the index in order."""


LEASE_FENCE_SQL = (
    "SELECT 1 FROM leases WHERE destination = %s AND part = %s AND epoch = %s AND expires_at > now() FOR KEY SHARE"
)
"""The check before a cursor or outcome write: the lease is still this holder's. FOR KEY SHARE keeps a take-over
(whose `FOR UPDATE SKIP LOCKED` conflicts with it) off the row until the write has committed, yet lets the holder's
own heartbeat renew the row meanwhile (an UPDATE of non-key columns does not conflict). FOR SHARE blocked the renewal:
the writer's group transaction, fencing several partitions one after another, and the heartbeat, renewing them in
another order, deadlocked, and PostgreSQL's victim was a heartbeat (every lease lapsed) or a whole group of
recorded rounds."""


def to_position(xid: str | int, seq: int) -> int:
    return (int(xid) << _SHIFT) | seq


def split_position(pos: int) -> tuple[str, int]:
    """(xid as text, for `::xid8`; seq)."""
    return str(pos >> _SHIFT), pos & _LOW


class _Op:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[psycopg.Connection], Any]) -> None:
        self.fn = fn
        self.future: Future[Any] = Future()


def _configure(conn: psycopg.Connection) -> None:
    conn.execute(f"SET search_path TO {SCHEMA}")
    conn.execute("SET synchronous_commit TO on")  # a 200 only after the commit is flushed, whatever the server default
    conn.commit()


class PostgresStore:
    """`Store` on a PostgreSQL database (`storage: postgresql://…`). One instance per process; any number of
    processes may share the database."""

    def __init__(self, url: str, partitions: int = DEFAULT_PARTITIONS) -> None:
        """Connect, create or check the layout; StoreError (saying what to do) when the database cannot be used."""
        self.url = url
        self.description = redact_url(url)
        self.damaged: str | None = None
        self.unavailable: str | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
                self.partitions = prepare(conn, self.description, partitions)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to the event store {self.description}: {self._why(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"cannot use the event store {self.description}: {self._why(exc)}") from None
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=POOL_TIMEOUT_S,
            reconnect_timeout=0,  # never give up reconnecting: the database coming back is the normal case
            open=True,
            name="actions-1flow-store",
        )
        self._writer = threading.Thread(target=self._write_loop, name="postgres-writer", daemon=True)
        self._writer.start()

    # -- connections -----------------------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; StoreUnavailable when the database cannot be reached."""
        if self._closed:
            raise RuntimeError("the store is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._lost(exc) from None
        else:
            self.unavailable = None

    def _why(self, exc: BaseException) -> str:
        """The driver's reason for a failure, without the URL's secrets (libpq may quote what it could not parse)."""
        return scrub_url_secrets(_reason(exc), self.url)

    def _lost(self, exc: BaseException) -> StoreUnavailable:
        reason = f"the event store {self.description} cannot be reached: {self._why(exc)}"
        if self.unavailable is None:
            log.error("%s — answering 503 until it is back", reason)
        self.unavailable = reason
        return StoreUnavailable(reason)

    def _connect_writer(self) -> psycopg.Connection:
        conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S)
        _configure(conn)
        return conn

    # -- group commit ----------------------------------------------------------------------------------------

    def submit(self, fn: Callable[[psycopg.Connection], T]) -> Future[T]:
        """Run `fn(connection)` inside the next group transaction; the future resolves after the commit. `fn` may
        raise only before it writes (a fence), or through the database (then each operation is retried alone)."""
        if self._closed:
            raise RuntimeError("the store is closed")
        op = _Op(fn)
        self._queue.put(op)
        return op.future

    def _write_loop(self) -> None:
        conn: psycopg.Connection | None = None
        while True:
            ops, stop = take_group(self._queue, MAX_GROUP_OPS)
            if ops:
                conn = self._commit_group(conn, ops)
            if stop:
                break
        if conn is not None:
            conn.close()

    def _commit_group(self, conn: psycopg.Connection | None, ops: list[_Op]) -> psycopg.Connection | None:
        """Run `ops` in one transaction; returns the connection to use next (None once it broke)."""
        try:
            if conn is None or conn.closed:
                conn = self._connect_writer()
            outcomes = self._run(conn, ops)
        except psycopg.OperationalError as exc:  # the connection (or the database) is gone: nothing is durable
            gone = self._lost(exc)
            for op in ops:
                op.future.set_exception(gone)
            if conn is not None:
                conn.close()
            return None
        except psycopg.Error:  # one operation failed in the database: the group is undone; run each alone
            conn.rollback()  # type: ignore[union-attr]
            outcomes = []
            for op in ops:
                try:
                    outcomes.extend(self._run(conn, [op]))  # type: ignore[arg-type]
                except psycopg.OperationalError as exc:
                    lost: BaseException = self._lost(exc)
                    outcomes.append((op, None, lost))
                    conn.close()  # type: ignore[union-attr]
                    conn = None
                    break
                except psycopg.Error as exc:
                    conn.rollback()  # type: ignore[union-attr]
                    outcomes.append((op, None, StoreError(self._why(exc))))
            done = {id(op) for op, _, _ in outcomes}
            outcomes.extend((op, None, StoreUnavailable(self.unavailable or "")) for op in ops if id(op) not in done)
        else:
            self.unavailable = None
        for op, result, error in outcomes:
            if error is None:
                op.future.set_result(result)
            else:
                op.future.set_exception(error)
        return conn

    @staticmethod
    def _run(conn: psycopg.Connection, ops: list[_Op]) -> list[tuple[_Op, Any, BaseException | None]]:
        outcomes: list[tuple[_Op, Any, BaseException | None]] = []
        with conn.transaction():
            for op in ops:
                try:
                    outcomes.append((op, op.fn(conn), None))
                except psycopg.Error:
                    raise
                except Exception as exc:  # a fence (raised before the operation wrote anything)
                    outcomes.append((op, None, exc))
        return outcomes

    def close(self) -> None:
        """Commit what is queued, then stop the writer and the pool."""
        if self._closed:
            return
        self._queue.put(STOP)
        self._writer.join()
        self._closed = True
        self._pool.close()

    # -- ingest ----------------------------------------------------------------------------------------------

    def append(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        n = self.partitions
        parts = [partition_of(e, n) for e in events]
        ids = [str(e["messageId"]) for e in events]
        bodies = [orjson.dumps(e) for e in events]

        def insert(conn: psycopg.Connection) -> AppendResult:
            cur = conn.execute(
                "INSERT INTO events (part, source, message_id, received_at, body) "
                "SELECT p, %s, m, %s, b FROM unnest(%s::smallint[], %s::text[], %s::bytea[]) AS t(p, m, b) "
                "ON CONFLICT (source, message_id) DO NOTHING",
                (source, received_at, parts, ids, bodies),
            )
            accepted = cur.rowcount
            return AppendResult(accepted=accepted, duplicates=len(events) - accepted)

        return self.submit(insert)

    # -- delivery --------------------------------------------------------------------------------------------

    def last_seq(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])  # type: ignore[index]

    def read_after(self, position: int, sources: list[str], limit: int, partition: int = 0) -> list[StoredEvent]:
        xid, seq = split_position(position)
        with self._read() as conn:
            rows = conn.execute(READ_AFTER_SQL, (partition, xid, seq, sources, limit)).fetchall()
        return [StoredEvent(s, src, at, orjson.loads(body), to_position(x, s)) for s, src, at, body, x in rows]

    def ensure_cursor(self, destination: str, partition: int = 0) -> Future[int]:
        def ensure(conn: psycopg.Connection) -> int:
            conn.execute(  # all partitions at once, at the end of the log as every running transaction sees it
                "INSERT INTO cursors (destination, part, xid, seq) "
                "SELECT %s, g, pg_snapshot_xmin(pg_current_snapshot()), 0 FROM generate_series(0, %s - 1) g "
                "WHERE NOT EXISTS (SELECT 1 FROM cursors WHERE destination = %s) ON CONFLICT DO NOTHING",
                (destination, self.partitions, destination),
            )
            row = conn.execute(
                "SELECT xid::text, seq FROM cursors WHERE destination = %s AND part = %s", (destination, partition)
            ).fetchone()
            return 0 if row is None else to_position(row[0], row[1])

        return self.submit(ensure)

    def cursor(self, destination: str, partition: int = 0) -> int:
        with self._read() as conn:
            row = conn.execute(
                "SELECT xid::text, seq FROM cursors WHERE destination = %s AND part = %s", (destination, partition)
            ).fetchone()
        return 0 if row is None else to_position(row[0], row[1])

    def record(
        self,
        destination: str,
        records: list[DeliveryRecord],
        cursor: int | None = None,
        partition: int = 0,
        lease: Lease | None = None,
    ) -> Future[None]:
        now = time.time()
        exchanges: dict[tuple[str | None, str | None], int | None] = {}
        for r in records:
            if r.request is not None or r.response is not None:
                exchanges[(r.request, r.response)] = None

        def write(conn: psycopg.Connection) -> None:
            if lease is not None:
                held = conn.execute(LEASE_FENCE_SQL, (lease.destination, lease.partition, lease.epoch)).fetchone()
                if held is None:
                    raise LeaseLost(f"partition {lease.partition} of {destination} is no longer leased to this worker")
            for key in exchanges:
                exchanges[key] = conn.execute(
                    "INSERT INTO exchanges (at, request, response) VALUES (%s, %s, %s) RETURNING id", (now, *key)
                ).fetchone()[0]  # type: ignore[index]
            if records:
                conn.execute(
                    _UPSERT_DELIVERY,
                    (
                        destination,
                        partition,
                        now,
                        [r.event_seq for r in records],
                        [r.subscription for r in records],
                        [r.status for r in records],
                        [r.attempts for r in records],
                        [r.first_attempt_at for r in records],
                        [r.next_attempt_at for r in records],
                        [r.error for r in records],
                        [r.hint for r in records],
                        [exchanges.get((r.request, r.response)) for r in records],
                    ),
                )
            if cursor is not None:
                xid, seq = split_position(cursor)
                conn.execute(
                    "INSERT INTO cursors (destination, part, xid, seq) VALUES (%s, %s, %s::xid8, %s) "
                    "ON CONFLICT (destination, part) DO UPDATE SET xid = excluded.xid, seq = excluded.seq "
                    "WHERE (cursors.xid, cursors.seq) < (excluded.xid, excluded.seq)",
                    (destination, partition, xid, seq),
                )

        return self.submit(write)

    def due(self, destination: str, now: float, limit: int, partition: int = 0) -> list[DueDelivery]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT e.seq, e.source, e.received_at, e.body, e.xid::text, d.subscription, d.attempts, "
                "d.first_attempt_at FROM deliveries d JOIN events e ON e.seq = d.event_seq "
                "WHERE d.destination = %s AND d.part = %s AND d.status = 'retrying' AND d.next_attempt_at <= %s "
                "ORDER BY d.next_attempt_at LIMIT %s",
                (destination, partition, now, limit),
            ).fetchall()
        return [
            DueDelivery(StoredEvent(seq, src, at, orjson.loads(body), to_position(x, seq)), sub, attempts, first)
            for seq, src, at, body, x, sub, attempts, first in rows
        ]

    def next_due_at(self, destination: str, partition: int = 0) -> float | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT min(next_attempt_at) FROM deliveries "
                "WHERE destination = %s AND part = %s AND status = 'retrying'",
                (destination, partition),
            ).fetchone()
        return None if row is None else row[0]

    # -- leases ----------------------------------------------------------------------------------------------

    def heartbeat(self, worker: str, destinations: list[str], ttl: float) -> LeaseState:
        if not destinations:
            return LeaseState([])

        # On a pooled connection, not through the writer: a heartbeat must not wait behind group commits. The
        # fences' FOR KEY SHARE locks let it renew rows they hold (see LEASE_FENCE_SQL).
        def beat(conn: psycopg.Connection) -> tuple[int, int, list[tuple[str, int, int]]]:
            conn.execute(
                "INSERT INTO workers (id, seen_at) VALUES (%s, now()) ON CONFLICT (id) DO UPDATE SET seen_at = now()",
                (worker,),
            )
            live = conn.execute(
                "SELECT count(*) FROM workers WHERE seen_at > now() - make_interval(secs => %s)", (ttl,)
            ).fetchone()[0]  # type: ignore[index]
            conn.execute("DELETE FROM workers WHERE seen_at < now() - interval '1 day'")
            conn.execute(
                "INSERT INTO leases (destination, part) SELECT d, g FROM unnest(%s::text[]) d, "
                "generate_series(0, %s - 1) g ON CONFLICT DO NOTHING",
                (destinations, self.partitions),
            )
            held = conn.execute(
                "UPDATE leases SET expires_at = now() + make_interval(secs => %s) "
                "WHERE owner = %s AND expires_at > now() AND destination = ANY(%s) RETURNING destination, part, epoch",
                (ttl, worker, destinations),
            ).fetchall()
            share = math.ceil(len(destinations) * self.partitions / max(live, 1))
            if len(held) < share:
                held += conn.execute(
                    "UPDATE leases l "
                    "SET owner = %s, epoch = l.epoch + 1, expires_at = now() + make_interval(secs => %s) "
                    "FROM (SELECT destination, part FROM leases WHERE destination = ANY(%s) AND expires_at <= now() "
                    "ORDER BY random() LIMIT %s FOR UPDATE SKIP LOCKED) free "
                    "WHERE l.destination = free.destination AND l.part = free.part "
                    "RETURNING l.destination, l.part, l.epoch",
                    (worker, ttl, destinations, share - len(held)),
                ).fetchall()
            return live, share, held

        with self._read() as conn, conn.transaction():
            live, share, held = beat(conn)
        leases = [Lease(d, p, e) for d, p, e in sorted(held)]
        others = f"{live - 1} other worker(s)" if live > 1 else None
        return LeaseState(leases[:share], surplus=leases[share:], others=others)

    def release(self, worker: str, leases: list[Lease]) -> None:
        if not leases:
            return
        with self._read() as conn:
            conn.execute(
                "UPDATE leases SET owner = NULL, expires_at = '-infinity' FROM unnest(%s::text[], %s::smallint[], "
                "%s::bigint[]) AS r(d, p, e) WHERE owner = %s AND destination = r.d AND part = r.p AND epoch = r.e",
                ([x.destination for x in leases], [x.partition for x in leases], [x.epoch for x in leases], worker),
            )

    def leases(self) -> list[tuple[str, int, str | None, int, bool]]:
        """Every lease row: (destination, partition, holder, epoch, live) — for `status` and the tests."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT destination, part, owner, epoch, expires_at > now() FROM leases ORDER BY 1, 2"
            ).fetchall()
        return [(d, p, o, e, live) for d, p, o, e, live in rows]

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
        where = "d.status = 'dead' AND d.updated_at < %s AND e.received_at >= %s AND e.received_at < %s"
        args: tuple[Any, ...] = (now, since, until)
        if destination is not None:
            where += " AND d.destination = %s"
            args += (destination,)
        if event is not None:
            where += " AND d.event_seq = %s"
            args += (event,)
        dead = f"deliveries d JOIN events e ON e.seq = d.event_seq WHERE {where}"

        def requeue(conn: psycopg.Connection) -> int:
            if dry_run:
                return int(conn.execute(f"SELECT count(*) FROM {dead}", args).fetchone()[0])  # type: ignore[index]
            cur = conn.execute(
                "UPDATE deliveries SET status = 'retrying', attempts = 0, first_attempt_at = NULL, "
                "next_attempt_at = %s, updated_at = greatest(%s, updated_at), replays = replays + 1 "
                f"WHERE id IN (SELECT d.id FROM {dead} LIMIT %s)",
                (now, time.time(), *args, limit),
            )
            return cur.rowcount

        return self.submit(requeue)

    def counts(self, destinations: dict[str, list[str]]) -> list[DestinationCounts]:
        """From the kept totals (see postgres_schema.COUNTS), read in one snapshot: events not yet passed are those
        received less those at or before the cursors; the oldest of them is the earliest, in log order, of each
        partition's first one after its cursor. Only the retrying rows are read (for the oldest), by their index."""
        with self._read() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            per_source: dict[str, int] = dict(
                conn.execute("SELECT source, sum(n)::bigint FROM received_totals GROUP BY 1").fetchall()
            )
            by_status: dict[str, dict[str, int]] = {}
            filtered_by: dict[str, dict[str, int]] = {}
            for dest, status, reason, n in conn.execute(
                "SELECT destination, status, reason, sum(n)::bigint FROM delivery_totals GROUP BY 1, 2, 3 "
                "HAVING sum(n) <> 0"
            ):
                by_status.setdefault(dest, {})
                by_status[dest][status] = by_status[dest].get(status, 0) + n
                if reason:
                    filtered_by.setdefault(dest, {})[reason] = n
            passed: dict[str, dict[str, int]] = {}
            for dest, source, n in conn.execute(
                "SELECT destination, source, sum(n)::bigint FROM passed_totals GROUP BY 1, 2"
            ):
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
                        candidates.append(
                            conn.execute(  # type: ignore[index]  # each partition's first event after its cursor, by index
                                "SELECT min(x.received_at) FROM cursors c CROSS JOIN LATERAL (SELECT e.received_at "
                                "FROM events e WHERE e.part = c.part AND (e.xid, e.seq) > (c.xid, c.seq) "
                                "AND e.source = ANY(%s) ORDER BY e.xid, e.seq LIMIT 1) x WHERE c.destination = %s",
                                (sources, dest),
                            ).fetchone()[0]
                        )
                        candidates.append(
                            conn.execute(  # type: ignore[index]  # and of a partition without a cursor, its first event
                                "SELECT min(x.received_at) FROM generate_series(0, %s - 1) g CROSS JOIN LATERAL ("
                                "SELECT e.received_at FROM events e WHERE e.part = g AND e.source = ANY(%s) "
                                "ORDER BY e.xid, e.seq LIMIT 1) x "
                                "WHERE NOT EXISTS (SELECT 1 FROM cursors c WHERE c.destination = %s AND c.part = g)",
                                (self.partitions, sources, dest),
                            ).fetchone()[0]
                        )
                    if retrying:
                        candidates.append(
                            conn.execute(  # type: ignore[index]
                                "SELECT min(e.received_at) FROM deliveries d JOIN events e ON e.seq = d.event_seq "
                                "WHERE d.destination = %s AND d.status = 'retrying'",
                                (dest,),
                            ).fetchone()[0]
                        )
                    present = [t for t in candidates if t is not None]
                    counts.oldest_pending_at = min(present) if present else None
                out.append(counts)
        return out

    def activity(
        self, destinations: list[str], since: float, step_s: int, sources: dict[str, list[str]] | None = None
    ) -> dict[str, list[tuple[int, dict[str, int]]]]:
        now = time.time()
        activity_buckets([], since, step_s, now, [])  # refuses a step that is no multiple of a minute
        start = int(since // step_s) * step_s
        received: dict[str, list[tuple[int, int]]] | None = None
        with self._read() as conn:
            rows = conn.execute(
                "SELECT destination, minute - minute %% %s, status, sum(n)::bigint FROM delivery_minutes "
                "WHERE destination = ANY(%s) AND minute >= %s GROUP BY 1, 2, 3",
                (step_s, destinations, start),
            ).fetchall()
            if sources is not None:
                names = sorted({s for dest in destinations for s in sources.get(dest, [])})
                per_source: dict[str, list[tuple[int, int]]] = {}
                for source, minute, n in conn.execute(
                    "SELECT source, minute - minute %% %s, sum(n)::bigint FROM received_minutes "
                    "WHERE source = ANY(%s) AND minute >= %s GROUP BY 1, 2",
                    (step_s, names, start),
                ):
                    per_source.setdefault(source, []).append((minute, n))
                received = {
                    dest: [x for s in sources.get(dest, []) for x in per_source.get(s, [])] for dest in destinations
                }
        return activity_buckets(destinations, since, step_s, now, rows, received)

    def log(
        self, limit: int, failed_only: bool = False, destination: str | None = None, source: str | None = None
    ) -> list[LogEntry]:
        where: list[str] = []
        args: list[Any] = []
        if failed_only:
            where.append("d.status IN ('retrying', 'dead')")
        if destination is not None:
            where.append("d.destination = %s")
            args.append(destination)
        if source is not None:
            where.append("e.source = %s")
            args.append(source)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT d.destination, d.subscription, e.message_id, e.body, d.status, d.attempts, d.updated_at, "
                "d.next_attempt_at, d.error, d.hint, x.request, x.response, e.received_at, d.replays "
                "FROM deliveries d JOIN events e ON e.seq = d.event_seq LEFT JOIN exchanges x ON x.id = d.exchange_id "
                f"{clause} ORDER BY d.updated_at DESC, d.id DESC LIMIT %s",
                (*args, limit),
            ).fetchall()
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
        """One chunk of clean-up from event id `after` on; the rules are the SQLite store's (see there). Receipt
        times follow ids closely but not exactly (several servers write), so each event is judged on its own."""

        def prune(conn: psycopg.Connection) -> tuple[int, int | None]:
            if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (PRUNE_LOCK,)).fetchone()[0]:  # type: ignore[index]
                return 0, None  # another worker is cleaning up right now
            removed = conn.execute(
                "DELETE FROM exchanges WHERE id IN (SELECT id FROM exchanges WHERE at < %s ORDER BY id LIMIT %s)",
                (min(before, dead_before), PRUNE_CHUNK),
            ).rowcount
            removed += conn.execute(
                "DELETE FROM device_events WHERE id IN "
                "(SELECT id FROM device_events WHERE received_at < %s ORDER BY id LIMIT %s)",
                (dead_before, PRUNE_CHUNK),
            ).rowcount
            more = removed >= PRUNE_CHUNK
            if after == 0:  # once per clean-up: per-minute counts beyond the console's longest range
                horizon = (int(time.time()) - ACTIVITY_RETENTION_S) // 60 * 60
                for table in ("delivery_minutes", "received_minutes"):
                    conn.execute(f"DELETE FROM {table} WHERE minute < %s", (horizon,))
            chunk = conn.execute(
                "SELECT seq, part, xid, received_at FROM events WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, PRUNE_CHUNK),
            ).fetchall()
            if not chunk:
                return removed, (after if more else None)
            last = chunk[-1][0]
            old = conn.execute(  # old enough, and passed by every configured destination's cursor in its partition
                "SELECT e.seq FROM events e WHERE e.seq > %s AND e.seq <= %s AND e.received_at < %s AND NOT EXISTS ("
                "  SELECT 1 FROM unnest(%s::text[]) AS d(name)"
                " LEFT JOIN cursors c ON c.destination = d.name AND c.part = e.part"
                "  WHERE c.destination IS NULL OR (e.xid, e.seq) > (c.xid, c.seq))",
                (after, last, before, destinations),
            ).fetchall()
            seqs = [s for (s,) in old]
            if seqs:
                conn.execute(
                    "DELETE FROM deliveries WHERE event_seq = ANY(%s) AND (status IN ('delivered', 'filtered') "
                    "OR (status = 'dead' AND updated_at < %s) OR (destination <> ALL(%s) AND updated_at < %s))",
                    (seqs, dead_before, destinations, dead_before),
                )
                removed += conn.execute(
                    "DELETE FROM events e WHERE e.seq = ANY(%s) AND NOT EXISTS "
                    "(SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq)",
                    (seqs,),
                ).rowcount
            young = min(at for _, _, _, at in chunk) >= before  # nothing old left from here on
            more = more or (len(chunk) == PRUNE_CHUNK and not young)
            return removed, (last if more else None)

        return self.submit(prune)

    # -- privacy ---------------------------------------------------------------------------------------------

    def suppress(self, kind: SubjectKind, value: str, at: float) -> Future[bool]:
        def insert(conn: psycopg.Connection) -> bool:
            cur = conn.execute(
                "INSERT INTO suppressions (kind, value, created_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (kind, value, at),
            )
            return cur.rowcount > 0

        return self.submit(insert)

    def unsuppress(self, kind: SubjectKind, value: str) -> Future[bool]:
        def delete(conn: psycopg.Connection) -> bool:
            return conn.execute("DELETE FROM suppressions WHERE kind = %s AND value = %s", (kind, value)).rowcount > 0

        return self.submit(delete)

    def suppressions(self) -> list[Suppression]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT kind, value, created_at, dropped FROM suppressions ORDER BY created_at, kind, value"
            ).fetchall()
        return [Suppression(kind, value, at, dropped) for kind, value, at, dropped in rows]

    def count_suppressed(self, dropped: dict[tuple[SubjectKind, str], int]) -> Future[None]:
        kinds = [k for k, _ in dropped]
        values = [v for _, v in dropped]
        counts = list(dropped.values())

        def add(conn: psycopg.Connection) -> None:
            conn.execute(
                "UPDATE suppressions s SET dropped = s.dropped + t.n "
                "FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS t(kind, value, n) "
                "WHERE s.kind = t.kind AND s.value = t.value",
                (kinds, values, counts),
            )

        return self.submit(add)

    def purge(self, kind: SubjectKind, value: str, after: int = 0) -> Future[PurgeResult]:
        # PostgreSQL's JSON refuses the escape \u0000, which a stored event may hold anywhere: it is read as
        # \ufffd (same length, so an escaped backslash before it stays one).
        match = "seq > %s AND seq <= %s AND replace(convert_from(body, 'UTF8'), %s, %s)::json ->> %s = %s"

        def purge(conn: psycopg.Connection) -> PurgeResult:
            last, n = conn.execute(  # type: ignore[misc]
                "SELECT max(seq), count(*) FROM (SELECT seq FROM events WHERE seq > %s ORDER BY seq LIMIT %s) t",
                (after, PURGE_CHUNK),
            ).fetchone()
            if not n:
                return PurgeResult(0, 0, 0, None)
            seqs = [
                s
                for (s,) in conn.execute(
                    f"SELECT seq FROM events WHERE {match}", (after, last, "\\u0000", "\\ufffd", kind, value)
                )
            ]
            if not seqs:
                return PurgeResult(0, 0, 0, last if n == PURGE_CHUNK else None)
            dead = conn.execute(
                "SELECT count(*) FROM deliveries WHERE event_seq = ANY(%s) AND status = 'dead'", (seqs,)
            ).fetchone()[0]  # type: ignore[index]
            deliveries = conn.execute("DELETE FROM deliveries WHERE event_seq = ANY(%s)", (seqs,)).rowcount
            events = conn.execute("DELETE FROM events WHERE seq = ANY(%s)", (seqs,)).rowcount
            return PurgeResult(events, deliveries, dead, last if n == PURGE_CHUNK else None)

        return self.submit(purge)

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
            "%s",
            "convert_from(e.body, 'UTF8')",
            destination=destination,
            status=status,
            text=text,
            before=before,
            limit=limit,
            source=source,
        )
        with self._read() as conn:
            return log_sql.rows(conn.execute(sql, args).fetchall())

    def find_event(self, message_id: str, sources: list[str]) -> StoredEvent | None:
        if not sources:
            return None
        with self._read() as conn:
            row = conn.execute(log_sql.find_event("%s", sources), (*sources, message_id)).fetchone()
        if row is None:
            return None
        seq, source, received_at, body = row
        return StoredEvent(seq, source, received_at, orjson.loads(body), seq)

    def event_log(self, event_seq: int) -> list[LogRow]:
        with self._read() as conn:
            return log_sql.rows(conn.execute(log_sql.event_log("%s"), (event_seq,)).fetchall())

    # -- device mode -----------------------------------------------------------------------------------------

    def record_device_event(self, event: DeviceEvent) -> Future[None]:
        row = log_sql.device_row(event)

        def insert(conn: psycopg.Connection) -> None:
            conn.execute(log_sql.device_insert("%s"), row)

        return self.submit(insert)

    def device_events(self, limit: int, source: str | None = None) -> list[DeviceEvent]:
        sql, args = log_sql.device_select("%s", source, limit)
        with self._read() as conn:
            return log_sql.device_events(conn.execute(sql, args).fetchall())


def _reason(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
