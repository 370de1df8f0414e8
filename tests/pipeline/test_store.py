"""The store contract on both backends (`store` is parametrized over SQLite and PostgreSQL, see conftest): durable
group-committed appends, dedup, cursors, delivery log, retries, replay, pruning. What only SQLite has (its files,
its lock file, its layout check) is tested on `sqlite_store`/SQLite files."""

from __future__ import annotations

import os
import threading
import time

import pytest

from actions_1flow.pipeline import DeliveryRecord, SQLiteStore, StoreError
from actions_1flow.pipeline.stores import core

from .conftest import execute, log, set_cursor


def ev(mid: str, **extra) -> dict:
    return {"type": "track", "event": "E", "userId": "u", "messageId": mid, **extra}


def test_append_is_durable_and_readable_from_a_new_process_view(store, open_store_at):
    result = store.append("web", [ev("m1"), ev("m2")], 100.0).result()
    assert (result.accepted, result.duplicates) == (2, 0)
    other = open_store_at()  # a second opener (as a separate `worker` process would be) sees them
    events = other.read_after(0, ["web"], 10)
    assert [e.event["messageId"] for e in events] == ["m1", "m2"]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert [e.position for e in events] == sorted(e.position for e in events)
    assert events[0].received_at == 100.0 and events[0].source == "web"


def test_the_same_message_id_through_two_openers_is_stored_once(store, open_store_at):
    other = open_store_at()  # two servers on one store: the database's unique key decides
    assert store.append("web", [ev("m1")], 1.0).result().accepted == 1
    assert other.append("web", [ev("m1"), ev("m2")], 1.0).result().accepted == 1
    assert [e.event["messageId"] for e in store.read_after(0, ["web"], 10)] == ["m1", "m2"]


def test_duplicate_message_ids_are_acknowledged_but_stored_once_per_source(store):
    store.append("web", [ev("m1")], 1.0).result()
    again = store.append("web", [ev("m1"), ev("m2"), ev("m2")], 2.0).result()
    assert (again.accepted, again.duplicates) == (1, 2)
    other_source = store.append("server", [ev("m1")], 3.0).result()
    assert other_source.accepted == 1
    assert len(store.read_after(0, ["web"], 10)) == 2
    assert len(store.read_after(0, ["web", "server"], 10)) == 3


def test_many_concurrent_appends_are_group_committed_and_all_kept(store):
    def client(n: int) -> None:
        for i in range(50):
            store.append("web", [ev(f"{n}-{i}")], 1.0).result()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.read_after(0, ["web"], 1000)) == 400


def test_a_failing_operation_does_not_undo_its_group(store):
    def boom(conn):
        conn.execute(
            "INSERT INTO device_events (received_at, source, destination, kind, message) VALUES (1, 'w', 'd', 'k', 'x')"
        )
        conn.execute("INSERT INTO cursors (destination) VALUES ('x')")  # no position: the database refuses

    f_before = store.append("web", [ev("before")], 1.0)
    f_bad = store.submit(boom)
    f_good = store.append("web", [ev("ok")], 1.0)
    with pytest.raises(Exception, match=r"(?i)not null|null value"):
        f_bad.result()
    assert f_before.result().accepted == 1 and f_good.result().accepted == 1
    assert store.cursor("x") == 0 and store.device_events(10) == []  # all of the bad op undone, nothing else


def test_cursor_starts_at_the_end_of_the_log_for_a_new_destination(store):
    store.append("web", [ev("old")], 1.0).result()
    start = store.ensure_cursor("d1").result()
    assert store.read_after(start, ["web"], 10) == []
    store.append("web", [ev("new")], 2.0).result()
    assert [e.event["messageId"] for e in store.read_after(store.cursor("d1"), ["web"], 10)] == ["new"]
    assert store.ensure_cursor("d1").result() == start  # idempotent


