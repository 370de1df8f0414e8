"""The shared store: PostgreSQL, for any number of `serve` and `worker` processes on any number of machines.

Writes are group-committed as in the SQLite store (`writer`, `synchronous_commit` on), so one WAL flush acknowledges
many requests. Reads, heartbeats and operator queries use a small connection pool. What both stores share is
`core`'s; this module keeps what is PostgreSQL's own: positions, partitions and leases.

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

import collections
import functools
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
import psycopg_pool

from ...secrets import redact_url, scrub_url_secrets
from ..records import (
    Lease,
    LeaseLost,
    LeaseState,
    StoredEvent,
    StoreError,
    StoreUnavailable,
    SubjectKind,
    partition_of,
)
from .core import PRUNE_CHUNK, UPSERT_SET, StoreCore
from .layout import POSTGRES
from .postgres_schema import SCHEMA, prepare
from .writer import GroupWriter

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 16
"""Partitions of each destination's log in a new store: enough for 16 workers to share one destination."""

CONNECT_TIMEOUT_S = 5
"""How long a connection attempt waits (a database that is down refuses at once; an unreachable host does not)."""

POOL_SIZE = 8
POOL_TIMEOUT_S = 2.0
"""How long a read waits for a pooled connection before it reports the store unavailable (while the database is
down, every read waits this long: `/ready` answers within it)."""

PRUNE_LOCK = 0x1F10_0002
"""The advisory lock a worker holds while it cleans up (every worker prunes; one at a time)."""

_SHIFT = 64
_LOW = (1 << _SHIFT) - 1

_UPSERT_DELIVERY = f"""
INSERT INTO deliveries (event_seq, destination, part, subscription, status, attempts, first_attempt_at,
                        next_attempt_at, updated_at, error, hint, exchange_id, reason, replays, replay_of,
                        replay_config)
SELECT s, %s, %s, sub, st, a, f, n, u, e, h, x, r, rp, ro, rc
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::float8[], %s::float8[], %s::float8[], %s::text[],
            %s::text[], %s::bigint[], %s::text[], %s::int[], %s::text[], %s::text[])
     AS t(s, sub, st, a, f, n, u, e, h, x, r, rp, ro, rc)
ON CONFLICT (event_seq, destination, subscription) DO UPDATE SET {UPSERT_SET}
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


@functools.lru_cache(maxsize=512)
def _translate(text: str) -> str:
    """Neutral SQL in psycopg's placeholders: `?` → `%s`, a literal `%` → `%%`."""
    return text.replace("%", "%%").replace("?", "%s")


def _configure(conn: psycopg.Connection) -> None:
    conn.execute(f"SET search_path TO {SCHEMA}")
    conn.execute("SET synchronous_commit TO on")  # a 200 only after the commit is flushed, whatever the server default
    conn.commit()


