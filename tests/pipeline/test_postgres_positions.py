"""PostgreSQL positions are `(xid, seq)` pairs: reads must order them as numbers. A transaction id crossing a power
of ten (999 → 1000) is the case a text ordering gets wrong: '1000' sorts before '999', so a read would return the
newer event first, move the cursor past the older one, and never deliver it."""

from __future__ import annotations

import psycopg

from actions_1flow.pipeline.stores.postgres import PostgresStore, split_position


def _burn_xids_to_next_power_of_ten(url: str) -> None:
    """Use up transaction ids until the next one has one more digit than the current one."""
    with psycopg.connect(url, autocommit=True) as conn:
        current = int(conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
        boundary = 10 ** len(str(current))
        for _ in range(boundary - current):
            conn.execute("SELECT pg_current_xact_id()")  # each autocommit statement takes a new id


def test_reads_order_positions_by_transaction_id_as_a_number_across_a_power_of_ten(pg_url):
    store = PostgresStore(pg_url, partitions=1)
    try:
        store.append("web", [{"type": "track", "userId": "u", "messageId": "before"}], 1.0).result()
        _burn_xids_to_next_power_of_ten(pg_url)
        store.append("web", [{"type": "track", "userId": "u", "messageId": "after"}], 2.0).result()
        events = store.read_after(0, ["web"], 10)
        xids = [int(split_position(e.position)[0]) for e in events]
        assert len(str(xids[0])) < len(str(xids[1])), f"the two events do not straddle a power of ten: {xids}"
        assert [e.event["messageId"] for e in events] == ["before", "after"]
        # One at a time, as a worker with a small batch reads them: the older one first, then the newer one.
        first = store.read_after(0, ["web"], 1)
        assert [e.event["messageId"] for e in first] == ["before"]
        assert [e.event["messageId"] for e in store.read_after(first[0].position, ["web"], 1)] == ["after"]
    finally:
        store.close()
