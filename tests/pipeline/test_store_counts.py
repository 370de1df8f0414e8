"""Counts kept as rows are written (both backends): `counts()` from the kept totals equals what counting the rows
says (the queries `counts()` ran before, kept here as the reference) after every kind of write, and `activity()`
buckets equal the outcomes recorded."""

from __future__ import annotations

import time

import pytest

from actions_1flow.pipeline import DeliveryRecord, FilterReason
from actions_1flow.pipeline.store import STATUSES

from .conftest import execute, is_postgres, set_cursor

SOURCES = {"d": ["web", "app"], "late": ["web"], "never": ["app"], "idle": [], "ahead": ["web"]}


def ev(mid: str, user: str) -> dict:
    return {"type": "track", "event": "E", "userId": user, "messageId": mid}


def reference(store, destinations: dict[str, list[str]]) -> list[tuple]:
    """The figures counted from the rows themselves."""
    pg = is_postgres(store)
    per_source = dict(execute(store, "SELECT source, count(*) FROM events GROUP BY source"))
    by_status: dict[str, dict[str, int]] = {}
    for dest, status, n in execute(store, "SELECT destination, status, count(*) FROM deliveries GROUP BY 1, 2"):
        by_status.setdefault(dest, {})[status] = n
    filtered_by: dict[str, dict[str, int]] = {}
    for dest, reason, n in execute(
        store, "SELECT destination, reason, count(*) FROM deliveries WHERE status = 'filtered' GROUP BY 1, 2"
    ):
        filtered_by.setdefault(dest, {})[reason] = n
    out = []
    for dest, sources in destinations.items():
        pending, oldest = 0, None
        if sources:
            if pg:
                query = (
                    "SELECT count(*), min(e.received_at) FROM events e LEFT JOIN cursors c ON c.destination = ? "
                    "AND c.part = e.part WHERE e.source = ANY(?) "
                    "AND (c.destination IS NULL OR (e.xid, e.seq) > (c.xid, c.seq))"
                )
                ((n, first),) = execute(store, query, (dest, sources))
            else:
                cursor = store.cursor(dest)
                marks = ",".join("?" * len(sources))
                ((n, first),) = execute(
                    store,
                    f"SELECT count(*), min(received_at) FROM events WHERE seq > ? AND source IN ({marks})",
                    (cursor, *sources),
                )
            ((retry_n, retry_first),) = execute(
                store,
                "SELECT count(*), min(e.received_at) FROM deliveries d JOIN events e ON e.seq = d.event_seq "
                "WHERE d.destination = ? AND d.status = 'retrying'",
                (dest,),
            )
            pending = n + retry_n
            present = [t for t in (first, retry_first) if t is not None]
            oldest = min(present) if present else None
        received = sum(per_source.get(s, 0) for s in sources)
        out.append((dest, received, pending, by_status.get(dest, {}), filtered_by.get(dest, {}), oldest))
    return out


def kept(store, destinations: dict[str, list[str]]) -> list[tuple]:
    return [
        (c.destination, c.received, c.pending, c.by_status, c.filtered_by, c.oldest_pending_at)
        for c in store.counts(destinations)
    ]


def check(store) -> None:
    assert kept(store, SOURCES) == reference(store, SOURCES)


OUTCOMES = [
    ("delivered", None, None),
    ("filtered", "consent: category Advertising not granted", FilterReason.CONSENT),
    ("filtered", "suppressed userId", FilterReason.SUPPRESSED),
    ("filtered", "matched no subscription", FilterReason.NO_MATCH),
    ("filtered", "not sent: Identify needs a userId", FilterReason.REFUSED),
    ("retrying", "503 from 1Flow", None),
    ("dead", "400 from 1Flow", None),
]


def deliver(store, destination: str, sources: list[str], limit: int) -> list[int]:
    """Read up to `limit` events per partition after the cursor; record one outcome each (cycling through
    OUTCOMES) and move the cursor past them. Returns the event ids recorded."""
    seen = []
    for part in range(store.partitions):
        cursor = store.ensure_cursor(destination, part).result()
        events = store.read_after(cursor, sources, limit, part)
        records = []
        for e in events:
            status, error, reason = OUTCOMES[len(seen) % len(OUTCOMES)]
            records.append(
                DeliveryRecord(
                    e.seq,
                    "sub",
                    status,
                    attempts=1,
                    first_attempt_at=time.time(),
                    error=error,
                    next_attempt_at=time.time() - 1 if status == "retrying" else None,
                    reason=reason,
                )
            )
            seen.append(e.seq)
        if events:
            store.record(destination, records, cursor=events[-1].position, partition=part).result()
    return seen


@pytest.fixture
def counted(open_store_at):
    return open_store_at(partitions=4)


