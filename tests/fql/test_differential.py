"""Property-based differential tests against Segment's own package under node.

Random ASTs in the well-formed language → Segment's generateFql → both parsers must give the same AST and both
evaluators the same answer on events aimed at the AST's fields. Mutated text checks the other direction: whatever
we accept, Segment must read exactly as we do.
"""

from __future__ import annotations

import os

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions_1flow import fql
from actions_1flow.fql.evaluate import evaluate

from .strategies import asts, events_for, mutated_text

pytestmark = pytest.mark.oracle

EXPLORE = int(os.environ.get("FQL_EXPLORE", "0"))
"""FQL_EXPLORE=N runs N times the examples from fresh random seeds (CI runs the fixed-seed default)."""


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples * max(EXPLORE, 1),
        deadline=None,
        derandomize=not EXPLORE,
        suppress_health_check=[HealthCheck.too_slow],
    )


@_settings(2000)
@given(st.data())
def test_generated_text_parses_and_matches_like_segment(oracle, data) -> None:
    ast = data.draw(asts(), label="ast")
    events = data.draw(st.lists(events_for(ast), min_size=1, max_size=6), label="events")
    reply = oracle.call("fql.roundtrip", ast=ast, events=events)
    text = reply["text"]
    assert fql.to_fql(ast) == text
    assert "ast" in reply["parsed"], f"Segment rejects generated text {text!r}: {reply['parsed']}"
    subscription = fql.parse(text)
    assert subscription.ast == reply["parsed"]["ast"]
    ours = [subscription.matches(event) for event in events]
    assert ours == reply["matches"]
    assert [evaluate(subscription.ast, event) for event in events] == ours  # compiled == interpreted
    assert fql.to_fql(subscription.ast) == fql.to_fql(reply["parsed"]["ast"])


@_settings(1500)
@given(st.data())
def test_whatever_we_accept_segment_reads_the_same_way(oracle, data) -> None:
    text = data.draw(mutated_text(fql.to_fql(data.draw(asts(), label="ast"))), label="text")
    try:
        subscription = fql.parse(text)
    except fql.FQLSyntaxError:
        hypothesis.event("mutant rejected")
        return
    hypothesis.event("mutant accepted")
    events = data.draw(st.lists(events_for(subscription.ast), min_size=1, max_size=4), label="events")
    reply = oracle.call("fql.parseAndMatch", text=text, events=events)
    assert "ast" in reply["parsed"], f"we accept {text!r}, Segment fails: {reply['parsed']}"
    assert subscription.ast == reply["parsed"]["ast"]
    assert [subscription.matches(event) for event in events] == reply["matches"]


@_settings(500)
@given(st.data())
def test_a_subscription_set_answers_as_each_subscription_does(data) -> None:
    """SubscriptionSet shares reads and conditions across triggers; each answer must stay the trigger's own."""
    texts = data.draw(st.lists(asts().map(fql.to_fql), min_size=1, max_size=6), label="triggers")
    shared = 'type = "track"'  # a condition many real subscriptions share
    subscriptions = [fql.parse(text) for text in texts + [shared, f"{shared} and ({texts[0]})"]
                     if _parses(text)]  # fmt: skip
    union = {"type": "group", "operator": "or", "children": [s.ast for s in subscriptions]}
    events = data.draw(st.lists(events_for(union), min_size=1, max_size=4), label="events")
    together = fql.SubscriptionSet(subscriptions)
    for one in events:
        assert together.matches(one) == tuple(s.matches(one) for s in subscriptions)


def _parses(text: str) -> bool:
    try:
        fql.parse(text)
    except fql.FQLSyntaxError:
        return False
    return True
