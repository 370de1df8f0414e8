"""The store's tables, declared once: both backends create them from here, `migrate` copies by these column lists,
and the log queries read them.

The backends differ only where positions and leases do: PostgreSQL's events carry their transaction's id (`xid`)
and partition (`part`), its counts a per-connection `slot` (see `counts`), and it has the lease and worker tables;
a column or table marked `only=POSTGRES` exists there alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..records import STATUSES, SUBJECT_KINDS

Backend = Literal["sqlite", "postgresql"]
SQLITE: Backend = "sqlite"
POSTGRES: Backend = "postgresql"

_TYPES: dict[str, dict[Backend, str]] = {
    "text": {SQLITE: "TEXT", POSTGRES: "text"},
    "real": {SQLITE: "REAL", POSTGRES: "double precision"},
    "int": {SQLITE: "INTEGER", POSTGRES: "integer"},
    "bigint": {SQLITE: "INTEGER", POSTGRES: "bigint"},
    "smallint": {SQLITE: "INTEGER", POSTGRES: "smallint"},
    "blob": {SQLITE: "BLOB", POSTGRES: "bytea"},
    "log": {SQLITE: "INTEGER PRIMARY KEY AUTOINCREMENT", POSTGRES: "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
    "id": {SQLITE: "INTEGER PRIMARY KEY", POSTGRES: "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
    "xid8": {POSTGRES: "xid8"},
    "timestamptz": {POSTGRES: "timestamptz"},
}
"""Neutral type → each backend's. `log`: an id never reused, even once the newest rows are deleted (cursors count
on it); `id`: a row id."""

_ARRAYS = {"text": "text[]", "real": "float8[]", "int": "int[]", "bigint": "bigint[]", "log": "bigint[]"}
_ARRAYS |= {"id": "bigint[]", "smallint": "smallint[]", "blob": "bytea[]"}
"""PostgreSQL's array of each type (rows written as one array per column)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    constraint: str = ""
    """`NOT NULL`, a default or a check, as both backends write it."""
    only: Backend | None = None


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    where: str = ""
    only: Backend | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    """The primary key (its columns of each backend), unless a column's type is one."""
    unique: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[Index, ...] = ()
    only: Backend | None = None
    compact: bool = False
    """Rows are their key (SQLite's `WITHOUT ROWID`)."""

    def names(self, backend: Backend) -> list[str]:
        """The table's columns in `backend`, in order."""
        return [c.name for c in self.columns if c.only in (None, backend)]

    def insert_arrays(self, columns: list[str], tail: str = "") -> str:
        """PostgreSQL: insert rows given as one array per column (psycopg placeholders), in `columns`' order."""
        types = {c.name: c.type for c in self.columns}
        arrays = ", ".join(f"%s::{_ARRAYS[types[c]]}" for c in columns)
        overriding = " OVERRIDING SYSTEM VALUE" if types[columns[0]] in ("id", "log") else ""
        return f"INSERT INTO {self.name} ({', '.join(columns)}){overriding} SELECT * FROM unnest({arrays}){tail}"

    def ddl(self, backend: Backend) -> str:
        """`CREATE TABLE` and `CREATE INDEX` statements for `backend`, `;`-separated."""
        known = set(self.names(backend))
        lines = [
            f"{c.name} {_TYPES[c.type][backend]}{' ' + c.constraint if c.constraint else ''}"
            for c in self.columns
            if c.name in known
        ]
        if self.key:
            lines.append(f"PRIMARY KEY ({', '.join(k for k in self.key if k in known)})")
        lines += [f"UNIQUE ({', '.join(u)})" for u in self.unique]
        tail = " WITHOUT ROWID" if self.compact and backend == SQLITE else ""
        body = ",\n    ".join(lines)
        out = [f"CREATE TABLE {self.name} (\n    {body}\n){tail};"]
        for index in (i for i in self.indexes if i.only in (None, backend)):
            columns = ", ".join(c for c in index.columns if c in known)
            where = f" WHERE {index.where}" if index.where else ""
            out.append(f"CREATE INDEX {index.name} ON {self.name} ({columns}){where};")
        return "\n".join(out)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