def test_record_upserts_and_advances_cursor_atomically(store):
    store.append("web", [ev("m1"), ev("m2")], 1.0).result()
    store.ensure_cursor("d").result()  # at 2 now; rewind for the test
    set_cursor(store, "d", 0)
    [first, second] = store.read_after(0, ["web"], 10)
    store.record(
        "d",
        [
            DeliveryRecord(1, "Track Event", "delivered", attempts=1, first_attempt_at=5.0, request="POST /batch"),
            DeliveryRecord(
                2, "Track Event", "retrying", attempts=1, first_attempt_at=5.0, next_attempt_at=50.0, error="503"
            ),
        ],
        cursor=second.position,
    ).result()
    assert store.cursor("d") == second.position
    store.record("d", [], cursor=first.position).result()
    assert store.cursor("d") == second.position  # never moves backwards
    assert store.due("d", 49.0, 10) == []
    [due] = store.due("d", 50.0, 10)
    assert (due.event.event["messageId"], due.subscription, due.attempts, due.first_attempt_at) == (
        "m2",
        "Track Event",
        1,
        5.0,
    )
    store.record("d", [DeliveryRecord(2, "Track Event", "delivered", attempts=2, first_attempt_at=60.0)]).result()
    assert store.due("d", 1e12, 10) == []
    rows = {e.message_id: e for e in log(store, 10)}
    assert rows["m2"].status == "delivered" and rows["m2"].attempts == 2
    assert rows["m1"].request == "POST /batch"


def test_a_round_of_rows_not_a_multiple_of_any_statement_size_is_recorded_row_for_row(store):
    # 237 rows: SQLite writes them in statements of 100, 10 and 1 rows; each row's values must land in its own row
    store.append("web", [ev(f"m{i}") for i in range(237)], 1.0).result()
    events = store.read_after(0, ["web"], 300)
    rows = [
        DeliveryRecord(e.seq, "Track Event", "retrying", attempts=i + 1, next_attempt_at=1000.0 + i, error=f"e{i}")
        for i, e in enumerate(events)
    ]
    store.record("d", rows, cursor=events[-1].position).result()
    stored = execute(store, "SELECT event_seq, attempts, next_attempt_at, error FROM deliveries ORDER BY event_seq")
    assert stored == [(e.seq, i + 1, 1000.0 + i, f"e{i}") for i, e in enumerate(events)]


def test_a_round_of_rows_differing_in_a_few_columns_lands_row_for_row_in_round_order(store):
    # Rows differing only in event, subscription and attempts: SQLite writes them in one statement, the differing
    # columns as one JSON array; each row's values must land in its own row, in the round's order.
    store.append("web", [ev(f"m{i}") for i in range(301)], 1.0).result()
    events = store.read_after(0, ["web"], 400)
    rows = [
        DeliveryRecord(e.seq, ("Forward Track", "Forward Page")[i % 3 == 0], "delivered", attempts=1 + i % 2)
        for i, e in enumerate(events)
    ]
    store.record("d", rows, cursor=events[-1].position).result()
    stored = execute(store, "SELECT event_seq, subscription, status, attempts FROM deliveries ORDER BY id")
    assert stored == [(r.event_seq, r.subscription, r.status, r.attempts) for r in rows]  # the log lists it in order


def test_the_same_row_twice_in_a_round_is_recorded_once(sqlite_store):
    # (nothing differs between the rows: SQLite writes them one by one, not as an empty JSON array)
    sqlite_store.append("web", [ev("m1")], 1.0).result()
    row = DeliveryRecord(1, "Track Event", "delivered", attempts=1)
    sqlite_store.record("d", [row, row]).result()
    assert execute(sqlite_store, "SELECT event_seq, subscription, status, attempts FROM deliveries") == [
        (1, "Track Event", "delivered", 1)
    ]


def test_a_nul_in_a_text_that_differs_within_a_round_is_kept(sqlite_store):
    # SQLite's JSON functions end a text at U+0000: such rows are bound value by value
    sqlite_store.append("web", [ev("m1"), ev("m2")], 1.0).result()
    rows = [DeliveryRecord(1, "a\x00b", "delivered", attempts=1), DeliveryRecord(2, "c", "delivered", attempts=1)]
    sqlite_store.record("d", rows).result()
    assert execute(sqlite_store, "SELECT subscription FROM deliveries ORDER BY id") == [("a\x00b",), ("c",)]


@pytest.mark.parametrize(
    "first_at",
    [pytest.param((5.0, 7.0), id="times differ"), pytest.param((5.0, 5.0), id="only status and attempts differ")],
)
def test_a_later_row_of_the_same_delivery_in_one_round_wins(sqlite_store, first_at):
    sqlite_store.append("web", [ev("m1")], 1.0).result()
    first = DeliveryRecord(1, "Track Event", "retrying", attempts=1, first_attempt_at=first_at[0], error="503")
    later = DeliveryRecord(1, "Track Event", "delivered", attempts=2, first_attempt_at=first_at[1])
    sqlite_store.record("d", [first, later]).result()
    rows = execute(sqlite_store, "SELECT status, attempts, first_attempt_at, error FROM deliveries")
    assert rows == [("delivered", 2, 5.0, None)]  # as two statements in a row would leave it


