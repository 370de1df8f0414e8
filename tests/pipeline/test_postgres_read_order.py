"""PostgreSQL store: `read_after` walks a partition in (transaction id, event id) order, numerically.

Transaction ids are compared as numbers: ordering them as text would put xid 100 before xid 99, hand the worker an
event that is *ahead* of one it has not seen, and, once the cursor moved past it, skip the other for good. Rows
with chosen transaction ids are written straight into the table (both below every running transaction's id, so
both are visible to readers).
"""

from __future__ import annotations

import orjson
import psycopg

from actions_1flow.pipeline.stores.postgres import READ_AFTER_SQL, PostgresStore, split_position


def _insert(url: str, xid: int, message_id: str) -> None:
    body = orjson.dumps({"type": "track", "event": "Ordered", "userId": "u", "messageId": message_id})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO actions_1flow.events (xid, part, source, message_id, received_at, body) "
            "VALUES (%s::text::xid8, 0, 'web', %s, 0, %s)",
            (str(xid), message_id, body),
        )


def test_read_after_orders_transaction_ids_as_numbers_not_text(pg_url):
    store = PostgresStore(pg_url, partitions=1)
    try:
        _insert(pg_url, 100, "later")  # written first, but by the later transaction
        _insert(pg_url, 99, "earlier")

        first = store.read_after(0, ["web"], limit=1)
        assert [e.event["messageId"] for e in first] == ["earlier"]
        assert split_position(first[0].position)[0] == "99"

        both = store.read_after(0, ["web"], limit=10)
        assert [e.event["messageId"] for e in both] == ["earlier", "later"]
        assert both[0].position < both[1].position
        rest = store.read_after(first[0].position, ["web"], limit=10)
        assert [e.event["messageId"] for e in rest] == ["later"]
    finally:
        store.close()


def test_read_after_reads_the_partition_in_index_order(pg_url):
    """The query walks the (part, xid, seq) index from the cursor instead of sorting the partition's whole backlog."""
    store = PostgresStore(pg_url, partitions=1)
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("SET enable_seqscan TO off")  # a tiny table: make the planner show what it would do at scale
            conn.execute("SET enable_bitmapscan TO off")
            plan = "\n".join(
                row[0]
                for row in conn.execute(
                    "EXPLAIN " + READ_AFTER_SQL.replace("FROM events", "FROM actions_1flow.events"),
                    (0, "0", 0, ["web"], 10),
                )
            )
        assert "Index Scan using events_log" in plan, plan
        assert "Sort" not in plan, plan
    finally:
        store.close()
