"""Counts kept as rows are written, so `counts()` and `activity()` read a few rows instead of the log.

Kept one way on both backends: the store's own writes add to them, in the writing transaction, a few grouped
upserts per operation (SQLite's row triggers halved ingest; PostgreSQL's statement triggers are gone with them):
events received per source (and partition), events at or before each destination's cursors per source,
deliveries per destination, status and filter reason, and per minute the deliveries entering each status and the
events received. On PostgreSQL each writing connection adds to its own `slot` of a count (its backend pid mod 64)
and readers sum the slots, so servers and workers writing at once neither queue on nor deadlock over the same rows.

A hand edit of the tables is not counted: `rebuild_totals` recounts the totals from the rows (the per-minute
history cannot be recounted; the minutes a store had before it kept them start from its rows' last outcomes).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..records import DeliveryRecord
from .layout import (
    COUNTS,
    DELIVERY_MINUTES,
    DELIVERY_TOTALS,
    PASSED_TOTALS,
    POSTGRES,
    RECEIVED_MINUTES,
    RECEIVED_TOTALS,
    Backend,
    Table,
)

InList = Callable[[str, list[Any]], tuple[str, list[Any]]]
"""The backend's SQL condition that a column is one of some values (`StoreCore._in`)."""

Outcome = tuple[str, str]
"""A delivery's (status, filter reason or '') as the totals count it."""


def minute_of(moment: float) -> int:
    return int(moment) // 60 * 60