def test_requeue_dead_is_windowed_and_safe_to_run_twice(store):
    store.append("web", [ev("early")], 10.0).result()
    store.append("web", [ev("late")], 20.0).result()
    store.record(
        "d",
        [
            DeliveryRecord(1, "s", "dead", attempts=3, error="401"),
            DeliveryRecord(2, "s", "dead", attempts=3, error="401"),
        ],
    ).result()
    now = time.time() + 1
    assert store.requeue(15.0, 25.0, None, now=now, dry_run=True).result().moved == 1
    assert [e.status for e in log(store, 10)] == ["dead", "dead"]  # dry run changed nothing
    assert store.requeue(15.0, 25.0, "d", now=now).result().moved == 1
    assert store.requeue(15.0, 25.0, "d", now=now).result().moved == 0
    [due] = store.due("d", now, 10)
    assert due.event.event["messageId"] == "late" and due.attempts == 0 and due.first_attempt_at is None
    assert store.requeue(0.0, 100.0, "other", now=now).result().moved == 0
    [late] = [e for e in log(store, 10) if e.message_id == "late"]
    assert (late.status, late.replays) == ("retrying", 1)


def test_requeue_in_chunks_never_takes_a_delivery_that_failed_again_after_the_replay_began(store, monkeypatch):
    monkeypatch.setattr(core, "REQUEUE_CHUNK", 2)
    store.append("web", [ev(f"m{i}") for i in range(5)], 10.0).result()
    store.record("d", [DeliveryRecord(i, "s", "dead") for i in range(1, 6)]).result()
    started = time.time() + 1
    step = store.requeue(0.0, 100.0, "d", now=started).result()
    assert (step.moved, step.next) == (2, 2)
    # The worker tries one of them, it fails again and is dead-lettered anew (after the replay began).
    time.sleep(0.01)
    execute(store, "UPDATE deliveries SET status = 'dead', updated_at = ? WHERE event_seq = 1", (started + 5,))
    step = store.requeue(0.0, 100.0, "d", now=started, after=step.next).result()
    assert (step.moved, step.next) == (2, 4)
    step = store.requeue(0.0, 100.0, "d", now=started, after=step.next).result()
    assert (step.moved, step.next) == (1, None)
    assert store.requeue(0.0, 100.0, "d", now=started).result().moved == 0  # not event 1 again: no loop
    assert [e.message_id for e in log(store, 10, failed_only=True) if e.status == "dead"] == ["m0"]


def test_record_shares_one_exchange_per_request_and_log_shows_it(store):
    store.append("web", [ev("a"), ev("b")], 1.0).result()
    store.record(
        "d",
        [
            DeliveryRecord(
                1, "s", "delivered", attempts=1, request="POST /batch [api_key: ****abcd]", response="200 ok"
            ),
            DeliveryRecord(
                2, "s", "delivered", attempts=1, request="POST /batch [api_key: ****abcd]", response="200 ok"
            ),
        ],
    ).result()
    assert execute(store, "SELECT count(*) FROM exchanges") == [(1,)]
    assert {(e.request, e.response) for e in log(store, 10)} == {("POST /batch [api_key: ****abcd]", "200 ok")}
    store.record("d", [DeliveryRecord(2, "s", "retrying", attempts=2, next_attempt_at=9.0, error="503")]).result()
    [b] = [e for e in log(store, 10) if e.message_id == "b"]
    assert (b.status, b.request) == ("retrying", "POST /batch [api_key: ****abcd]")  # the last exchange stays shown


def test_counts_per_destination(store):
    store.append("web", [ev("a"), ev("b"), ev("c")], time.time() - 60).result()
    store.append("srv", [ev("z")], time.time()).result()
    set_cursor(store, "d", 1)
    store.record(
        "d",
        [
            DeliveryRecord(1, "s", "delivered"),
            DeliveryRecord(2, "s", "retrying", next_attempt_at=1e12),
        ],
    ).result()
    [counts] = store.counts({"d": ["web"]})
    assert counts.received == 3
    assert counts.by_status == {"delivered": 1, "retrying": 1}
    assert counts.pending == 3  # events 2 and 3 after the cursor, plus one retrying delivery
    assert counts.oldest_pending_at is not None and counts.oldest_pending_at < time.time() - 30


