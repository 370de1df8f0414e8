"""Upgrading a store in place, the same way on both backends.

- Before the filter reason was a column (SQLite schema 2, PostgreSQL schema 1): the column is added, each filtered
  row gets the reason its error text said (the text those versions wrote: once, here, never read again), and the
  totals are recounted from the rows, now by reason.
- Before backfill and replay (SQLite schema 3, PostgreSQL schema 2): the delivery rows get what a replay records
  (`replay_of`, `replay_config`), and the store the `imported` keys.
"""

from __future__ import annotations

from typing import Any

from ..records import FilterReason
from .counts import KeptCounts
from .layout import IMPORTED, Backend

REASON_OF_OLD_ROWS = f"""CASE
    WHEN substr(error, 1, 7) = 'consent' THEN '{FilterReason.CONSENT.value}'
    WHEN substr(error, 1, 10) = 'suppressed' THEN '{FilterReason.SUPPRESSED.value}'
    WHEN subscription = '' OR error = 'the subscription is disabled'
        OR substr(error, 1, 36) = 'the event does not match the trigger' THEN '{FilterReason.NO_MATCH.value}'
    ELSE '{FilterReason.REFUSED.value}'
END"""
"""Those versions wrote `consent: …` and `suppressed: …` for privacy, one row under the subscription `''` for an
event no subscription matched, the engine's texts for a retry no longer matching, and otherwise the action's own
reason for refusing (an Identify without a userId: `not sent: …`)."""


def add_reasons(conn: Any, counts: KeptCounts) -> None:
    """Give `deliveries` its `reason` column, filled in for the filtered rows, and recount the totals (call within
    the upgrade's transaction, with writes held off)."""
    conn.execute("ALTER TABLE deliveries ADD COLUMN reason TEXT")
    conn.execute(f"UPDATE deliveries SET reason = {REASON_OF_OLD_ROWS} WHERE status = 'filtered'")
    counts.rebuild_totals(conn)


def add_replays(conn: Any, backend: Backend) -> None:
    """Give `deliveries` the replay columns and the store its `imported` table (within the upgrade's transaction)."""
    conn.execute("ALTER TABLE deliveries ADD COLUMN replay_of TEXT")
    conn.execute("ALTER TABLE deliveries ADD COLUMN replay_config TEXT")
    conn.execute(IMPORTED.ddl(backend))
