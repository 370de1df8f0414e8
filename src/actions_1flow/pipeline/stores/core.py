"""What both stores do the same way, written once: the neutral SQL of every operation, the result folding, the
kept counts, the group commit. A backend (`sqlite.SQLiteStore`, `postgres.PostgresStore`) adds only what truly
differs: its connections, its SQL fragments (placeholders, positions, partitions), and its own operations
(appending, reading the log, cursors, leases, choosing what to prune or purge).

Neutral SQL is written with `?` placeholders; `_sql` turns it into the backend's.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, ClassVar, TypeVar

import orjson

from ..records import (
    ACTIVITY_RETENTION_S,
    PURGE_CHUNK,
    REPLAYABLE,
    REQUEUE_CHUNK,
    AppendResult,
    DeliveryRecord,
    DestinationCounts,
    DeviceEvent,
    DueDelivery,
    Lease,
    LogRow,
    PurgeResult,
    Replay,
    RequeueStep,
    Status,
    StoredEvent,
    StoreError,
    SubjectKind,
    Suppression,
    activity_buckets,
)
from . import log_sql
from .counts import KeptCounts, Outcome, minute_of
from .layout import Backend
from .writer import GroupWriter

T = TypeVar("T")

PRUNE_CHUNK = 5_000
"""Events examined per prune step; each step is one short transaction between ingest's commits."""

_CHUNK = 10_000
"""Ids per `IN` list at most (SQLite's limit on variables is 32,766)."""

UPSERT_SET = """
    status = excluded.status,
    attempts = excluded.attempts,
    first_attempt_at = coalesce(deliveries.first_attempt_at, excluded.first_attempt_at),
    next_attempt_at = excluded.next_attempt_at,
    updated_at = excluded.updated_at,
    error = excluded.error,
    hint = excluded.hint,
    exchange_id = coalesce(excluded.exchange_id, deliveries.exchange_id),
    reason = excluded.reason,
    replay_of = coalesce(excluded.replay_of, deliveries.replay_of),
    replay_config = coalesce(excluded.replay_config, deliveries.replay_config)
"""
"""How a recorded outcome replaces the row before it (both backends' upserts end with it)."""