def _reason(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class _Writes:
    """The writer's driver: a connection of its own, made again once the database is back."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.store.url, connect_timeout=CONNECT_TIMEOUT_S)
        _configure(conn)
        return conn

    def begin(self, conn: psycopg.Connection) -> None:
        pass  # psycopg opens the transaction at the first statement

    def commit(self, conn: psycopg.Connection) -> None:
        conn.commit()
        self.store.unavailable = None

    def rollback(self, conn: psycopg.Connection) -> None:
        conn.rollback()

    def failure(self, exc: BaseException, conn: psycopg.Connection | None) -> tuple[BaseException, bool]:
        if isinstance(exc, psycopg.OperationalError):  # the connection (or the database) is gone
            if conn is not None:
                conn.close()
            return self.store._lost(exc), True
        if isinstance(exc, psycopg.Error):
            return StoreError(self.store._why(exc)), False
        return exc, False


class PostgresStore(StoreCore):
    """`Store` on a PostgreSQL database (`storage: postgresql://…`). One instance per process; any number of
    processes may share the database."""

    backend = POSTGRES
    PART = "e.part"
    AT_OR_BEFORE = "c.part = e.part AND (e.xid, e.seq) <= (c.xid, c.seq)"
    BODY_TEXT = "convert_from(e.body, 'UTF8')"
    GREATEST = "greatest"
    POSITION = "e.xid::text"

    def __init__(self, url: str, partitions: int = DEFAULT_PARTITIONS) -> None:
        """Connect, create or check the layout; StoreError (saying what to do) when the database cannot be used."""
        self.url = url
        self.description = redact_url(url)
        self.damaged: str | None = None
        self.unavailable: str | None = None
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
                self.partitions = prepare(conn, self.description, partitions, self._counts)
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
        self._writer = GroupWriter(_Writes(self), "postgres-writer")

    # -- connections -----------------------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; StoreUnavailable when the database cannot be reached."""
        if self._writer.closed:
            raise StoreError("the store is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._lost(exc) from None
        else:
            self.unavailable = None

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection]:
        with self._reading() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn

    def _why(self, exc: BaseException) -> str:
        """The driver's reason for a failure, without the URL's secrets (libpq may quote what it could not parse)."""
        return scrub_url_secrets(_reason(exc), self.url)

    def _lost(self, exc: BaseException) -> StoreUnavailable:
        reason = f"the event store {self.description} cannot be reached: {self._why(exc)}"
        if self.unavailable is None:
            log.error("%s — answering 503 until it is back", reason)
        self.unavailable = reason
        return StoreUnavailable(reason)

    def close(self) -> None:
        """Commit what is queued, then stop the writer and the pool."""
        if self._writer.closed:
            return
        self._writer.close()
        conn = self._writer.connection
        if conn is not None:
            conn.close()
        self._pool.close()

    # -- SQL -------------------------------------------------------------------------------------------------

    @staticmethod
    def _sql(text: str) -> str:
        return _translate(text)

    def _in(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def _part(self, alias: str, partition: int) -> tuple[str, list[Any]]:
        return f" AND {alias}.part = ?", [partition]

    def _stored(self, seq: int, source: str, received_at: float, body: Any, position: Any) -> StoredEvent:
        return StoredEvent(seq, source, received_at, orjson.loads(body), to_position(position, seq))

    # -- the log and the cursors -----------------------------------------------------------------------------

    def _prepare_events(self, source: str, events: list[dict[str, Any]], received_at: float) -> Any:
        parts = [partition_of(e, self.partitions) for e in events]
        return (source, received_at, parts, [str(e["messageId"]) for e in events], [orjson.dumps(e) for e in events])

    def _insert_events(self, conn: psycopg.Connection, rows: Any) -> dict[int, int]:
        stored = conn.execute(
            "INSERT INTO events (part, source, message_id, received_at, body) "
            "SELECT p, %s, m, %s, b FROM unnest(%s::smallint[], %s::text[], %s::bytea[]) AS t(p, m, b) "
            "ON CONFLICT (source, message_id) DO NOTHING RETURNING part",
            rows,
        ).fetchall()
        return collections.Counter(part for (part,) in stored)

    def read_after(self, position: int, sources: list[str], limit: int, partition: int = 0) -> list[StoredEvent]:
        xid, seq = split_position(position)
        with self._reading() as conn:
            rows = conn.execute(READ_AFTER_SQL, (partition, xid, seq, sources, limit)).fetchall()
        return [StoredEvent(s, src, at, orjson.loads(body), to_position(x, s)) for s, src, at, body, x in rows]

    def _fence(self, conn: psycopg.Connection, destination: str, lease: Lease | None) -> None:
        if lease is not None:
            if conn.execute(LEASE_FENCE_SQL, (lease.destination, lease.partition, lease.epoch)).fetchone() is None:
                raise LeaseLost(f"partition {lease.partition} of {destination} is no longer leased to this worker")

    def _upsert_deliveries(self, conn: psycopg.Connection, partition: int, rows: list[tuple[Any, ...]]) -> None:
        seqs, destinations, *rest = (list(column) for column in zip(*rows))
        conn.execute(_UPSERT_DELIVERY, (destinations[0], partition, seqs, *rest))

    def _create_cursors(self, conn: psycopg.Connection, destination: str) -> list[tuple[str, int]]:
        created = conn.execute(  # all partitions at once, at the end of the log as every running transaction sees it
            "INSERT INTO cursors (destination, part, xid, seq) "
            "SELECT %s, g, pg_snapshot_xmin(pg_current_snapshot()), 0 FROM generate_series(0, %s - 1) g "
            "WHERE NOT EXISTS (SELECT 1 FROM cursors WHERE destination = %s) ON CONFLICT DO NOTHING",
            (destination, self.partitions, destination),
        ).rowcount
        if not created:
            return []
        return conn.execute(  # in one statement (one snapshot): all received, less those after the new cursors
            "SELECT source, sum(n)::bigint FROM (SELECT source, n FROM received_totals UNION ALL "
            "SELECT e.source, -1 FROM cursors c JOIN events e ON e.part = c.part AND (e.xid, e.seq) > (c.xid, c.seq) "
            "WHERE c.destination = %s) t GROUP BY source",
            (destination,),
        ).fetchall()

    def _cursor_of(self, conn: psycopg.Connection, destination: str, partition: int) -> int:
        row = conn.execute(
            "SELECT xid::text, seq FROM cursors WHERE destination = %s AND part = %s", (destination, partition)
        ).fetchone()
        return 0 if row is None else to_position(row[0], row[1])

    def _advance_cursor(
        self, conn: psycopg.Connection, destination: str, partition: int, position: int
    ) -> list[tuple[str, int]]:
        row = conn.execute(
            "SELECT xid::text, seq FROM cursors WHERE destination = %s AND part = %s FOR UPDATE",
            (destination, partition),
        ).fetchone()
        old = 0 if row is None else to_position(row[0], row[1])
        if position <= old:
            return []
        xid, seq = split_position(position)
        conn.execute(
            "INSERT INTO cursors (destination, part, xid, seq) VALUES (%s, %s, %s::xid8, %s) "
            "ON CONFLICT (destination, part) DO UPDATE SET xid = excluded.xid, seq = excluded.seq",
            (destination, partition, xid, seq),
        )
        old_xid, old_seq = split_position(old)
        return conn.execute(
            "SELECT source, count(*) FROM events WHERE part = %s AND (xid, seq) > (%s::xid8, %s) "
            "AND (xid, seq) <= (%s::xid8, %s) GROUP BY source",
            (partition, old_xid, old_seq, xid, seq),
        ).fetchall()

    def _oldest_waiting(self, conn: psycopg.Connection, destination: str, sources: list[str]) -> float | None:
        """The earliest, in log order, of each partition's first event after its cursor (by index), and of a
        partition without a cursor, its first event."""
        after = conn.execute(
            "SELECT min(x.received_at) FROM cursors c CROSS JOIN LATERAL (SELECT e.received_at "
            "FROM events e WHERE e.part = c.part AND (e.xid, e.seq) > (c.xid, c.seq) "
            "AND e.source = ANY(%s) ORDER BY e.xid, e.seq LIMIT 1) x WHERE c.destination = %s",
            (sources, destination),
        ).fetchone()
        uncursored = conn.execute(
            "SELECT min(x.received_at) FROM generate_series(0, %s - 1) g CROSS JOIN LATERAL ("
            "SELECT e.received_at FROM events e WHERE e.part = g AND e.source = ANY(%s) "
            "ORDER BY e.xid, e.seq LIMIT 1) x "
            "WHERE NOT EXISTS (SELECT 1 FROM cursors c WHERE c.destination = %s AND c.part = g)",
            (self.partitions, sources, destination),
        ).fetchone()
        present = [row[0] for row in (after, uncursored) if row is not None and row[0] is not None]
        return min(present) if present else None

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

        with self._reading() as conn, conn.transaction():
            live, share, held = beat(conn)
        leases = [Lease(d, p, e) for d, p, e in sorted(held)]
        others = f"{live - 1} other worker(s)" if live > 1 else None
        return LeaseState(leases[:share], surplus=leases[share:], others=others)

    def release(self, worker: str, leases: list[Lease]) -> None:
        if not leases:
            return
        with self._reading() as conn:
            conn.execute(
                "UPDATE leases SET owner = NULL, expires_at = '-infinity' FROM unnest(%s::text[], %s::smallint[], "
                "%s::bigint[]) AS r(d, p, e) WHERE owner = %s AND destination = r.d AND part = r.p AND epoch = r.e",
                ([x.destination for x in leases], [x.partition for x in leases], [x.epoch for x in leases], worker),
            )

    def leases(self) -> list[tuple[str, int, str | None, int, bool]]:
        """Every lease row: (destination, partition, holder, epoch, live) — for `status` and the tests."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT destination, part, owner, epoch, expires_at > now() FROM leases ORDER BY 1, 2"
            ).fetchall()
        return [(d, p, o, e, live) for d, p, o, e, live in rows]

    # -- what a clean-up or an erasure takes -----------------------------------------------------------------

    def _prunable(
        self, conn: psycopg.Connection, before: float, destinations: list[str], after: int, kept: dict[str, float]
    ) -> tuple[list[int], int | None] | None:
        """Receipt times follow ids closely but not exactly (several servers write), so each event of the chunk
        is judged on its own: old enough, and passed by every configured destination's cursor in its partition.
        None while another worker is cleaning up."""
        if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (PRUNE_LOCK,)).fetchone()[0]:  # type: ignore[index]
            return None
        chunk = conn.execute(
            "SELECT seq, received_at FROM events WHERE seq > %s ORDER BY seq LIMIT %s", (after, PRUNE_CHUNK)
        ).fetchall()
        if not chunk:
            return [], None
        last = chunk[-1][0]
        old = conn.execute(
            "SELECT e.seq FROM events e WHERE e.seq > %s AND e.seq <= %s AND e.received_at < coalesce("
            "  (SELECT k.before FROM unnest(%s::text[], %s::float8[]) AS k(source, before) WHERE k.source = e.source),"
            "  %s) AND NOT EXISTS ("
            "  SELECT 1 FROM unnest(%s::text[]) AS d(name)"
            " LEFT JOIN cursors c ON c.destination = d.name AND c.part = e.part"
            "  WHERE c.destination IS NULL OR (e.xid, e.seq) > (c.xid, c.seq))",
            (after, last, list(kept), list(kept.values()), before, destinations),
        ).fetchall()
        young = min(at for _, at in chunk) >= before  # nothing old left from here on
        return [s for (s,) in old], (last if len(chunk) == PRUNE_CHUNK and not young else None)

    def _subject(self, kind: SubjectKind, value: str) -> tuple[str, tuple[Any, ...]]:
        # PostgreSQL's JSON refuses the escape \u0000, which a stored event may hold anywhere: it is read as
        # \ufffd (same length, so an escaped backslash before it stays one).
        return "replace(convert_from(body, 'UTF8'), ?, ?)::json ->> ? = ?", ("\\u0000", "\\ufffd", kind, value)