_FAILED = "status IN ('retrying', 'dead')"
"""Rows of the small failures index (`deliveries_failed`); queries that want it name it the same way."""

EVENTS = Table(
    "events",
    (
        Column("seq", "log"),
        Column("xid", "xid8", "NOT NULL DEFAULT pg_current_xact_id()", only=POSTGRES),
        Column("part", "smallint", "NOT NULL", only=POSTGRES),
        Column("source", "text", "NOT NULL"),
        Column("message_id", "text", "NOT NULL"),
        Column("received_at", "real", "NOT NULL"),
        Column("body", "blob", "NOT NULL"),
    ),
    unique=(("source", "message_id"),),  # dedup, enforced across every server writing to the store
    indexes=(Index("events_log", ("part", "xid", "seq"), only=POSTGRES),),  # SQLite's log order is its key
)
CURSORS = Table(
    "cursors",
    (
        Column("destination", "text", "NOT NULL"),
        Column("part", "smallint", "NOT NULL", only=POSTGRES),
        Column("xid", "xid8", "NOT NULL", only=POSTGRES),
        Column("seq", "bigint", "NOT NULL"),
    ),
    key=("destination", "part"),
)
EXCHANGES = Table(
    "exchanges",
    (Column("id", "id"), Column("at", "real", "NOT NULL"), Column("request", "text"), Column("response", "text")),
)
"""One HTTP request and its answer, shared by every delivery it carried."""
DELIVERIES = Table(
    "deliveries",
    (
        Column("id", "id"),
        Column("event_seq", "bigint", "NOT NULL"),
        Column("destination", "text", "NOT NULL"),
        Column("part", "smallint", "NOT NULL", only=POSTGRES),
        Column("subscription", "text", "NOT NULL"),
        Column("status", "text", f"NOT NULL CHECK (status IN {_in(STATUSES)})"),
        Column("attempts", "int", "NOT NULL DEFAULT 0"),
        Column("first_attempt_at", "real"),
        Column("next_attempt_at", "real"),
        Column("updated_at", "real", "NOT NULL"),
        Column("error", "text"),
        Column("hint", "text"),
        Column("exchange_id", "bigint"),
        Column("replays", "int", "NOT NULL DEFAULT 0"),
        Column("reason", "text"),
        Column("replay_of", "text"),  # what the row was when last replayed: `delivered`, `filtered:no_match`, `dead`
        Column("replay_config", "text"),  # the destination's configuration fingerprint that replay re-sent it with
    ),
    unique=(("event_seq", "destination", "subscription"),),
    indexes=(
        Index("deliveries_retrying", ("destination", "part", "next_attempt_at"), "status = 'retrying'"),
        Index("deliveries_failed", ("updated_at",), _FAILED),
        Index("deliveries_recent", ("updated_at",)),
    ),
)
DEVICE_EVENTS = Table(
    "device_events",
    (
        Column("id", "id"),
        Column("received_at", "real", "NOT NULL"),
        Column("source", "text", "NOT NULL"),
        Column("destination", "text", "NOT NULL"),
        Column("kind", "text", "NOT NULL"),
        Column("message", "text", "NOT NULL"),
        Column("subscription", "text"),
        Column("event_type", "text"),
        Column("message_id", "text"),
        Column("sdk_url", "text"),
        Column("origin", "text"),
    ),
    indexes=(Index("device_events_recent", ("received_at",)),),
)
SUPPRESSIONS = Table(
    "suppressions",
    (
        Column("kind", "text", f"NOT NULL CHECK (kind IN {_in(SUBJECT_KINDS)})"),
        Column("value", "text", "NOT NULL"),
        Column("created_at", "real", "NOT NULL"),
        Column("dropped", "bigint", "NOT NULL DEFAULT 0"),
    ),
    key=("kind", "value"),
)
REVOKED_SESSIONS = Table(
    "revoked_sessions",
    (Column("sid", "text", "NOT NULL"), Column("expires_at", "real", "NOT NULL")),
    key=("sid",),
)
"""Console sessions logged out before they expire (every server of the store refuses them); a row is pruned once
its session would have expired anyway. Added to existing stores when missing (`ADDED`), with no version change."""
META = Table(
    "meta", (Column("key", "text", "NOT NULL"), Column("value", "text", "NOT NULL")), key=("key",), only=POSTGRES
)
"""The layout's version and the partition count (SQLite keeps its version in `PRAGMA user_version`)."""
LEASES = Table(
    "leases",
    (
        Column("destination", "text", "NOT NULL"),
        Column("part", "smallint", "NOT NULL"),
        Column("owner", "text"),
        Column("epoch", "bigint", "NOT NULL DEFAULT 0"),  # grows with every new holder; writes are fenced on it
        Column("expires_at", "timestamptz", "NOT NULL DEFAULT '-infinity'"),
    ),
    key=("destination", "part"),
    only=POSTGRES,
)
WORKERS = Table(
    "workers",
    (Column("id", "text", "NOT NULL"), Column("seen_at", "timestamptz", "NOT NULL")),
    key=("id",),
    only=POSTGRES,
)