def test_kept_counts_equal_the_rows_after_every_kind_of_write(counted):
    store = counted
    check(store)
    store.ensure_cursor("d").result()
    start = time.time() - 7200
    for i in range(6):  # receipt times follow the log, as they do when one clock stamps them
        users = [f"u{(i * 5 + j) % 7}" for j in range(5)]
        store.append("web", [ev(f"w{i}-{j}", u) for j, u in enumerate(users)], start + i * 60).result()
        store.append("app", [ev(f"a{i}-{j}", u) for j, u in enumerate(users[:2])], start + i * 60 + 1).result()
    store.append("web", [ev("w0-0", "u0"), ev("w0-1", "u1")], start + 400).result()  # duplicates: not counted
    store.ensure_cursor("late").result()  # a new destination starts at the end of the log
    check(store)

    deliver(store, "d", SOURCES["d"], 9)
    check(store)
    deliver(store, "late", SOURCES["late"], 100)
    store.append("web", [ev("w9-0", "u1"), ev("w9-1", "u5")], start + 500).result()
    check(store)

    retried = 0
    for part in range(store.partitions):  # retried: delivered, dead, or failing again
        records = [
            DeliveryRecord(
                d.event.seq,
                "sub",
                status,
                attempts=2,
                error="again",
                next_attempt_at=time.time() + 60 if status == "retrying" else None,
            )
            for i, d in enumerate(store.due("d", time.time(), 100, part))
            for status in [("delivered", "dead", "retrying")[i % 3]]
        ]
        retried += len(records)
        store.record("d", records, partition=part).result()
    assert retried
    check(store)

    assert store.requeue(0.0, time.time(), "d", now=time.time()).result().moved > 0
    check(store)

    set_cursor(store, "late", 3)  # backwards by hand (partition 0), recounted; then forwards again
    check(store)
    deliver(store, "late", SOURCES["late"], 2)
    check(store)

    assert store.suppress("userId", "u3", time.time()).result()
    store.count_suppressed({("userId", "u3"): 4}).result()
    after: int | None = 0
    erased = 0
    while after is not None:
        result = store.purge("userId", "u3", after).result()
        erased, after = erased + result.events + result.deliveries, result.next
    assert erased
    check(store)

    after, pruned = 0, 0
    while after is not None:  # everything old that both destinations passed, with its delivered/filtered rows
        n, after = store.prune(time.time() + 10, 0.0, ["d", "late"], after).result()
        pruned += n
    assert pruned
    check(store)
    store.ensure_cursor("ahead").result()  # a new destination after pruning: at the log's end
    check(store)
    store.append("web", [ev(f"x{i}", "u1") for i in range(5)], time.time()).result()
    check(store)


def test_activity_counts_each_status_a_delivery_enters_in_the_minute_it_entered_it(store):
    store.ensure_cursor("d").result()
    store.ensure_cursor("other").result()
    received_at = time.time() - 1800
    store.append("web", [ev(f"m{i}", f"u{i}") for i in range(6)], received_at).result()
    seqs = [e.seq for e in store.read_after(store.cursor("d"), ["web"], 10)]
    later = time.time() + 60

    def rec(seq: int, status: str, **kw) -> DeliveryRecord:
        return DeliveryRecord(
            seq, "sub", status, attempts=1, next_attempt_at=later if status == "retrying" else None, **kw
        )

    store.record(
        "d",
        [
            rec(seqs[0], "delivered"),
            rec(seqs[1], "filtered", error="consent: no", reason=FilterReason.CONSENT),
            rec(seqs[2], "retrying"),
            rec(seqs[3], "retrying"),
            rec(seqs[4], "dead"),
        ],
    ).result()
    store.record("other", [rec(seqs[5], "delivered")]).result()
    store.record("d", [rec(seqs[2], "retrying", error="503 again"), rec(seqs[3], "delivered")]).result()
    assert store.requeue(0.0, time.time(), "d", now=time.time()).result().moved == 1  # e4: dead → retrying
    past = (int(time.time()) // 60 - 10) * 60 + 7  # ten minutes ago
    with pytest.MonkeyPatch.context() as patch:  # e3 dead-lettered ten minutes ago
        patch.setattr(time, "time", lambda: float(past))
        store.record("d", [rec(seqs[2], "dead", error="400")]).result()
    execute(store, "UPDATE deliveries SET updated_at = ? WHERE event_seq = ?", (past, seqs[0]))  # no new status

    since = time.time() - 3600
    now_bucket = int(time.time()) // 60 * 60
    got = store.activity(["d", "other", "none"], since, 60, sources={"d": ["web"], "other": []})
    series = got["d"]
    assert [t for t, _ in series] == list(range(int(since) // 60 * 60, now_bucket + 1, 60))
    totals = {s: sum(b[s] for _, b in series) for s in (*STATUSES, "received")}
    assert totals == {"delivered": 2, "filtered": 1, "retrying": 3, "dead": 2, "received": 6}
    by_t = dict(series)
    assert by_t[past - 7] == {"delivered": 0, "filtered": 0, "retrying": 0, "dead": 1, "received": 0}
    assert by_t[int(received_at) // 60 * 60]["received"] == 6
    assert sum(b["delivered"] for _, b in got["other"]) == 1
    assert sum(b["received"] for _, b in got["other"]) == 0
    assert all(sum(b.values()) == 0 for _, b in got["none"])

    hourly = store.activity(["d"], time.time() - 7 * 86400, 3600)["d"]
    assert len(hourly) in (168, 169) and set(hourly[0][1]) == set(STATUSES)
    assert {s: sum(b[s] for _, b in hourly) for s in STATUSES} == {
        "delivered": 2,
        "filtered": 1,
        "retrying": 3,
        "dead": 2,
    }

    after: int | None = 0
    while after is not None:  # erasure removes the rows, not what was recorded when
        after = store.purge("userId", "u0", after).result().next
    assert sum(b["delivered"] for _, b in store.activity(["d"], since, 60)["d"]) == 2
    with pytest.raises(ValueError):
        store.activity(["d"], since, 90)