class StoreCore:
    """The store's neutral half; see the module docstring for what a backend adds."""

    backend: ClassVar[Backend]
    PART: ClassVar[str]
    """The SQL of event `e`'s partition."""
    AT_OR_BEFORE: ClassVar[str]
    """The SQL condition that event `e` is at or before cursor `c`."""
    BODY_TEXT: ClassVar[str]
    """The SQL of event `e`'s body as text."""
    GREATEST: ClassVar[str]
    """The SQL function of the larger of two values."""

    partitions: int
    description: str
    damaged: str | None = None
    unavailable: str | None = None

    _writer: GroupWriter[Any]
    """The group commit the backend started with its write connection."""

    @classmethod
    def kept_counts(cls) -> KeptCounts:
        """The backend's kept counts (for writers other than the store itself: `migrate`)."""
        return KeptCounts(cls.backend, cls._sql, cls.PART, cls.AT_OR_BEFORE)

    @functools.cached_property
    def _counts(self) -> KeptCounts:
        return self.kept_counts()

    # -- what a backend provides ------------------------------------------------------------------------------

    @staticmethod
    def _sql(text: str) -> str:
        """Neutral SQL (`?` placeholders) as the backend's driver takes it."""
        raise NotImplementedError

    def _in(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """The SQL condition `column` is one of `values`, and its arguments."""
        raise NotImplementedError

    def _part(self, alias: str, partition: int) -> tuple[str, list[Any]]:
        """` AND <alias>.part = ?` and its argument where deliveries are partitioned, else nothing."""
        raise NotImplementedError

    def _reading(self) -> AbstractContextManager[Any]:
        """A connection to read with."""
        raise NotImplementedError

    def _snapshot(self) -> AbstractContextManager[Any]:
        """A connection to read with, every read in one snapshot."""
        raise NotImplementedError

    def _refusal(self) -> BaseException | None:
        """Why writes are refused now (a damaged file), if they are."""
        return None

    def _stored(self, seq: int, source: str, received_at: float, body: Any, position: Any) -> StoredEvent:
        """An event read back, `position` being what `POSITION` selected."""
        raise NotImplementedError

    POSITION: ClassVar[str]
    """The SQL of what `_stored` needs of event `e`'s position."""

    def _prepare_events(self, source: str, events: list[dict[str, Any]], received_at: float) -> Any:
        """`events` as `_insert_events` writes them (serialised in the caller's thread, not the writer's)."""
        raise NotImplementedError

    def _insert_events(self, conn: Any, rows: Any) -> dict[int, int]:
        """Append prepared events, dropping repeats of a stored messageId; returns partition → events stored."""
        raise NotImplementedError

    def _fence(self, conn: Any, destination: str, lease: Lease | None) -> None:
        """Raise `LeaseLost` when `lease` is no longer held (before anything is written)."""

    def _upsert_deliveries(self, conn: Any, partition: int, rows: list[tuple[Any, ...]]) -> None:
        """Upsert delivery rows `(event_seq, destination, subscription, status, attempts, first_attempt_at,
        next_attempt_at, updated_at, error, hint, exchange_id, reason, replays, replay_of, replay_config)`, all of
        one destination (`replays` counts only where a row is new: an existing row keeps its own)."""
        raise NotImplementedError

    def _create_cursors(self, conn: Any, destination: str) -> list[tuple[str, int]]:
        """Give a destination without cursors its cursors, at the end of the log; the events of each source they
        pass (none when it had cursors already)."""
        raise NotImplementedError

    def _cursor_of(self, conn: Any, destination: str, partition: int) -> int:
        raise NotImplementedError

    def _advance_cursor(self, conn: Any, destination: str, partition: int, position: int) -> list[tuple[str, int]]:
        """Move a cursor forward to `position` (never back); the events of each source it passed on the way."""
        raise NotImplementedError

    def _oldest_waiting(self, conn: Any, destination: str, sources: list[str]) -> float | None:
        """When the oldest event after the destination's cursors was received."""
        raise NotImplementedError

    def _prunable(
        self, conn: Any, before: float, destinations: list[str], after: int, kept: dict[str, float]
    ) -> tuple[list[int], int | None] | None:
        """Events after `after` received before `before` (`kept[source]` for those sources, each earlier than
        `before`) that every destination has passed (one chunk), and where the next chunk starts (None when no
        event after this chunk can be prunable yet); None when another process is cleaning up."""
        raise NotImplementedError

    def _subject(self, kind: SubjectKind, value: str) -> tuple[str, tuple[Any, ...]]:
        """The SQL condition (and its arguments) that an event's `kind` field is `value`."""
        raise NotImplementedError

    # -- writes -----------------------------------------------------------------------------------------------

    def submit(self, fn: Callable[[Any], T]) -> Future[T]:
        """Run `fn(write connection)` inside the next group transaction; the future resolves after the commit."""
        refused = self._refusal()
        if refused is not None:
            if self._writer.closed:
                raise StoreError("the store is closed")
            future: Future[T] = Future()
            future.set_exception(refused)
            return future
        return self._writer.submit(fn)

    def append(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        rows = self._prepare_events(source, events, received_at)

        def insert(conn: Any) -> AppendResult:
            stored = self._insert_events(conn, rows)
            accepted = sum(stored.values())
            if accepted:
                self._counts.received(conn, source, stored, received_at)
            return AppendResult(accepted=accepted, duplicates=len(events) - accepted)

        return self.submit(insert)

    def append_imported(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        """`append` for `import`: an event whose messageId this source ever imported (the `imported` keys, kept
        for good) or still holds is a duplicate."""
        keys = list(dict.fromkeys(str(e["messageId"]) for e in events))  # a file may repeat an event
        insert_key = self._sql("INSERT INTO imported (source, message_id) VALUES (?, ?)")

        def insert(conn: Any) -> AppendResult:
            seen: set[str] = set()
            for i in range(0, len(keys), _CHUNK):
                clause, args = self._in("message_id", keys[i : i + _CHUNK])
                found = conn.execute(
                    self._sql(f"SELECT message_id FROM imported WHERE source = ? AND {clause}"), (source, *args)
                )
                seen.update(m for (m,) in found)
            new = [k for k in keys if k not in seen]
            if not new:
                return AppendResult(accepted=0, duplicates=len(events))
            cur = conn.cursor()
            cur.executemany(insert_key, [(source, k) for k in new])
            cur.close()
            fresh, taken = [], set(seen)
            for e in events:
                key = str(e["messageId"])
                if key not in taken:
                    taken.add(key)
                    fresh.append(e)
            stored = self._insert_events(conn, self._prepare_events(source, fresh, received_at))
            accepted = sum(stored.values())
            if accepted:
                self._counts.received(conn, source, stored, received_at)
            return AppendResult(accepted=accepted, duplicates=len(events) - accepted)

        return self.submit(insert)

    def ensure_cursor(self, destination: str, partition: int = 0) -> Future[int]:
        def ensure(conn: Any) -> int:
            self._counts.passed(conn, destination, self._create_cursors(conn, destination))
            return self._cursor_of(conn, destination, partition)

        return self.submit(ensure)

    def record(
        self,
        destination: str,
        records: list[DeliveryRecord],
        cursor: int | None = None,
        partition: int = 0,
        lease: Lease | None = None,
        replaced: list[int] | None = None,
    ) -> Future[None]:
        now = time.time()
        exchanges: dict[tuple[str | None, str | None], int | None] = {}
        for r in records:
            if r.request is not None or r.response is not None:
                exchanges[(r.request, r.response)] = None
        insert_exchange = self._sql("INSERT INTO exchanges (at, request, response) VALUES (?, ?, ?) RETURNING id")

        def write(conn: Any) -> None:
            self._fence(conn, destination, lease)
            for key in exchanges:  # one row per distinct request/answer (a batch's deliveries share it)
                exchanges[key] = conn.execute(insert_exchange, (now, *key)).fetchone()[0]
            if records:
                self._counts.outcomes(conn, destination, self._outcomes(conn, destination, records), records, now)
                rows = [
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
                        None if r.reason is None else r.reason.value,
                        0 if r.replay is None else 1,
                        None if r.replay is None else r.replay.of,
                        None if r.replay is None else r.replay.config,
                    )
                    for r in records
                ]
                self._upsert_deliveries(conn, partition, rows)
            if replaced:  # replayed single rows of events that subscriptions' rows stand for now
                self._forget_deliveries(conn, replaced, "destination = ? AND subscription = ''", (destination,))
            if cursor is not None:
                self._counts.passed(conn, destination, self._advance_cursor(conn, destination, partition, cursor))

        return self.submit(write)

    def _outcomes(self, conn: Any, destination: str, records: list[DeliveryRecord]) -> dict[tuple[int, str], Outcome]:
        """The outcomes recorded so far for these records' events (what the counts move away from)."""
        seqs = sorted({r.event_seq for r in records})
        old: dict[tuple[int, str], Outcome] = {}
        for i in range(0, len(seqs), _CHUNK):
            clause, args = self._in("event_seq", seqs[i : i + _CHUNK])
            for seq, sub, status, reason in conn.execute(
                self._sql(
                    f"SELECT event_seq, subscription, status, reason FROM deliveries WHERE {clause} AND destination = ?"
                ),
                (*args, destination),
            ):
                old[(seq, sub)] = (status, reason or "")
        return old

    def requeue(
        self,
        since: float,
        until: float,
        destination: str | None,
        now: float,
        *,
        statuses: tuple[Status, ...] = ("dead",),
        config: str | None = None,
        again: bool = False,
        after: int = 0,
        dry_run: bool = False,
        event: int | None = None,
    ) -> Future[RequeueStep]:
        """One step of a replay: the deliveries in `statuses` of events received in [since, until), among the
        `REQUEUE_CHUNK` events after id `after`, back to `retrying`, due now, each marked as a replay of what it
        was (`replay_of`) with `config`. Rows last updated at or after `now` (replayed, or failed again, since the
        replay began) are left alone, and so are delivered and filtered rows already replayed with `config` (the
        same configuration would send the same again), unless `again`. `dry_run` only counts, the whole range in
        one step."""
        if not statuses or not set(statuses) <= set(REPLAYABLE):
            raise ValueError(f"statuses must be some of {', '.join(REPLAYABLE)}, not {statuses!r}")
        marks = ", ".join("?" * len(statuses))
        where = f"d.status IN ({marks}) AND d.updated_at < ? AND e.received_at >= ? AND e.received_at < ?"
        args: tuple[Any, ...] = (*statuses, now, since, until)
        if config is not None and not again:
            where += " AND (d.status = 'dead' OR d.replay_config IS NULL OR d.replay_config <> ?)"
            args += (config,)
        if destination is not None:
            where += " AND d.destination = ?"
            args += (destination,)
        if event is not None:
            where += " AND d.event_seq = ?"
            args += (event,)
        rows = "deliveries d JOIN events e ON e.seq = d.event_seq"
        count = self._sql(f"SELECT count(*) FROM {rows} WHERE {where}")
        chunk = self._sql(
            "SELECT max(seq), count(*) FROM (SELECT seq FROM events WHERE seq > ? ORDER BY seq LIMIT ?) chunk"
        )
        update = self._sql(
            "UPDATE deliveries SET status = 'retrying', attempts = 0, first_attempt_at = NULL, next_attempt_at = ?, "
            f"updated_at = {self.GREATEST}(?, updated_at), replays = replays + 1, reason = NULL, "
            "replay_of = status || coalesce(':' || reason, ''), replay_config = ? "
            f"WHERE id IN (SELECT d.id FROM {rows} WHERE {where} AND d.event_seq > ? AND d.event_seq <= ?) "
            "RETURNING destination, replay_of"
        )

        def requeue(conn: Any) -> RequeueStep:
            if dry_run:
                return RequeueStep(int(conn.execute(count, args).fetchone()[0]), None)
            if event is not None:
                last, n = event, 0
            else:
                last, n = conn.execute(chunk, (after, REQUEUE_CHUNK)).fetchone()
                if not n:
                    return RequeueStep(0, None)
            at = time.time()
            moved = conn.execute(update, (now, at, config, *args, after, last)).fetchall()
            self._counts.requeued(conn, moved, at)
            return RequeueStep(len(moved), last if n == REQUEUE_CHUNK else None)

        return self.submit(requeue)

    def replaying(self, destination: str, config: str) -> int:
        sql = self._sql(
            "SELECT count(*) FROM deliveries WHERE destination = ? AND status = 'retrying' AND replay_config = ?"
        )
        with self._reading() as conn:
            return int(conn.execute(sql, (destination, config)).fetchone()[0])

    def prune(
        self,
        before: float,
        dead_before: float,
        destinations: list[str],
        after: int = 0,
        kept: dict[str, float] | None = None,
    ) -> Future[tuple[int, int | None]]:
        """One chunk of clean-up, from event id `after` on.

        Events go once they are older than `before` (the dedup window: until then their messageId keeps being
        deduplicated; `kept[source]` for a source with a longer window) and every destination's cursor has passed
        them; their delivered and filtered rows go with them. Deliveries still retrying are kept, and dead-lettered
        ones until `dead_before` (so they can be inspected and replayed), and with them their events; rows of
        destinations not in `destinations` (removed from the configuration) go after `dead_before` whatever their
        status. Exchanges older than both horizons go too, and device-mode reports older than `dead_before`;
        per-minute counts past the console's longest range.
        """

        def prune(conn: Any) -> tuple[int, int | None]:
            chunk = self._prunable(conn, before, destinations, after, kept or {})
            if chunk is None:
                return 0, None  # another worker is cleaning up right now
            seqs, nxt = chunk
            removed = conn.execute(
                self._sql(
                    "DELETE FROM exchanges WHERE id IN (SELECT id FROM exchanges WHERE at < ? ORDER BY id LIMIT ?)"
                ),
                (min(before, dead_before), PRUNE_CHUNK),
            ).rowcount
            removed += conn.execute(  # device-mode reports are a log too: kept as long as dead letters
                self._sql(
                    "DELETE FROM device_events WHERE id IN "
                    "(SELECT id FROM device_events WHERE received_at < ? ORDER BY id LIMIT ?)"
                ),
                (dead_before, PRUNE_CHUNK),
            ).rowcount
            if after == 0:  # once per clean-up: per-minute counts beyond the console's longest range
                horizon = minute_of(time.time() - ACTIVITY_RETENTION_S)
                for table in ("delivery_minutes", "received_minutes"):
                    conn.execute(self._sql(f"DELETE FROM {table} WHERE minute < ?"), (horizon,))
            if seqs:  # settled rows, dead letters past the retention, rows of destinations no longer configured
                configured, names = self._in("destination", destinations)
                forgotten = (
                    "(status IN ('delivered', 'filtered') OR (status = 'dead' AND updated_at < ?) "
                    f"OR (NOT ({configured}) AND updated_at < ?))"
                )
                self._forget_deliveries(conn, seqs, forgotten, (dead_before, *names, dead_before))
                removed += self._forget_events(conn, seqs)
            if nxt is None and removed >= PRUNE_CHUNK:
                nxt = after  # more exchanges or reports than one step takes
            return removed, nxt

        return self.submit(prune)

    def _forget_deliveries(
        self, conn: Any, seqs: list[int], condition: str = "", args: tuple[Any, ...] = ()
    ) -> list[str]:
        """Delete the delivery rows of these events (those meeting `condition`, when given); their statuses."""
        clause, seq_args = self._in("event_seq", seqs)
        where = f"{clause} AND {condition}" if condition else clause
        rows = conn.execute(
            self._sql(f"DELETE FROM deliveries WHERE {where} RETURNING destination, status, reason"), (*seq_args, *args)
        ).fetchall()
        self._counts.forgotten_deliveries(conn, rows)
        return [status for _, status, _ in rows]

    def _forget_events(self, conn: Any, seqs: list[int]) -> int:
        """Delete these events, but those some delivery row still refers to; how many went."""
        clause, args = self._in("e.seq", seqs)
        gone = [
            seq
            for (seq,) in conn.execute(
                self._sql(
                    f"SELECT e.seq FROM events e WHERE {clause} AND NOT EXISTS "
                    "(SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq)"
                ),
                args,
            )
        ]
        if not gone:
            return 0
        self._counts.forgotten_events(conn, gone, self._in)
        clause, args = self._in("seq", gone)
        return int(conn.execute(self._sql(f"DELETE FROM events WHERE {clause}"), args).rowcount)

    # -- privacy ----------------------------------------------------------------------------------------------

    def suppress(self, kind: SubjectKind, value: str, at: float) -> Future[bool]:
        sql = self._sql("INSERT INTO suppressions (kind, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
        return self.submit(lambda conn: conn.execute(sql, (kind, value, at)).rowcount > 0)

    def unsuppress(self, kind: SubjectKind, value: str) -> Future[bool]:
        sql = self._sql("DELETE FROM suppressions WHERE kind = ? AND value = ?")
        return self.submit(lambda conn: conn.execute(sql, (kind, value)).rowcount > 0)

    # -- console sessions logged out ------------------------------------------------------------------------------

    def revoke_session(self, sid: str, expires_at: float, now: float) -> Future[None]:
        prune = self._sql("DELETE FROM revoked_sessions WHERE expires_at <= ?")
        insert = self._sql("INSERT INTO revoked_sessions (sid, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING")

        def write(conn: Any) -> None:
            conn.execute(prune, (now,))
            conn.execute(insert, (sid, expires_at))

        return self.submit(write)

    def revoked_sessions(self, now: float) -> dict[str, float]:
        with self._reading() as conn:
            sql = self._sql("SELECT sid, expires_at FROM revoked_sessions WHERE expires_at > ?")
            return {sid: expires_at for sid, expires_at in conn.execute(sql, (now,)).fetchall()}

    def suppressions(self) -> list[Suppression]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT kind, value, created_at, dropped FROM suppressions ORDER BY created_at, kind, value"
            ).fetchall()
        return [Suppression(kind, value, at, dropped) for kind, value, at, dropped in rows]

    def count_suppressed(self, dropped: dict[tuple[SubjectKind, str], int]) -> Future[None]:
        rows = [(n, kind, value) for (kind, value), n in dropped.items()]
        sql = self._sql("UPDATE suppressions SET dropped = dropped + ? WHERE kind = ? AND value = ?")

        def add(conn: Any) -> None:
            cur = conn.cursor()
            cur.executemany(sql, rows)
            cur.close()

        return self.submit(add)

    def purge(self, kind: SubjectKind, value: str, after: int = 0) -> Future[PurgeResult]:
        match, match_args = self._subject(kind, value)
        chunk = self._sql(
            "SELECT max(seq), count(*) FROM (SELECT seq FROM events WHERE seq > ? ORDER BY seq LIMIT ?) chunk"
        )
        matching = self._sql(f"SELECT seq FROM events WHERE seq > ? AND seq <= ? AND {match}")

        def purge(conn: Any) -> PurgeResult:
            last, n = conn.execute(chunk, (after, PURGE_CHUNK)).fetchone()
            if not n:
                return PurgeResult(0, 0, 0, None)
            nxt = last if n == PURGE_CHUNK else None
            seqs = [seq for (seq,) in conn.execute(matching, (after, last, *match_args))]
            if not seqs:
                return PurgeResult(0, 0, 0, nxt)
            statuses = self._forget_deliveries(conn, seqs)
            return PurgeResult(self._forget_events(conn, seqs), len(statuses), statuses.count("dead"), nxt)

        return self.submit(purge)

    # -- device mode ------------------------------------------------------------------------------------------

    def record_device_event(self, event: DeviceEvent) -> Future[None]:
        row = log_sql.device_row(event)
        sql = self._sql(log_sql.DEVICE_INSERT)

        def insert(conn: Any) -> None:
            conn.execute(sql, row)

        return self.submit(insert)

    def device_events(self, limit: int, source: str | None = None) -> list[DeviceEvent]:
        sql, args = log_sql.device_select(source, limit)
        with self._reading() as conn:
            return log_sql.device_events(conn.execute(self._sql(sql), args).fetchall())

    # -- reads ------------------------------------------------------------------------------------------------

    def last_seq(self) -> int:
        """The newest event id (0 when empty)."""
        with self._reading() as conn:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def due(self, destination: str, now: float, limit: int, partition: int = 0) -> list[DueDelivery]:
        part, part_args = self._part("d", partition)
        sql = self._sql(
            f"SELECT e.seq, e.source, e.received_at, e.body, {self.POSITION}, d.subscription, d.attempts, "
            "d.first_attempt_at, d.replay_of, d.replay_config FROM deliveries d JOIN events e ON e.seq = d.event_seq "
            f"WHERE d.destination = ?{part} AND d.status = 'retrying' AND d.next_attempt_at <= ? "
            "ORDER BY d.next_attempt_at LIMIT ?"
        )
        with self._reading() as conn:
            rows = conn.execute(sql, (destination, *part_args, now, limit)).fetchall()
        return [
            DueDelivery(
                self._stored(seq, src, at, body, pos), sub, attempts, first, None if of is None else Replay(of, config)
            )
            for seq, src, at, body, pos, sub, attempts, first, of, config in rows
        ]

    def next_due_at(self, destination: str, partition: int = 0) -> float | None:
        part, part_args = self._part("d", partition)
        sql = self._sql(
            f"SELECT min(d.next_attempt_at) FROM deliveries d WHERE d.destination = ?{part} AND d.status = 'retrying'"
        )
        with self._reading() as conn:
            row = conn.execute(sql, (destination, *part_args)).fetchone()
        return None if row is None else row[0]

    def cursor(self, destination: str, partition: int = 0) -> int:
        with self._reading() as conn:
            return self._cursor_of(conn, destination, partition)

    def counts(self, destinations: dict[str, list[str]]) -> list[DestinationCounts]:
        """From the kept totals (a few rows per destination and source), read in one snapshot, not from the rows:
        events not yet passed are those received less those at or before the cursors. Only the retrying rows are
        read (for the oldest pending), through their index."""
        out = []
        with self._snapshot() as conn:
            totals = self._counts.read(conn)
            for dest, sources in destinations.items():
                counts = DestinationCounts(
                    dest, by_status=totals.by_status.get(dest, {}), filtered_by=totals.filtered_by.get(dest, {})
                )
                counts.received = sum(totals.received.get(s, 0) for s in sources)
                if sources:
                    waiting = counts.received - sum(totals.passed.get(dest, {}).get(s, 0) for s in sources)
                    retrying = counts.by_status.get("retrying", 0)
                    counts.pending = waiting + retrying
                    candidates = [self._oldest_waiting(conn, dest, sources)] if waiting else []
                    if retrying:
                        candidates.append(
                            conn.execute(
                                self._sql(
                                    "SELECT min(e.received_at) FROM deliveries d JOIN events e ON e.seq = d.event_seq "
                                    "WHERE d.destination = ? AND d.status = 'retrying'"
                                ),
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
        with self._reading() as conn:
            rows = self._counts.minutes(conn, destinations, start, step_s, self._in)
            received = None
            if sources is not None:
                per_source = self._counts.received_minutes(conn, destinations, sources, start, step_s, self._in)
                received = {d: [x for s in sources.get(d, []) for x in per_source.get(s, [])] for d in destinations}
        return activity_buckets(destinations, since, step_s, now, rows, received)

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
            self.BODY_TEXT,
            destination=destination,
            status=status,
            text=text,
            before=before,
            limit=limit,
            source=source,
        )
        with self._reading() as conn:
            return log_sql.rows(conn.execute(self._sql(sql), args).fetchall())

    def find_event(self, message_id: str, sources: list[str]) -> StoredEvent | None:
        if not sources:
            return None
        clause, args = self._in("source", sources)
        with self._reading() as conn:
            row = conn.execute(
                self._sql(
                    f"SELECT seq, source, received_at, body FROM events WHERE {clause} AND message_id = ? "
                    "ORDER BY seq DESC LIMIT 1"
                ),
                (*args, message_id),
            ).fetchone()
        if row is None:
            return None
        seq, source, received_at, body = row
        return StoredEvent(seq, source, received_at, orjson.loads(body), seq)

    def event_log(self, event_seq: int) -> list[LogRow]:
        with self._reading() as conn:
            return log_sql.rows(conn.execute(self._sql(log_sql.EVENT_LOG), (event_seq,)).fetchall())
