"""Segment (Actions): the events its five actions build (facts of Segment's `perform` functions at the commit of
test_definitions), the forwarder, the client against a real receiver (Basic auth, gzip, Segment's limits and
retry rules), and the generic parts (privacy.drop, consent, `test-event`) with nothing of its own outside its
folder."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
from typing import Any

import pytest

from actions_1flow.actions import CompiledSubscription, Status, Subscription, run_event
from actions_1flow.config import ConfigError, load_config, parse_config
from actions_1flow.destinations.segment import wire
from actions_1flow.destinations.segment.client import SegmentClient
from actions_1flow.destinations.segment.definition import NO_IDENTITY, SEGMENT
from actions_1flow.destinations.segment.settings import SegmentSettings
from actions_1flow.pipeline import RetryPolicy, SQLiteStore
from actions_1flow.pipeline.options import DeliveryOptions
from actions_1flow.pipeline.partition import DestinationWorker
from tests.helpers.cli import invoke
from tests.helpers.receiver import Answer, Receiver

WRITE_KEY = "wk_upstream_0123456789"
CONTEXT = {
    "app": {"name": "Shop", "version": "2.1"},
    "campaign": {"source": "newsletter"},
    "consent": {"categoryPreferences": {"Analytics": True}},
    "device": {"id": "d1"},
    "ip": "203.0.113.9",
    "locale": "fr-FR",
    "os": {"name": "iOS"},
    "page": {"path": "/p", "title": "P", "url": "https://shop.example/p"},
    "userAgent": "UA",
    "timezone": "Europe/Paris",
    "library": {"name": "analytics.js", "version": "5"},
}
MAPPED_CONTEXT = {
    "application": {"@path": "$.context.app"},
    "campaign_parameters": {"@path": "$.context.campaign"},
    "device": {"@path": "$.context.device"},
    "ip_address": {"@path": "$.context.ip"},
    "locale": {"@path": "$.context.locale"},
    "operating_system": {"@path": "$.context.os"},
    "page": {"@path": "$.context.page"},
    "user_agent": {"@path": "$.context.userAgent"},
    "timezone": {"@path": "$.context.timezone"},
}


def sent(action: str, mapping: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The one event `action` builds from `event` through `mapping` (its hidden defaults included)."""
    spec = Subscription("s", f'type = "{event["type"]}"', action, {**MAPPED_CONTEXT, **mapping})
    [result] = run_event(SEGMENT, [CompiledSubscription(spec)], event, {})
    assert result.status is Status.READY, result.reason
    [message] = result.messages
    return message.event


def base(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "userId": "u1", "messageId": "m-1", "timestamp": "2024-05-01T09:00:00.000Z",
            "context": CONTEXT, **extra}  # fmt: skip


IDS = {"user_id": {"@path": "$.userId"}, "anonymous_id": {"@path": "$.anonymousId"}}
HIDDEN = {"message_id": {"@path": "$.messageId"}, "consent": {"@path": "$.context.consent"}}


