"""What only the PostgreSQL store has, against a real PostgreSQL 15: its layout check, fixed partitions, positions
that never let a cursor pass an event committed late, leases (fair share, hand-back, expiry, fencing), and
recovery by itself when the database comes back."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter

import psycopg
import pytest

from actions_1flow.pipeline import DeliveryRecord, LeaseLost, RetryPolicy, StoreError, StoreUnavailable, partition_of
from actions_1flow.pipeline.options import DeliveryOptions
from actions_1flow.pipeline.stores.postgres import PostgresStore
from actions_1flow.pipeline.worker import Worker
from tests.helpers.postgres import PostgresCluster
from tests.helpers.sandbox import US_KEY, InProcessSandbox

from .conftest import log
from .test_worker import load, track


def ev(mid: str, user: str = "u") -> dict:
    return {"type": "track", "event": "E", "userId": user, "messageId": mid}


@pytest.fixture
def pg(pg_url):
    store = PostgresStore(pg_url, partitions=4)
    yield store
    store.close()


def test_a_foreign_or_newer_layout_is_refused_with_a_reason(pg_url, pg_cluster):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA actions_1flow")
        conn.execute("CREATE TABLE actions_1flow.events (id int)")
    with pytest.raises(StoreError, match="did not create"):
        PostgresStore(pg_url)
    other = pg_cluster.create_database()
    PostgresStore(other).close()
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("UPDATE actions_1flow.meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer version of actions-1flow"):
        PostgresStore(other)
    pg_cluster.drop_database(other)


def test_an_unreachable_database_is_a_clear_error_at_start():
    with pytest.raises(
        StoreError, match=re.escape("cannot connect to the event store postgresql://x:***@127.0.0.1:1/db")
    ):
        PostgresStore("postgresql://x:secret@127.0.0.1:1/db")


def test_partitions_are_fixed_when_the_store_is_created(pg, pg_url):
    again = PostgresStore(pg_url, partitions=16)
    try:
        assert again.partitions == pg.partitions == 4
    finally:
        again.close()


def test_a_users_events_stay_in_one_partition_in_order(pg):
    events = [ev(f"m{i}", user=f"u{i % 5}") for i in range(40)]
    assert pg.append("web", events, 1.0).result().accepted == 40
    seen: dict[int, list[str]] = {}
    for part in range(4):
        got = pg.read_after(0, ["web"], 100, part)
        assert [e.position for e in got] == sorted(e.position for e in got)
        assert all(partition_of(e.event, 4) == part for e in got)
        seen[part] = [e.event["messageId"] for e in got]
    assert sorted(m for ms in seen.values() for m in ms) == sorted(e["messageId"] for e in events)
    for user in range(5):
        mine = [m for ms in seen.values() for m in ms if int(m[1:]) % 5 == user]
        assert mine == [f"m{i}" for i in range(40) if i % 5 == user]  # one partition, arrival order


def test_a_cursor_never_passes_an_event_whose_transaction_commits_late(pg, pg_url):
    part = partition_of(ev("late"), 4)
    slow = psycopg.connect(pg_url)  # a server whose transaction began first but commits last
    slow.execute(
        "INSERT INTO actions_1flow.events (part, source, message_id, received_at, body) "
        "VALUES (%s, 'web', 'late', 1, %s)",
        (part, b'{"type":"track","userId":"u","messageId":"late"}'),
    )
    pg.append("web", [ev("early")], 1.0).result()  # committed, but after a transaction still open
    assert pg.read_after(0, ["web"], 10, part) == []  # held back: a cursor here would skip "late"
    slow.commit()
    slow.close()
    assert [e.event["messageId"] for e in pg.read_after(0, ["web"], 10, part)] == ["late", "early"]


def test_leases_are_shared_fairly_handed_back_and_taken_over_when_they_expire(pg):
    first = pg.heartbeat("w1", ["d"], 60)
    assert len(first.held) == 4 and first.others is None
    second = pg.heartbeat("w2", ["d"], 60)
    assert second.held == [] and second.others == "1 other worker(s)"  # nothing free yet
    first = pg.heartbeat("w1", ["d"], 60)
    assert len(first.held) == 2 and len(first.surplus) == 2  # its fair share is half now
    pg.release("w1", first.surplus)
    second = pg.heartbeat("w2", ["d"], 60)
    assert len(second.held) == 2
    assert {x.partition for x in first.held} | {x.partition for x in second.held} == {0, 1, 2, 3}
    # w1 stops renewing: once its leases expire (1 s ttl here) w2 takes them, with a new epoch.
    pg.heartbeat("w1", ["d"], 1)
    time.sleep(1.1)
    taken = pg.heartbeat("w2", ["d"], 1)
    assert len(taken.held) == 4
    moved = {x.partition: x.epoch for x in taken.held if x.partition in {y.partition for y in first.held}}
    assert moved and all(epoch == 2 for epoch in moved.values())


def test_a_write_on_a_lost_lease_is_fenced_and_writes_nothing(pg):
    part = partition_of(ev("m0", user="x"), 4)
    start = pg.ensure_cursor("d", part).result()
    pg.append("web", [ev("m0", user="x")], 1.0).result()
    [event] = pg.read_after(start, ["web"], 10, part)
    [old] = [x for x in pg.heartbeat("w1", ["d"], 1).held if x.partition == part]
    time.sleep(2.1)  # w1's lease expired, and w1 no longer counts as alive for a 2 s ttl: w2 takes every partition
    [new] = [x for x in pg.heartbeat("w2", ["d"], 2).held if x.partition == part]
    assert new.epoch == old.epoch + 1
    with pytest.raises(LeaseLost):
        pg.record("d", [DeliveryRecord(event.seq, "s", "delivered", 1)], event.position, part, old).result()
    assert pg.cursor("d", part) == start and log(pg, 10) == []
    pg.record("d", [DeliveryRecord(event.seq, "s", "delivered", 1)], event.position, part, new).result()
    assert pg.cursor("d", part) == event.position and len(log(pg, 10)) == 1


def test_the_store_reports_unavailable_while_the_database_is_down_and_recovers_by_itself():
    cluster = PostgresCluster().start()
    try:
        store = PostgresStore(cluster.create_database("events"))
        try:
            assert store.append("web", [ev("before")], 1.0).result().accepted == 1
            cluster.stop("immediate")
            with pytest.raises(StoreUnavailable):
                store.append("web", [ev("during")], 1.0).result()
            with pytest.raises(StoreUnavailable):
                store.last_seq()
            assert store.unavailable and "cannot be reached" in store.unavailable
            cluster.start()
            deadline = time.monotonic() + 20
            while True:  # the pool reconnects by itself; the writer on its next group
                try:
                    result = store.append("web", [ev("after")], 1.0).result()
                    break
                except StoreUnavailable:
                    assert time.monotonic() < deadline, "the store did not recover"
                    time.sleep(0.2)
            assert result.accepted == 1 and store.unavailable is None
            assert store.last_seq() >= 2
        finally:
            store.close()
    finally:
        cluster.kill()


@pytest.mark.anyio
async def test_two_workers_share_the_partitions_and_deliver_every_event_once(tmp_path, pg, pg_url):
    sandbox = InProcessSandbox()
    config = load(tmp_path, sandbox, {"a": US_KEY})
    other = PostgresStore(pg_url)
    options = DeliveryOptions(batch_age=0, poll_interval=0.01, lease_ttl=1.5)
    workers = [
        Worker(
            s,
            [(config.destinations[0], ["web"])],
            RetryPolicy(),
            options,
            client_factory=lambda d: d.create_client(transport=sandbox.transport()),
        )
        for s in (pg, other)
    ]
    try:
        for w in workers:
            await w.start()
        await asyncio.sleep(1.2)  # a heartbeat or two: the first worker hands half back, the second takes it
        pg.append("web", [track(n) for n in range(200)], time.time()).result()
        for _ in range(300):
            delivered = Counter(
                i["properties"]["n"] for c in sandbox.calls("http") if c["status"] == 200 for i in c["body"]["batch"]
            )
            if len(delivered) == 200:
                break
            await asyncio.sleep(0.02)
        assert sorted(delivered) == list(range(200)) and set(delivered.values()) == {1}
        holders = Counter(holder for _, _, holder, _, live in pg.leases() if live)
        assert sorted(holders.values()) == [2, 2], holders
    finally:
        for w in workers:
            await w.stop()
        other.close()