IMPORTED = Table(
    "imported",
    (Column("source", "text", "NOT NULL"), Column("message_id", "text", "NOT NULL")),
    key=("source", "message_id"),
    compact=True,
)
"""Every messageId `import` stored, per source, kept for good (the events themselves go after the retention): a
second import of the same files, however much later, stores nothing new."""


def _counted(name: str, keys: tuple[Column, ...]) -> Table:
    """A kept-counts table: its keys, the writing connection's `slot` (PostgreSQL), and the count."""
    columns = (*keys, Column("slot", "smallint", "NOT NULL", only=POSTGRES), Column("n", "bigint", "NOT NULL"))
    return Table(name, columns, key=tuple(c.name for c in columns[:-1]), compact=True)


RECEIVED_TOTALS = _counted(
    "received_totals", (Column("source", "text", "NOT NULL"), Column("part", "smallint", "NOT NULL", only=POSTGRES))
)
"""Events received per source (and partition)."""
PASSED_TOTALS = _counted(
    "passed_totals", (Column("destination", "text", "NOT NULL"), Column("source", "text", "NOT NULL"))
)
"""Events of `source` at or before `destination`'s cursors."""
DELIVERY_TOTALS = _counted(
    "delivery_totals",
    (
        Column("destination", "text", "NOT NULL"),
        Column("status", "text", "NOT NULL"),
        Column("reason", "text", "NOT NULL"),  # '' for rows that are not filtered
    ),
)
DELIVERY_MINUTES = _counted(
    "delivery_minutes",
    (
        Column("destination", "text", "NOT NULL"),
        Column("minute", "bigint", "NOT NULL"),
        Column("status", "text", "NOT NULL"),
    ),
)
"""Deliveries entering `status` in the minute starting at `minute`."""
RECEIVED_MINUTES = _counted(
    "received_minutes", (Column("source", "text", "NOT NULL"), Column("minute", "bigint", "NOT NULL"))
)

RECORDS = (
    EVENTS,
    CURSORS,
    EXCHANGES,
    DELIVERIES,
    DEVICE_EVENTS,
    SUPPRESSIONS,
    REVOKED_SESSIONS,
    META,
    LEASES,
    WORKERS,
    IMPORTED,
)
ADDED = (REVOKED_SESSIONS,)
"""Tables that older code of the same schema version neither reads nor needs: created in a store lacking them when
it is opened, without changing its version (so an older server on the same store keeps working)."""
COUNTS = (RECEIVED_TOTALS, PASSED_TOTALS, DELIVERY_TOTALS, DELIVERY_MINUTES, RECEIVED_MINUTES)
"""Kept as the rows are written (`counts`); each can be rebuilt from the rows but the minutes' history."""


def ddl(backend: Backend, tables: tuple[Table, ...] = RECORDS + COUNTS) -> str:
    """Every table of `backend` (of `tables`), created."""
    return "\n".join(t.ddl(backend) for t in tables if t.only in (None, backend))