class TestSegmentsActions:
    def test_track_puts_traits_under_context_and_keeps_message_id(self):
        event = base("track", event="Order Completed", properties={"total": 5}, traits={"plan": "pro"})
        mapping = {**IDS, **HIDDEN, "event_name": {"@path": "$.event"}, "timestamp": {"@path": "$.timestamp"},
                   "properties": {"@path": "$.properties"}, "traits": {"@path": "$.traits"}}  # fmt: skip
        out = sent("sendTrack", mapping, event)
        assert list(out) == ["userId", "timestamp", "event", "messageId", "context", "properties", "type"]
        assert out["messageId"] == "m-1" and out["type"] == "track" and out["properties"] == {"total": 5}
        assert list(out["context"]) == [
            "traits", "app", "campaign", "consent", "device", "ip", "locale", "os", "page", "userAgent", "timezone"
        ]  # fmt: skip
        assert out["context"]["traits"] == {"plan": "pro"}
        assert out["context"]["consent"] == {"categoryPreferences": {"Analytics": True}}
        assert "library" not in out["context"]  # Segment's actions rebuild the context from their fields

    def test_consent_not_in_segments_form_is_sent_empty_and_traits_properties_always_objects(self):
        context = {**CONTEXT, "consent": {"categoryPreferences": {"Analytics": "yes"}}}
        out = sent("sendTrack", {**IDS, **HIDDEN, "event_name": "E"}, base("track", context=context))
        assert out["context"]["consent"] == {} and out["context"]["traits"] == {} and out["properties"] == {}

    def test_page_properties_from_the_page_fields_then_the_events_own(self):
        event = base("page", name="Install", category="Docs", properties={"title": "Own title", "n": 1})
        mapping = {**IDS, **HIDDEN, "page_name": {"@path": "$.name"}, "page_category": {"@path": "$.category"},
                   "properties": {"@path": "$.properties"}}  # fmt: skip
        out = sent("sendPage", mapping, event)
        assert out["name"] == "Install"
        assert out["properties"] == {
            "name": "Install", "category": "Docs", "path": "/p", "title": "Own title", "url": "https://shop.example/p",
            "n": 1,
        }  # fmt: skip

    def test_screen_has_no_timezone_in_context_and_its_name_in_properties(self):
        out = sent("sendScreen", {**IDS, **HIDDEN, "screen_name": "Home"}, base("screen", name="Home"))
        assert "timezone" not in out["context"] and out["properties"] == {"name": "Home"}

    def test_group_id_at_the_top_and_not_in_context(self):
        mapping = {**IDS, **HIDDEN, "group_id": {"@path": "$.groupId"}, "traits": {"@path": "$.traits"}}
        out = sent("sendGroup", mapping, base("group", groupId="acct-1", traits={"seats": 3}))
        assert out["groupId"] == "acct-1" and "groupId" not in out["context"] and out["traits"] == {"seats": 3}

    def test_identify_adds_the_address_trait(self):
        mapping = {**IDS, **HIDDEN, "traits": {"@path": "$.traits"}, "address": {"@path": "$.traits.address"}}
        event = base("identify", traits={"name": "Zoë", "address": {"city": "Lyon", "floor": 3}})
        out = sent("sendIdentify", mapping, event)
        assert out["traits"] == {"name": "Zoë", "address": {"city": "Lyon"}}  # the address field's keys only

    @pytest.mark.parametrize("action", ["sendTrack", "sendIdentify", "sendPage", "sendScreen", "sendGroup"])
    def test_no_user_id_and_no_anonymous_id_is_segments_message(self, action):
        event = {"type": "track", "event": "E", "groupId": "g", "messageId": "m"}
        spec = Subscription("s", 'type = "track"', action, {"event_name": "E", "group_id": "g", **IDS})
        [result] = run_event(SEGMENT, [CompiledSubscription(spec)], event, {})
        assert result.status is Status.FAILED and result.reason.endswith(NO_IDENTITY)


class TestForwarding:
    def test_presets_forward_each_type_whole_without_sent_at_and_received_at(self):
        subscriptions = [CompiledSubscription(Subscription.from_preset(p)) for p in SEGMENT.presets]
        for kind in ("track", "identify", "page", "screen", "group", "alias"):
            event = {**base(kind), "sentAt": "x", "receivedAt": "y", "originalTimestamp": "z", "integrations": {}}
            results = [r for r in run_event(SEGMENT, subscriptions, event, {}) if r.matched]
            assert [r.subscription.name for r in results] == [f"Forward {kind.title()}"]
            [message] = results[0].messages
            expected = {k: v for k, v in event.items() if k not in ("sentAt", "receivedAt")}
            assert message.event == expected and list(message.event) == list(expected)