@dataclass
class Totals:
    """The kept totals, read in one snapshot."""

    received: dict[str, int] = field(default_factory=dict)
    """Per source."""
    passed: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per destination, per source: events at or before its cursors."""
    by_status: dict[str, dict[str, int]] = field(default_factory=dict)
    filtered_by: dict[str, dict[str, int]] = field(default_factory=dict)


class KeptCounts:
    """The kept counts of one backend. `sql` turns the neutral SQL (`?` placeholders) into the backend's;
    `part` is the SQL of an event's partition (alias `e`); `at_or_before` the condition that event `e` is at or
    before cursor `c`."""

    def __init__(self, backend: Backend, sql: Callable[[str], str], part: str, at_or_before: str) -> None:
        self.backend = backend
        self.sql = sql
        self.part = part
        self.at_or_before = at_or_before
        slotted = backend == POSTGRES
        self._slot = (", slot", ", counted_slot()", ", 0") if slotted else ("", "", "")
        self._adds = {t.name: self._add_sql(t) for t in COUNTS}

    def _keys(self, table: Table) -> list[str]:
        return [c for c in table.names(self.backend) if c not in ("slot", "n")]

    def _add_sql(self, table: Table) -> str:
        keys = ", ".join(self._keys(table))
        marks = ", ".join("?" * len(self._keys(table)))
        column, value, _ = self._slot
        return self.sql(
            f"INSERT INTO {table.name} ({keys}{column}, n) VALUES ({marks}{value}, ?) "
            f"ON CONFLICT ({keys}{column}) DO UPDATE SET n = {table.name}.n + excluded.n"
        )

    def add(self, conn: Any, table: Table, rows: Iterable[tuple[Any, ...]]) -> None:
        """Add counts: rows of the table's keys (this backend's, without the slot), then n."""
        rows = sorted(r for r in rows if r[-1])  # in key order: concurrent writers lock rows in the same order
        if rows:
            cur = conn.cursor()
            cur.executemany(self._adds[table.name], rows)
            cur.close()

    def _by_source(self, per_part: dict[tuple[str, int], int]) -> list[tuple[Any, ...]]:
        """Rows of `received_totals`: per (source, partition) where the table has partitions, else per source."""
        if "part" in self._keys(RECEIVED_TOTALS):
            return [(source, part, n) for (source, part), n in per_part.items()]
        merged: collections.Counter[str] = collections.Counter()
        for (source, _), n in per_part.items():
            merged[source] += n
        return list(merged.items())

    # -- as rows are written ----------------------------------------------------------------------------------

    def received(self, conn: Any, source: str, per_part: dict[int, int], received_at: float) -> None:
        """Events newly appended: `per_part` partition → how many."""
        self.add(conn, RECEIVED_TOTALS, self._by_source({(source, p): n for p, n in per_part.items()}))
        self.add(conn, RECEIVED_MINUTES, [(source, minute_of(received_at), sum(per_part.values()))])

    def passed(self, conn: Any, destination: str, per_source: Iterable[tuple[str, int]]) -> None:
        """A destination's cursors moved past (or, negative, back before) events of these sources."""
        self.add(conn, PASSED_TOTALS, [(destination, source, n) for source, n in per_source])

    def outcomes(
        self,
        conn: Any,
        destination: str,
        old: dict[tuple[int, str], Outcome],
        records: list[DeliveryRecord],
        now: float,
    ) -> None:
        """Before `records` are upserted: move the totals from each row's `old` outcome (by event and subscription)
        to its new one, and count each status a row enters in the minute of `now`."""
        totals: collections.Counter[Outcome] = collections.Counter()
        entered: collections.Counter[str] = collections.Counter()
        for r in records:
            prev = old.get((r.event_seq, r.subscription))
            if prev is not None:
                totals[prev] -= 1
            totals[(r.status, r.reason or "")] += 1
            if prev is None or prev[0] != r.status:
                entered[r.status] += 1
        self.add(conn, DELIVERY_TOTALS, [(destination, st, reason, n) for (st, reason), n in totals.items()])
        self.add(conn, DELIVERY_MINUTES, [(destination, minute_of(now), st, n) for st, n in entered.items()])

    def requeued(self, conn: Any, rows: Iterable[tuple[str, str]], at: float) -> None:
        """Deliveries a replay moved back to `retrying`: (destination, what each was: `status` or `status:reason`)."""
        per = collections.Counter(rows)
        moved = collections.Counter[str]()
        totals = []
        for (dest, was), n in per.items():
            status, _, reason = was.partition(":")
            totals += [(dest, status, reason, -n), (dest, "retrying", "", n)]
            moved[dest] += n
        self.add(conn, DELIVERY_TOTALS, totals)
        self.add(conn, DELIVERY_MINUTES, [(d, minute_of(at), "retrying", n) for d, n in moved.items()])

    def forgotten_deliveries(self, conn: Any, rows: Iterable[tuple[str, str, str | None]]) -> None:
        """Delivery rows deleted: (destination, status, reason) each."""
        per = collections.Counter((d, status, reason or "") for d, status, reason in rows)
        self.add(conn, DELIVERY_TOTALS, [(*key, -n) for key, n in per.items()])

    def forgotten_events(self, conn: Any, seqs: list[int], in_list: InList) -> None:
        """Before events are deleted: take them out of the received totals and of the cursors that passed them."""
        clause, args = in_list("e.seq", seqs)
        received = conn.execute(
            self.sql(f"SELECT e.source, {self.part}, count(*) FROM events e WHERE {clause} GROUP BY 1, 2"), args
        ).fetchall()
        self.add(
            conn, RECEIVED_TOTALS, [(*r[:-1], -r[-1]) for r in self._by_source({(s, p): n for s, p, n in received})]
        )
        passed = conn.execute(
            self.sql(
                f"SELECT c.destination, e.source, count(*) FROM events e JOIN cursors c ON {self.at_or_before} "
                f"WHERE {clause} GROUP BY 1, 2"
            ),
            args,
        ).fetchall()
        self.add(conn, PASSED_TOTALS, [(d, s, -n) for d, s, n in passed])

    # -- reading ----------------------------------------------------------------------------------------------

    def read(self, conn: Any) -> Totals:
        """Every total, summed over slots (call within one snapshot)."""
        totals = Totals()
        for source, n in conn.execute("SELECT source, CAST(sum(n) AS BIGINT) FROM received_totals GROUP BY 1"):
            totals.received[source] = n
        for dest, status, reason, n in conn.execute(
            "SELECT destination, status, reason, CAST(sum(n) AS BIGINT) FROM delivery_totals GROUP BY 1, 2, 3 "
            "HAVING sum(n) <> 0"
        ):
            by_status = totals.by_status.setdefault(dest, {})
            by_status[status] = by_status.get(status, 0) + n
            if reason:
                totals.filtered_by.setdefault(dest, {})[reason] = n
        for dest, source, n in conn.execute(
            "SELECT destination, source, CAST(sum(n) AS BIGINT) FROM passed_totals GROUP BY 1, 2"
        ):
            totals.passed.setdefault(dest, {})[source] = n
        return totals

    def minutes(
        self, conn: Any, destinations: list[str], start: int, step_s: int, in_list: InList
    ) -> list[tuple[str, int, str, int]]:
        """Per destination, bucket (of `step_s` from `start`) and status: the deliveries that entered it (summed
        here: a week of minutes is 10,080 rows per status)."""
        if not destinations:
            return []
        clause, args = in_list("destination", destinations)
        return conn.execute(
            self.sql(
                "SELECT destination, minute - minute % ?, status, CAST(sum(n) AS BIGINT) FROM delivery_minutes "
                f"WHERE {clause} AND minute >= ? GROUP BY 1, 2, 3"
            ),
            (step_s, *args, start),
        ).fetchall()

    def received_minutes(
        self,
        conn: Any,
        destinations: list[str],
        sources: dict[str, list[str]],
        start: int,
        step_s: int,
        in_list: InList,
    ) -> dict[str, list[tuple[int, int]]]:
        """Per source of these destinations: `(bucket, events received)`."""
        per_source: dict[str, list[tuple[int, int]]] = {}
        names = sorted({s for dest in destinations for s in sources.get(dest, [])})
        if names:
            clause, args = in_list("source", names)
            for source, minute, n in conn.execute(
                self.sql(
                    "SELECT source, minute - minute % ?, CAST(sum(n) AS BIGINT) FROM received_minutes "
                    f"WHERE {clause} AND minute >= ? GROUP BY 1, 2"
                ),
                (step_s, *args, start),
            ):
                per_source.setdefault(source, []).append((minute, n))
        return per_source

    # -- from the rows ----------------------------------------------------------------------------------------

    def rebuild_totals(self, conn: Any) -> None:
        """Recount the totals from the rows (after an upgrade, a migration, or a hand edit of the tables)."""
        _, _, slot = self._slot
        conn.execute("DELETE FROM received_totals")
        conn.execute("DELETE FROM passed_totals")
        conn.execute("DELETE FROM delivery_totals")
        keys = ", ".join(self._keys(RECEIVED_TOTALS))
        part = f", {self.part}" if "part" in self._keys(RECEIVED_TOTALS) else ""
        conn.execute(
            f"INSERT INTO received_totals ({keys}{self._slot[0]}, n) "
            f"SELECT e.source{part}{slot}, count(*) FROM events e GROUP BY e.source{part}"
        )
        conn.execute(
            f"INSERT INTO passed_totals (destination, source{self._slot[0]}, n) "
            f"SELECT c.destination, e.source{slot}, count(*) FROM cursors c JOIN events e ON {self.at_or_before} "
            "GROUP BY c.destination, e.source"
        )
        conn.execute(
            f"INSERT INTO delivery_totals (destination, status, reason{self._slot[0]}, n) "
            f"SELECT destination, status, coalesce(reason, ''){slot}, count(*) FROM deliveries "
            "GROUP BY destination, status, coalesce(reason, '')"
        )

    def backfill_minutes(self, conn: Any, minute: str) -> None:
        """Per-minute counts of a store that did not keep them: receipts, and each row's current outcome in the
        minute of its last update (the past as far as it is known). `minute` is the SQL of `{}`'s minute."""
        _, _, slot = self._slot
        conn.execute(
            f"INSERT INTO received_minutes (source, minute{self._slot[0]}, n) "
            f"SELECT source, {minute.format('received_at')}{slot}, count(*) FROM events GROUP BY 1, 2"
        )
        conn.execute(
            f"INSERT INTO delivery_minutes (destination, minute, status{self._slot[0]}, n) "
            f"SELECT destination, {minute.format('updated_at')}, status{slot}, count(*) FROM deliveries "
            "GROUP BY 1, 2, 3"
        )
