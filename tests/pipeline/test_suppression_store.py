"""The store's side of erasure and suppression, on both backends: the durable list, the purge of a user's events
with their delivery-log rows and dead letters (in chunks), drop counts, and `status`'s privacy counts."""

from __future__ import annotations

import pytest

from actions_1flow.pipeline import DeliveryRecord, FilterReason
from actions_1flow.pipeline.stores import core

from .conftest import execute, log


def ev(mid: str, **ids) -> dict:
    return {"type": "track", "event": "E", "messageId": mid, "properties": {"email": "x@y.z"}, **ids}


def stored_ids(store) -> list[str]:
    return sorted(row[0] for row in execute(store, "SELECT message_id FROM events"))


def test_the_list_is_durable_and_lifted_by_unsuppress(open_store_at):
    store = open_store_at()
    assert store.suppress("userId", "u1", 100.0).result() is True
    assert store.suppress("userId", "u1", 200.0).result() is False  # already: keeps its first date
    assert store.suppress("anonymousId", "a1", 150.0).result() is True
    again = open_store_at()  # as another process sees it
    assert [(s.kind, s.value, s.created_at, s.dropped) for s in again.suppressions()] == [
        ("userId", "u1", 100.0, 0),
        ("anonymousId", "a1", 150.0, 0),
    ]
    again.count_suppressed({("userId", "u1"): 3, ("userId", "gone"): 5}).result()
    again.count_suppressed({("userId", "u1"): 2}).result()
    assert {s.value: s.dropped for s in store.suppressions()} == {"u1": 5, "a1": 0}
    assert store.unsuppress("userId", "u1").result() is True
    assert store.unsuppress("userId", "u1").result() is False
    assert [s.value for s in again.suppressions()] == ["a1"]


@pytest.mark.parametrize("chunk", [20_000, 2])
def test_purge_erases_a_users_events_and_every_row_of_theirs(store, monkeypatch, chunk):
    monkeypatch.setattr(core, "PURGE_CHUNK", chunk)
    nul = {**ev("m2", userId="u2"), "context": {"note": "a\x00b"}}  # a NUL, which PostgreSQL's jsonb refuses
    store.append("web", [ev("m1", userId="u1"), nul, ev("m3", userId="u1", anonymousId="a9")], 1.0).result()
    store.append("web", [ev("m4", anonymousId="a1"), ev("m5", userId=7), ev("m6", userId="u1")], 2.0).result()
    store.record(
        "d",
        [
            DeliveryRecord(1, "Track Event", "delivered", attempts=1),
            DeliveryRecord(2, "Track Event", "delivered", attempts=1),
            DeliveryRecord(3, "Track Event", "dead", attempts=1, error="401"),
            DeliveryRecord(3, "", "filtered", error="consent: C0002 not granted", reason=FilterReason.CONSENT),
            DeliveryRecord(6, "Track Event", "retrying", attempts=1, next_attempt_at=0.0, error="503"),
        ],
    ).result()
    total = [0, 0, 0]
    after: int | None = 0
    steps = 0
    while after is not None:
        step = store.purge("userId", "u1", after).result()
        total = [total[0] + step.events, total[1] + step.deliveries, total[2] + step.dead_letters]
        after, steps = step.next, steps + 1
    assert total == [3, 4, 1]
    assert steps == (1 if chunk > 6 else 4)  # the last step finds the end
    assert stored_ids(store) == ["m2", "m4", "m5"]
    assert [(e.message_id, e.status) for e in log(store, 100)] == [("m2", "delivered")]
    assert store.due("d", 1e12, 10) == [] and store.requeue(0, 1e12, None, 1e12, dry_run=True).result().moved == 0
    assert execute(store, "SELECT count(*) FROM deliveries") == [(1,)]  # no row of theirs left behind
    n = store.purge("anonymousId", "a1").result()
    assert (n.events, n.deliveries) == (1, 0) and stored_ids(store) == ["m2", "m5"]
    assert store.purge("userId", "7").result().events == 1  # a numeric userId matches its text
    assert stored_ids(store) == ["m2"]


def test_counts_tell_privacy_filters_apart(store):
    store.append("web", [ev(f"m{i}", userId="u") for i in range(1, 5)], 1.0).result()
    store.record(
        "d",
        [
            DeliveryRecord(1, "", "filtered", error="consent: no stamp", reason=FilterReason.CONSENT),
            DeliveryRecord(2, "", "filtered", error="consent: C0002 not granted", reason=FilterReason.CONSENT),
            DeliveryRecord(3, "", "filtered", error="suppressed: …", reason=FilterReason.SUPPRESSED),
            DeliveryRecord(4, "", "filtered", error="matched no subscription", reason=FilterReason.NO_MATCH),
        ],
    ).result()
    [counts] = store.counts({"d": ["web"]})
    assert counts.by_status == {"filtered": 4}
    assert counts.filtered_by == {"consent": 2, "suppressed": 1, "no_match": 1}