class Upstream:
    """A Segment-compatible API: checks Basic auth and gzip, records each batch, answers as `statuses` says."""

    def __init__(self, *statuses: Answer) -> None:
        self.statuses = list(statuses)
        self.batches: list[list[dict[str, Any]]] = []
        self.receiver = Receiver(self.answer)

    def answer(self, request) -> Answer:
        token = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        assert request.path == "/v1/batch" and request.headers["Authorization"] == f"Basic {token}"
        assert request.headers["Content-Encoding"] == "gzip"
        body = json.loads(gzip.decompress(request.raw))
        assert set(body) == {"batch"}
        self.batches.append(body["batch"])
        return self.statuses.pop(0) if self.statuses else Answer(200, b'{"success": true}')


def messages(count: int, size: int = 0) -> list[wire.Message]:
    padding = {"pad": "x" * size}
    return [
        wire.Message({"type": "track", "userId": "u", "messageId": f"m{n}", "properties": padding})
        for n in range(count)
    ]


def send(upstream: Upstream, batch: list[wire.Message]):
    async def go():
        async with SegmentClient(WRITE_KEY, upstream.receiver.url + "/v1") as client:
            return await client.send_batch(batch, stop_on_retryable=True)

    return asyncio.run(go())


class TestClient:
    def test_batches_within_500_kb_and_2500_events_and_32_kb_per_event(self):
        upstream = Upstream()
        try:
            outcomes = send(upstream, [*messages(40, 30_000), *messages(1, 40_000)])
            refused = [o for o in outcomes if o.permanent]
            assert len(refused) == 1 and "over Segment's limit of 32,768 bytes" in refused[0].reason
            assert sum(len(b) for b in upstream.batches) == 40 and len(upstream.batches) >= 3
            assert all(len(wire.batch_body([wire.Message(e) for e in b])) <= 500 * 1024 for b in upstream.batches)
            upstream.batches.clear()
            send(upstream, messages(2_600))
            assert [len(b) for b in upstream.batches] == [2_500, 100]
        finally:
            upstream.receiver.close()

    def test_segments_retry_rules_and_the_key_masked(self):
        upstream = Upstream(Answer(429, b"slow down", {"Retry-After": "7"}))
        try:
            [first, rest] = send(upstream, [*messages(2_500), *messages(3)])
            assert first.retryable and first.retry_after == 7 and first.status == 429
            assert rest.retryable and rest.exchange is None and len(rest.messages) == 3  # held back, not sent
            assert WRITE_KEY not in json.dumps(first.to_dict())
            upstream.statuses = [Answer(501), Answer(503)]
            [not_implemented] = send(upstream, messages(1))
            [unavailable] = send(upstream, messages(1))
            assert not_implemented.permanent and unavailable.retryable
        finally:
            upstream.receiver.close()

    def test_a_refused_batch_is_split_so_one_bad_event_sinks_only_itself(self):
        upstream = Upstream()
        upstream.statuses = []

        def answer(request) -> Answer:
            batch = json.loads(gzip.decompress(request.raw))["batch"]
            upstream.batches.append(batch)
            return Answer(400, b'{"error": "bad event"}') if any(e["messageId"] == "m2" for e in batch) else Answer()

        upstream.receiver.answer = answer
        try:
            outcomes = send(upstream, messages(4))
            assert sum(len(o.messages) for o in outcomes if o.delivered) == 3
            [bad] = [o for o in outcomes if o.permanent]
            assert [m.event["messageId"] for m in bad.messages] == ["m2"] and bad.reason == "400 Bad Request: bad event"
        finally:
            upstream.receiver.close()


