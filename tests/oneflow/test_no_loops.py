"""No loops: events 1Flow's own webhook brought in (`context.integration.name = "1Flow"`, stamped by the
`1flow-survey` preset) are not sent back to 1Flow by a cloud-mode 1Flow destination's subscriptions, unless a
subscription's trigger tests `context.integration` itself; device mode and other events are untouched."""

from __future__ import annotations

import pytest

from actions_1flow.actions import Status, run_event
from actions_1flow.config import parse_config
from actions_1flow.destinations.oneflow.survey_webhook import MAPPING, ORIGIN
from actions_1flow.mapping import transform

FROM_1FLOW = {
    "type": "track",
    "event": "Survey Submitted",
    "userId": "u1",
    "context": {"integration": {"name": ORIGIN}},
}
FROM_ELSEWHERE = {
    "type": "track",
    "event": "Survey Submitted",
    "userId": "u1",
    "context": {"integration": {"name": "x"}},
}
PLAIN = {"type": "track", "event": "Survey Submitted", "userId": "u1"}


def destination(subscriptions: str = "presets", mode: str = "cloud"):
    config = parse_config(
        f"""
sources: [{{name: web, write_key: wk}}]
destinations:
  - {{name: d, mode: {mode}, settings: {{projectApiKey: "1f_key_0123456789"}}, subscriptions: {subscriptions}}}
"""
    )
    return config.destinations[0]


def subscription(subscribe: str) -> str:
    mapping = '{event_name: {"@path": "$.event"}, userId: {"@path": "$.userId"}}'
    return f'[{{name: s, subscribe: "{subscribe}", partnerAction: trackEvent, mapping: {mapping}}}]'


def verdicts(dest, event) -> list[Status]:
    return [r.status for r in run_event(dest.definition, dest.compiled, event, dest.setting_values())]


def test_the_preset_stamps_the_origin_the_guard_skips():
    assert transform(MAPPING, {"alert_id": "a", "user": {"user_id": "u"}})["context"]["integration"] == {"name": ORIGIN}


def test_the_presets_do_not_send_1flows_own_events_back():
    dest = destination()
    assert Status.READY in verdicts(dest, PLAIN)
    assert Status.READY in verdicts(dest, FROM_ELSEWHERE)
    assert set(verdicts(dest, FROM_1FLOW)) == {Status.NOT_SUBSCRIBED}


def test_the_workers_trigger_set_judges_the_same():
    from actions_1flow import fql

    triggers = fql.SubscriptionSet(c.trigger for c in destination().compiled)
    assert any(triggers.matches(PLAIN)) and not any(triggers.matches(FROM_1FLOW))


@pytest.mark.parametrize(
    "subscribe",
    ['type = \\"track\\" and context.integration.name = \\"1Flow\\"', 'context.integration.name != \\"nobody\\"'],
)
def test_a_subscription_that_tests_the_origin_gets_1flows_events(subscribe):
    assert verdicts(destination(subscription(subscribe)), FROM_1FLOW) == [Status.READY]


def test_a_subscription_that_does_not_test_the_origin_is_guarded_too():
    subs = subscription('type = \\"track\\"')
    assert verdicts(destination(subs), FROM_1FLOW) == [Status.NOT_SUBSCRIBED]
    assert verdicts(destination(subs), PLAIN) == [Status.READY]


def test_device_mode_triggers_are_segments_own():
    from actions_1flow import fql

    for compiled in destination(mode="device").compiled:
        assert compiled.trigger.ast == fql.parse(compiled.spec.subscribe).ast
