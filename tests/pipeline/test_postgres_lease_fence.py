"""PostgreSQL store: the lease fence of a cursor/outcome write against heartbeats, with real concurrent transactions.

The writer fences each partition's write on its lease row while its group transaction is open; meanwhile the same
worker's heartbeat renews those rows from another connection. The fence must not make the renewal wait (with the
writer fencing several partitions in one order and the renewal locking them in another, that wait was a deadlock
under load), and it must still keep another worker from taking the row over until the write has committed.
"""

from __future__ import annotations

import threading
import time

import psycopg

from actions_1flow.pipeline.stores.postgres import LEASE_FENCE_SQL, PostgresStore


def _open_fence(url: str, partition: int, epoch: int) -> psycopg.Connection:
    """A transaction left open right after the fence, as the writer's group transaction is while it writes."""
    conn = psycopg.connect(url)
    conn.execute("SET search_path TO actions_1flow")
    assert conn.execute(LEASE_FENCE_SQL, ("d", partition, epoch)).fetchone() is not None
    return conn


def test_a_fenced_write_in_progress_does_not_block_the_holders_renewal(pg_url):
    store = PostgresStore(pg_url, partitions=2)
    try:
        held = store.heartbeat("w1", ["d"], 30).held
        assert sorted(x.partition for x in held) == [0, 1]
        fence = _open_fence(pg_url, 0, held[0].epoch)
        try:
            renewed: list[object] = []
            thread = threading.Thread(target=lambda: renewed.append(store.heartbeat("w1", ["d"], 30)), daemon=True)
            thread.start()
            thread.join(timeout=3)  # FOR SHARE made this wait for the writer's commit
            assert not thread.is_alive(), "the heartbeat waited for the fenced write's transaction"
            assert sorted(x.partition for x in renewed[0].held) == [0, 1]  # type: ignore[attr-defined]
        finally:
            fence.rollback()
            fence.close()
    finally:
        store.close()


def test_a_fenced_write_in_progress_keeps_another_worker_off_that_partition(pg_url):
    store = PostgresStore(pg_url, partitions=2)
    try:
        store.heartbeat("w1", ["d"], 1)
        time.sleep(1.2)  # both leases expire: w1 stopped renewing
        fence = _open_fence_even_if_expired(pg_url, 0)
        try:
            taken = store.heartbeat("w2", ["d"], 30).held  # 2 live workers: a share of 1, any free row
            assert [x.partition for x in taken] == [1], taken  # partition 0 is being written: skipped, not taken
        finally:
            fence.commit()
            fence.close()
        again = store.heartbeat("w2", ["d"], 30)
        assert [x.partition for x in again.held] == [1]  # its fair share stays one while w1 counts as live
    finally:
        store.close()


def _open_fence_even_if_expired(url: str, partition: int) -> psycopg.Connection:
    """The fence's lock on a row whose lease has just lapsed (the writer checked it a moment before expiry)."""
    conn = psycopg.connect(url)
    conn.execute("SET search_path TO actions_1flow")
    lock = LEASE_FENCE_SQL.replace("AND epoch = %s AND expires_at > now() ", "")
    assert conn.execute(lock, ("d", partition)).fetchone() is not None
    return conn
