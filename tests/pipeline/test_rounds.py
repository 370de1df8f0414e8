"""A delivery round's decisions as plain functions, without a store, a client or an event loop: which events are
sent, which are filtered and why, what each outcome makes of a delivery's row, and every trigger judged once."""

from __future__ import annotations

import random

import pytest

from actions_1flow.actions import Exchange, Outcome, OutcomeKind
from actions_1flow.config import parse_config
from actions_1flow.pipeline import FilterReason, RetryPolicy, StoredEvent
from actions_1flow.pipeline.records import DueDelivery, Replay
from actions_1flow.pipeline.rounds import NO_MATCH, Pending, Rules, decide, decide_all
from tests.helpers.sandbox import US_KEY

CONFIG = f"""
sources: [{{name: web, write_key: wk}}]
destinations:
  - name: cloud
    mode: cloud
    settings: {{projectApiKey: "{US_KEY}"}}
    consent: {{categories: [C0001], missing: allow}}
    privacy: {{drop: [traits.email]}}
"""


def rules(config: str = CONFIG) -> Rules:
    return Rules(parse_config(config, "test.yaml").destinations[0], lambda event: event.get("userId") == "gone")


def stored(seq: int, **event: object) -> StoredEvent:
    return StoredEvent(seq, "web", 1.0, {"messageId": f"m{seq}", **event}, seq)


def test_new_events_are_sent_or_filtered_with_their_reason():
    round_ = rules().evaluate_new(
        [
            stored(1, type="track", event="Signed Up", userId="u1"),
            stored(2, type="page", userId="u1"),  # no subscription of the presets
            stored(3, type="identify", anonymousId="a1"),  # the action refuses an Identify without a userId
            stored(4, type="track", event="E", userId="u2", context={"consent": {"categoryPreferences": {"C0001": 0}}}),
            stored(5, type="track", event="E", userId="gone"),
            stored(6, type="identify", userId="u3", traits={"email": "a@b.c", "plan": "pro"}),
        ]
    )
    assert [(p.item.seq, p.subscription) for p in round_.pending] == [(1, "Track Event"), (6, "Identify User")]
    assert round_.pending[1].result is not None and round_.pending[1].result.payload["traits"] == {"plan": "pro"}
    assert [(r.event_seq, r.subscription, r.status, r.reason) for r in round_.settled] == [
        (2, NO_MATCH, "filtered", FilterReason.NO_MATCH),
        (3, "Identify User", "filtered", FilterReason.REFUSED),
        (4, NO_MATCH, "filtered", FilterReason.CONSENT),
        (5, NO_MATCH, "filtered", FilterReason.SUPPRESSED),
    ]
    assert "userId" in (round_.settled[1].error or "")  # the action's own reason, kept
    assert [e.seq for e in round_.events or []] == [1, 2, 3, 4, 5, 6]


def test_each_trigger_is_judged_once_per_event():
    r = rules()
    for compiled in r.enabled:  # all of them are judged together (`Rules.triggers`), never one by one again
        compiled.trigger = None  # type: ignore[assignment]
    round_ = r.evaluate_new([stored(1, type="track", event="E", userId="u1")])
    assert [p.subscription for p in round_.pending] == ["Track Event"]


def test_retries_are_judged_again_as_configured_now():
    subscriptions = """
    subscriptions:
      - {name: Track Event, subscribe: 'type = "track" and event = "Kept"', partnerAction: trackEvent,
         mapping: {event_name: {"@path": "$.event"}, userId: {"@path": "$.userId"}}}
"""
    r = rules(CONFIG + subscriptions)
    due = [
        DueDelivery(stored(1, type="track", event="Kept", userId="u1"), "Track Event", 2, 10.0),
        DueDelivery(stored(2, type="track", event="Changed", userId="u1"), "Track Event", 2, 10.0),
        DueDelivery(stored(3, type="track", event="Kept", userId="u1"), "Removed", 1, 10.0),
        DueDelivery(stored(4, type="track", event="Kept", userId="gone"), "Track Event", 1, 10.0),
    ]
    round_ = r.evaluate_due(due)
    assert [(p.item.seq, p.attempts, p.first_attempt_at) for p in round_.pending] == [(1, 2, 10.0)]
    assert [(x.event_seq, x.status, x.reason, x.attempts) for x in round_.settled] == [
        (2, "filtered", FilterReason.NO_MATCH, 2),
        (3, "dead", None, 1),
        (4, "filtered", FilterReason.SUPPRESSED, 1),
    ]
    assert round_.events is None  # a round of retries moves no cursor


