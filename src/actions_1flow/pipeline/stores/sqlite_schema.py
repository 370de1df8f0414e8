"""The SQLite store's layout: created in a new file from `layout`, checked in an existing one, and upgraded in
place from the layouts before it (schemas 2 and 3, see `upgrade`). The version is the file's `PRAGMA
user_version`; a file of another version is refused rather than misread."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..records import StoreError
from .counts import KeptCounts
from .layout import ADDED, COUNTS, SQLITE, SUPPRESSIONS, ddl
from .upgrade import add_reasons, add_replays

SCHEMA_VERSION = 4
UPGRADES_FROM = (2, 3)
MINUTE = "(CAST({} AS INTEGER) / 60) * 60"
"""The SQL of `{}`'s minute (for counting rows written before the minutes were kept)."""


def prepare(conn: sqlite3.Connection, path: Path, counts: KeptCounts) -> None:
    """Create the layout in a new file, upgrade one of the layout before, or check it is this one; StoreError
    saying what to do otherwise."""
    conn.execute("BEGIN IMMEDIATE")  # another process may be creating or upgrading the same file right now
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "events" not in tables:
            for statement in _statements(ddl(SQLITE)):
                conn.execute(statement)
        elif version in UPGRADES_FROM:
            if version == 2:
                _upgrade(conn, tables, counts)
            add_replays(conn, SQLITE)
        elif version != SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by another version of actions-1flow (store schema {version}, this version "
                f"reads {SCHEMA_VERSION}); deliver what it holds with that version, then move the file away"
            )
        for table in ADDED:
            if table.name not in tables and "events" in tables:
                conn.execute(table.ddl(SQLITE))
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _upgrade(conn: sqlite3.Connection, tables: set[str], counts: KeptCounts) -> None:
    """Schema 2 → 3: counts kept by the store's own writes instead of triggers, and the filter reason a column.
    Files of schema 2's first weeks may lack the suppressions or the kept counts: they get them too."""
    if SUPPRESSIONS.name not in tables:
        conn.execute(SUPPRESSIONS.ddl(SQLITE))
    for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {trigger}")  # the kept counts' (the store has no others)
    if "delivery_totals" not in tables:
        for statement in _statements(ddl(SQLITE, COUNTS)):
            conn.execute(statement)
        counts.backfill_minutes(conn, MINUTE)
    add_reasons(conn, counts)


def _statements(script: str) -> list[str]:
    """A script's statements, one by one."""
    out: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending)
            pending = ""
    return out