class TestSettings:
    def test_regions_are_segments_two_endpoints_and_api_base_url_overrides(self):
        assert SegmentSettings(source_write_key="k").api_base_url() == "https://api.segment.io/v1"
        eu = SegmentSettings(source_write_key="k", region="eu")
        assert eu.api_base_url() == "https://events.eu1.segmentapis.com/v1"
        assert (
            SegmentSettings(source_write_key="k", apiBaseUrl="http://b:8080/v1/").api_base_url() == "http://b:8080/v1"
        )

    def test_a_missing_write_key_says_what_to_set(self):
        text = (
            "sources: [{name: web, write_key: wk}]\ndestinations: [{name: s, type: segment, mode: cloud, settings: {}}]"
        )
        with pytest.raises(ConfigError) as err:
            parse_config(text, "x.yaml")
        [problem] = err.value.problems
        assert problem.key_path == "destinations[0].settings.source_write_key"
        assert "Segment Source Write Key is required" in problem.reason and "SEGMENT_WRITE_KEY" in problem.reason


def config_text(tmp_path, url: str) -> str:
    return f"""\
storage: sqlite:///{tmp_path}/s.db
sources: [{{name: web, write_key: wk}}]
destinations:
  - name: up
    type: segment
    mode: cloud
    settings: {{source_write_key: "{WRITE_KEY}", apiBaseUrl: "{url}/v1"}}
    consent: {{categories: [Analytics]}}
    privacy: {{drop: [traits.email]}}
"""


GRANTED = {"consent": {"categoryPreferences": {"Analytics": True}}}
IDENTIFY = {"type": "identify", "userId": "u", "messageId": "m", "traits": {"email": "a@b.c", "n": 1}}


def test_privacy_drop_consent_status_and_events_are_the_kits(tmp_path):
    """The worker forwards with the dropped path gone and filters what consent refuses; `status` and `events`
    count it like any destination's."""
    upstream = Upstream()
    try:
        path = tmp_path / "s.yaml"
        path.write_text(config_text(tmp_path, upstream.receiver.url), encoding="utf-8")
        [dest] = load_config(path).destinations
        store = SQLiteStore(tmp_path / "s.db")
        worker = DestinationWorker(store, dest, ["web"], RetryPolicy(), DeliveryOptions(batch_age=0))

        async def deliver() -> None:
            await worker.load_cursor()
            events = [{**IDENTIFY, "context": GRANTED}, {**IDENTIFY, "messageId": "m2"}]
            store.append("web", events, time.time()).result()
            assert await worker.step()
            await worker.client.aclose()

        asyncio.run(deliver())
        store.close()
        assert upstream.batches == [[{**IDENTIFY, "traits": {"n": 1}, "context": GRANTED}]]
        row = json.loads(invoke("status", "--config", str(path), "--json").stdout)
        assert (row["received"], row["delivered"], row["filtered"]) == (2, 1, 1)
        log = {
            e["messageId"]: e
            for e in map(json.loads, invoke("events", "--config", str(path), "--json").stdout.splitlines())
        }
        assert log["m"]["status"] == "delivered" and log["m2"]["error"].startswith("consent")
        assert WRITE_KEY not in json.dumps(log)
    finally:
        upstream.receiver.close()


def test_the_event_tester_shows_the_exact_request_with_the_key_masked(tmp_path):
    upstream = Upstream(Answer(400, b'{"error": "no such source"}'))
    try:
        path = tmp_path / "s.yaml"
        path.write_text(config_text(tmp_path, upstream.receiver.url), encoding="utf-8")
        (tmp_path / "e.json").write_text(json.dumps({**IDENTIFY, "context": GRANTED}), encoding="utf-8")
        result = invoke("test-event", "--config", str(path), str(tmp_path / "e.json"))
        assert result.exit_code != 0
        assert "Forward Identify" in result.stdout and "400 Bad Request: no such source" in result.stdout
        assert f"{upstream.receiver.url}/v1/batch" in result.stdout and "(write key)" in result.stdout
        assert WRITE_KEY not in result.stdout + result.stderr
        assert base64.b64encode(f"{WRITE_KEY}:".encode()).decode() not in result.stdout
    finally:
        upstream.receiver.close()