def test_log_filters_failed(store):
    store.append("web", [ev("a"), ev("b")], 1.0).result()
    store.record(
        "d",
        [
            DeliveryRecord(1, "s", "delivered"),
            DeliveryRecord(2, "s", "dead", error="401", hint="check the Project API Key"),
        ],
    ).result()
    [failed] = log(store, 10, failed_only=True)
    assert (failed.message_id, failed.status, failed.hint, failed.event_type) == (
        "b",
        "dead",
        "check the Project API Key",
        "track",
    )


def prune_all(store, before, dead_before, destinations, kept=None):
    removed, after = 0, 0
    while after is not None:
        n, after = store.prune(before, dead_before, destinations, after, kept).result()
        removed += n
    return removed


def test_prune_keeps_dedup_for_events_still_needed(store):
    store.append("web", [ev("a"), ev("b"), ev("c"), ev("d")], 1.0).result()
    store.append("web", [ev("young")], 50.0).result()
    set_cursor(store, "d", 4)
    store.record(
        "d",
        [
            DeliveryRecord(1, "s", "delivered"),
            DeliveryRecord(2, "s", "dead"),
            DeliveryRecord(3, "s", "retrying", next_attempt_at=1e12),
        ],
    ).result()
    # a: delivered and old → gone; b: dead, within the log retention → kept; c: retrying → kept;
    # d: old, matched nothing recorded → gone; young: inside the dedup window → kept.
    assert prune_all(store, before=10.0, dead_before=0.0, destinations=["d"]) == 2
    assert store.append("web", [ev("a"), ev("d")], 60.0).result().accepted == 2  # past the window: new again
    assert store.append("web", [ev("b"), ev("c"), ev("young")], 60.0).result().duplicates == 3
    assert sorted(e.message_id for e in log(store, 10, failed_only=True)) == ["b", "c"]
    # Once the dead letter is older than the log retention it goes too, with its event.
    assert prune_all(store, before=10.0, dead_before=time.time() + 1, destinations=["d"]) == 1
    assert store.append("web", [ev("b")], 70.0).result().accepted == 1


def test_a_source_with_a_longer_dedup_window_keeps_its_events_past_the_ordinary_one(store):
    """A webhook source whose sender retries for days (1Flow: hourly for 3 days) keeps its messageIds for its own
    window; the other sources' events go at the ordinary one, around and after it."""
    store.append("web", [ev("w1")], 1.0).result()
    store.append("survey", [ev("1flow-a")], 2.0).result()
    store.append("web", [ev("w2")], 3.0).result()
    store.append("survey", [ev("1flow-b")], 4.0).result()
    set_cursor(store, "d", 4)
    # Ordinary window: gone before 10; the survey source's: gone before 3 (only its first event is that old).
    assert prune_all(store, before=10.0, dead_before=0.0, destinations=["d"], kept={"survey": 3.0}) == 3
    assert [e.event["messageId"] for e in store.read_after(0, ["web", "survey"], 10)] == ["1flow-b"]
    assert store.append("survey", [ev("1flow-b")], 11.0).result().duplicates == 1  # a retry after the ordinary window
    assert store.append("survey", [ev("1flow-a")], 11.0).result().accepted == 1  # past its own window: new again


def test_prune_never_passes_a_destination_cursor_and_seqs_are_never_reused(store):
    store.append("web", [ev(f"m{i}") for i in range(12)], 1.0).result()
    set_cursor(store, "fast", 12)
    set_cursor(store, "slow", 3)
    assert prune_all(store, before=10.0, dead_before=10.0, destinations=["fast", "slow"]) == 3
    assert [e.seq for e in store.read_after(0, ["web"], 100)] == list(range(4, 13))
    assert prune_all(store, before=10.0, dead_before=10.0, destinations=["fast", "slow", "new"]) == 0  # no cursor yet
    set_cursor(store, "slow", 12)
    end = store.cursor("slow")
    assert prune_all(store, before=10.0, dead_before=10.0, destinations=["fast", "slow"]) == 9
    store.append("web", [ev("after")], 20.0).result()
    assert [e.seq for e in store.read_after(end, ["web"], 10)] == [13]  # not 1: cursors stay meaningful


