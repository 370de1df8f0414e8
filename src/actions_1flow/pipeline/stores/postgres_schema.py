"""The PostgreSQL store's tables, created (checked, or upgraded) at start under an advisory lock, so that several
processes starting at once agree on one layout.

Everything lives in its own schema, `actions_1flow`, so the store can share a database with an application's
tables. The schema's `meta` table records the layout's version and the partition count; a schema of another
version, or an `actions_1flow` schema without that table (someone else's), is refused with a reason. A schema of
the layouts before (versions 1 and 2, see `upgrade`) is upgraded in place, with writes held off meanwhile.
"""

from __future__ import annotations

import psycopg

from ..records import StoreError
from .counts import KeptCounts
from .layout import ADDED, COUNTS, POSTGRES, ddl
from .upgrade import add_reasons, add_replays

SCHEMA = "actions_1flow"
SCHEMA_VERSION = 3
UPGRADES_FROM = (1, 2)
MIGRATION_LOCK = 0x1F10_0001
"""The advisory lock id held while the layout is checked, created or upgraded (one process at a time)."""

COUNTED_SLOT = (
    "CREATE FUNCTION counted_slot() RETURNS smallint LANGUAGE sql STABLE "
    "AS $$ SELECT (pg_backend_pid() % 64)::smallint $$"
)
"""Which slot of a kept count this connection adds to (see `counts`)."""

MINUTE = "floor({} / 60)::bigint * 60"

_TRIGGERS = {
    "events": ("events_counted_in", "events_counted_out"),
    "cursors": ("cursors_counted_in", "cursors_counted_move", "cursors_counted_out"),
    "deliveries": ("deliveries_counted_in", "deliveries_counted_change", "deliveries_counted_out"),
}
"""Version 1 kept its counts with these statement triggers (each with a function of its name)."""


def prepare(conn: psycopg.Connection, where: str, partitions: int, counts: KeptCounts) -> int:
    """Create the layout in an empty database, or check (and upgrade) the one there; returns the store's partition
    count (fixed when the store was created: changing it would reorder users' events)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
        if exists is None:
            conn.execute(f"CREATE SCHEMA {SCHEMA}")
            conn.execute(f"SET LOCAL search_path TO {SCHEMA}")
            conn.execute(ddl(POSTGRES))
            conn.execute(COUNTED_SLOT)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', %s), ('partitions', %s)",
                (str(SCHEMA_VERSION), str(partitions)),
            )
            return partitions
        has_meta = conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'meta'", (SCHEMA,)
        ).fetchone()
        if has_meta is None:
            raise StoreError(
                f"{where} has a schema {SCHEMA!r} that actions-1flow did not create; point `storage:` at another "
                "database, or drop that schema if it is a leftover"
            )
        meta: dict[str, str] = dict(conn.execute(f"SELECT key, value FROM {SCHEMA}.meta").fetchall())
        version = int(meta.get("schema_version", "0"))
        if version in UPGRADES_FROM:
            conn.execute(f"SET LOCAL search_path TO {SCHEMA}")
            if version == 1:
                _upgrade(conn, counts)
            add_replays(conn, POSTGRES)
            conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        elif version != SCHEMA_VERSION:
            newer = "a newer" if version > SCHEMA_VERSION else "an older"
            raise StoreError(
                f"{where} was written by {newer} version of actions-1flow (store schema {version}, this version reads "
                f"{SCHEMA_VERSION}); deliver what it holds with that version, or point `storage:` at another database"
            )
        for table in ADDED:
            if conn.execute(f"SELECT to_regclass('{SCHEMA}.{table.name}')").fetchone() == (None,):
                conn.execute(f"SET LOCAL search_path TO {SCHEMA}")
                conn.execute(table.ddl(POSTGRES))
        return int(meta["partitions"])


def _upgrade(conn: psycopg.Connection, counts: KeptCounts) -> None:
    """Version 1 → 2: counts kept by the store's own writes instead of triggers, and the filter reason a column.
    Stores of version 1's first days may lack the kept counts: they get them too."""
    conn.execute("LOCK TABLE events, cursors, deliveries IN EXCLUSIVE MODE")
    for table, triggers in _TRIGGERS.items():
        for trigger in triggers:
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            conn.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
    counted = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'delivery_totals'", (SCHEMA,)
    ).fetchone()
    if counted is None:
        conn.execute(ddl(POSTGRES, COUNTS))
        conn.execute(COUNTED_SLOT)
        counts.backfill_minutes(conn, MINUTE)
    add_reasons(conn, counts)