def outcome(kind: OutcomeKind, status: int, retry_after: float | None = None) -> Outcome:
    exchange = Exchange("POST", "https://api.1flow.app/v1/batch", {"api_key": "****abcd"}, "{}", status, {}, "answer")
    return Outcome(kind, (), status, f"{status} answer", "a hint", retry_after, exchange)


@pytest.mark.parametrize(
    ("outcomes", "status", "attempts", "next_at"),
    [
        ([outcome(OutcomeKind.DELIVERED, 200)], "delivered", 1, None),
        ([outcome(OutcomeKind.DELIVERED, 200), outcome(OutcomeKind.PERMANENT, 400)], "dead", 1, None),
        ([outcome(OutcomeKind.RETRYABLE, 503, retry_after=30)], "retrying", 1, (130.0, 1000.0)),
    ],
)
def test_outcomes_decide_the_row(outcomes, status, attempts, next_at):
    p = Pending(stored(1, type="track"), "Track Event", 0, None, outcomes=outcomes)
    row = decide(p, 100.0, RetryPolicy(base=10, cap=300, window=3600), 0.0, {})
    assert (row.status, row.attempts, row.first_attempt_at) == (status, attempts, 100.0)
    if next_at is None:
        assert row.next_attempt_at is None
    else:
        assert next_at[0] <= row.next_attempt_at <= next_at[1]
    assert row.request == "POST https://api.1flow.app/v1/batch [api_key: ****abcd] (0 message(s), 2 bytes)"
    assert row.reason is None


def test_a_retry_waits_for_the_destinations_pause_and_gives_up_after_the_window():
    retryable = [outcome(OutcomeKind.RETRYABLE, 503)]
    p = Pending(stored(1, type="track"), "Track Event", 3, 100.0, outcomes=retryable)
    policy = RetryPolicy(base=10, cap=300, window=3600)
    assert decide(p, 200.0, policy, 900.0, {}).next_attempt_at == 900.0  # paused until then
    late = decide(p, 100.0 + 3600, policy, 0.0, {})
    assert late.status == "dead" and late.error is not None and late.error.startswith("gave up after 4 attempts")


def test_deliveries_decided_together_get_each_its_own_row_as_if_decided_alone():
    ok, refused, busy = (
        outcome(k, s)
        for k, s in ((OutcomeKind.DELIVERED, 200), (OutcomeKind.PERMANENT, 400), (OutcomeKind.RETRYABLE, 503))
    )
    replay = Replay("dead", "abc")
    pending = [
        Pending(stored(1, type="track"), "Track Event", 0, None, outcomes=[ok]),
        Pending(stored(2, type="page"), "Page", 0, None, outcomes=[ok], replay=replay),
        Pending(stored(3, type="track"), "Track Event", 2, 50.0, outcomes=[ok]),  # other attempts before
        Pending(stored(4, type="track"), "Track Event", 0, None, outcomes=[ok, refused]),
        Pending(stored(5, type="track"), "Track Event", 3, 50.0, outcomes=[busy]),
        Pending(stored(6, type="track"), "Track Event", 0, None, outcomes=[ok]),
        Pending(stored(7, type="track"), "Track Event", 3, 50.0, outcomes=[busy]),
    ]
    policy = RetryPolicy(base=10, cap=300, window=3600)
    random.seed(7)  # the retries' jitter, drawn in the same order both times
    rows = decide_all(pending, 100.0, policy, 0.0)
    random.seed(7)
    assert rows == [decide(p, 100.0, policy, 0.0, {}) for p in pending]
    assert rows[4].next_attempt_at != rows[6].next_attempt_at  # each retry its own time
    assert [(r.event_seq, r.subscription, r.status, r.attempts, r.replay) for r in rows] == [
        (1, "Track Event", "delivered", 1, None),
        (2, "Page", "delivered", 1, replay),
        (3, "Track Event", "delivered", 3, None),
        (4, "Track Event", "dead", 1, None),
        (5, "Track Event", "retrying", 4, None),
        (6, "Track Event", "delivered", 1, None),
        (7, "Track Event", "retrying", 4, None),
    ]