def test_prune_lets_go_of_a_removed_destinations_retries_after_the_log_retention(store):
    store.append("web", [ev("a")], 1.0).result()
    set_cursor(store, "kept", 1)
    set_cursor(store, "removed", 1)
    store.record("removed", [DeliveryRecord(1, "s", "retrying", next_attempt_at=1e12)]).result()
    assert prune_all(store, before=10.0, dead_before=0.0, destinations=["kept"]) == 0  # within the retention
    assert prune_all(store, before=10.0, dead_before=time.time() + 1, destinations=["kept"]) == 1
    assert log(store, 10) == []


def test_prune_goes_in_chunks(store, monkeypatch):
    from actions_1flow.pipeline.stores import postgres, sqlite

    monkeypatch.setattr(sqlite, "PRUNE_CHUNK", 4)
    monkeypatch.setattr(postgres, "PRUNE_CHUNK", 4)
    store.append("web", [ev(f"m{i}") for i in range(10)], 1.0).result()
    store.ensure_cursor("d").result()
    first = store.prune(10.0, 10.0, ["d"], 0).result()
    assert first == (4, 4)
    assert prune_all(store, before=10.0, dead_before=10.0, destinations=["d"]) == 6
    assert store.read_after(0, ["web"], 100) == []


def test_prune_goes_past_whole_chunks_of_events_a_longer_window_keeps(store, monkeypatch):
    from actions_1flow.pipeline.stores import postgres, sqlite

    monkeypatch.setattr(sqlite, "PRUNE_CHUNK", 2)
    monkeypatch.setattr(postgres, "PRUNE_CHUNK", 2)
    store.append("survey", [ev(f"s{i}") for i in range(5)], 1.0).result()
    store.append("web", [ev(f"w{i}") for i in range(3)], 1.0).result()
    store.ensure_cursor("d").result()
    set_cursor(store, "d", 8)
    assert prune_all(store, before=10.0, dead_before=10.0, destinations=["d"], kept={"survey": 0.5}) == 3
    assert [e.source for e in store.read_after(0, ["web", "survey"], 100)] == ["survey"] * 5


def test_closed_store_refuses_writes(open_store_at):
    s = open_store_at()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.append("web", [ev("a")], 1.0)


def test_delivery_lock_is_exclusive_per_store_file_and_released_on_close(tmp_path):
    first, second = SQLiteStore(tmp_path / "x.db"), SQLiteStore(tmp_path / "x.db")
    try:
        assert first.acquire_delivery_lock() is None
        assert first.acquire_delivery_lock() is None  # already held: still ours
        assert second.acquire_delivery_lock() == f"pid {os.getpid()}"
        first.close()
        assert second.acquire_delivery_lock() is None
    finally:
        first.close()
        second.close()


def test_prune_drops_device_reports_past_the_log_retention(store):
    from actions_1flow.pipeline import DeviceEvent

    store.record_device_event(DeviceEvent(5.0, "web", "1flow", "sdk-load", "old")).result()
    store.record_device_event(DeviceEvent(50.0, "web", "1flow", "sdk-load", "recent")).result()
    assert prune_all(store, before=100.0, dead_before=10.0, destinations=[]) == 1
    assert [e.message for e in store.device_events(10)] == ["recent"]


def test_a_store_file_of_another_layout_is_refused_with_a_reason(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB)")
    old.commit()
    old.close()
    with pytest.raises(StoreError, match="written by another version of actions-1flow"):
        SQLiteStore(tmp_path / "old.db")
    SQLiteStore(tmp_path / "new.db").close()
    SQLiteStore(tmp_path / "new.db").close()  # its own files open again


def test_requeue_dead_of_one_event_leaves_the_others(store):
    store.append("web", [ev("a"), ev("b")], 10.0).result()  # received together: no time range tells them apart
    store.record("d", [DeliveryRecord(1, "s", "dead"), DeliveryRecord(2, "s", "dead")]).result()
    now = time.time() + 1
    found = store.find_event("b", ["web"])
    assert found is not None and found.seq == 2
    assert store.requeue(0.0, now, "d", now, dry_run=True, event=found.seq).result().moved == 1
    assert store.requeue(0.0, now, "d", now, event=found.seq).result().moved == 1
    assert {e.message_id: e.status for e in log(store, 10)} == {"a": "dead", "b": "retrying"}
    assert [r.entry.message_id for r in store.event_log(found.seq)] == ["b"]
    assert store.find_event("b", ["other"]) is None
