"""`actions-1flow send`, `test-event` and `definition` against the sandbox subprocess."""

from __future__ import annotations

import json

import pytest

from actions_1flow.destinations.oneflow.client import HINT_API_KEY, HINT_REGION
from actions_1flow.secrets import mask_secret
from tests.helpers.cli import invoke, json_lines, write_config, write_events
from tests.helpers.sandbox import EU_KEY, UNKNOWN_KEY, US_KEY

ENV = {"ONEFLOW_PROJECT_KEY": US_KEY}

TRACK = {
    "type": "track",
    "messageId": "m-1",
    "event": "Order Completed",
    "userId": "u-1",
    "anonymousId": "a-1",
    "properties": {"total": 30, "currency": "EUR"},
}
IDENTIFY = {"type": "identify", "messageId": "m-2", "userId": "u-1", "traits": {"email": "a@example.com"}}
ANONYMOUS_IDENTIFY = {"type": "identify", "messageId": "m-3", "anonymousId": "a-9", "traits": {"visits": 2}}


def statuses(lines):
    return [(line["event"], line["subscription"], line["status"]) for line in lines]


class TestSend:
    def test_track_identify_and_identify_without_user_id(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url())
        events = write_events(tmp_path, [TRACK, IDENTIFY, ANONYMOUS_IDENTIFY])
        result = invoke("send", "--config", str(config), str(events), "--json", env=ENV)
        assert result.exit_code == 0, result.output
        lines = json_lines(result.stdout)
        assert statuses(lines) == [
            (1, "Track Event", "delivered"),
            (1, "Identify User", "not_subscribed"),
            (2, "Track Event", "not_subscribed"),
            (2, "Identify User", "delivered"),
            (3, "Track Event", "not_subscribed"),
            (3, "Identify User", "filtered"),
        ]
        assert lines[0]["messageId"] == "m-1" and lines[0]["http_status"] == 200
        assert "Identify needs a userId" in lines[5]["reason"]
        calls = live_sandbox.calls("http")
        assert [c["path"] for c in calls] == ["/v1/track", "/v1/identify"]  # nothing for the anonymous identify
        assert calls[0]["body"] == {
            "user_id": "u-1",
            "anonymous_id": "a-1",
            "event": "Order Completed",
            "properties": {"total": 30, "currency": "EUR"},
        }
        assert calls[1]["body"] == {"user_id": "u-1", "traits": {"email": "a@example.com"}}
        assert all(c["api_key"] == mask_secret(US_KEY) for c in calls)

    def test_human_lines_and_json_lines_from_stdin(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url())
        stdin = json.dumps(TRACK) + "\n\n" + json.dumps(IDENTIFY) + "\n"
        result = invoke("send", "--config", str(config), "-", input=stdin, env=ENV)
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert len(lines) == 4
        assert lines[0].startswith("event 1 (track 'Order Completed') · 1flow-cloud · Track Event → delivered (200 OK")
        assert lines[3].startswith("event 2 (identify) · 1flow-cloud · Identify User → delivered")
        assert 'not subscribed: the event does not match the trigger type = "identify"' in lines[1]

    def test_a_single_object_and_bad_lines(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url())
        single = invoke("send", "--config", str(config), "-", "--json", input=json.dumps(IDENTIFY), env=ENV)
        assert single.exit_code == 0 and len(json_lines(single.stdout)) == 2
        mixed = invoke(
            "send", "--config", str(config), "-", "--json", input=f"{json.dumps(TRACK)}\n{{oops\n[1]\n", env=ENV
        )
        assert mixed.exit_code == 1
        lines = json_lines(mixed.stdout)
        assert [(line["event"], line["status"]) for line in lines] == [
            (1, "delivered"),
            (1, "not_subscribed"),
            (2, "invalid"),
            (3, "invalid"),
        ]
        assert lines[2]["reason"].startswith("invalid JSON") and "must be a JSON object" in lines[3]["reason"]

    def test_custom_trigger_and_mapping_change_what_is_sent(self, live_sandbox, tmp_path):
        subscriptions = [
            {
                "name": "Big orders",
                "subscribe": 'event = "Order Completed" and properties.total > 20',
                "partnerAction": "trackEvent",
                "mapping": {
                    "event_name": {"@template": "order:{{properties.currency}}"},
                    "userId": {"@path": "$.userId"},
                    "properties": {"amount": {"@path": "$.properties.total"}},
                },
            }
        ]
        config = write_config(tmp_path, live_sandbox.api_url(), subscriptions=subscriptions)
        small = {**TRACK, "messageId": "m-4", "properties": {"total": 5, "currency": "EUR"}}
        result = invoke("send", "--config", str(config), str(write_events(tmp_path, [TRACK, small])), "--json", env=ENV)
        assert result.exit_code == 0
        assert statuses(json_lines(result.stdout)) == [
            (1, "Big orders", "delivered"),
            (2, "Big orders", "not_subscribed"),
        ]
        (call,) = live_sandbox.calls("http")
        assert call["body"] == {"user_id": "u-1", "event": "order:EUR", "properties": {"amount": 30}}

    def test_wrong_key_is_a_401_verdict_with_the_key_hint(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url(), UNKNOWN_KEY)
        result = invoke("send", "--config", str(config), "-", "--json", input=json.dumps(TRACK))
        assert result.exit_code == 1
        line = json_lines(result.stdout)[0]
        assert (line["status"], line["http_status"], line["hint"]) == ("permanent", 401, HINT_API_KEY)
        assert UNKNOWN_KEY not in result.output

    def test_region_the_plan_lacks_is_a_404_verdict_with_the_region_hint(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url("eu"), region="eu")
        result = invoke("send", "--config", str(config), "-", input=json.dumps(IDENTIFY), env=ENV)
        assert result.exit_code == 1
        assert f"permanent: 404 Not Found: no project for this api_key in region 'eu' ({HINT_REGION})" in result.stdout
        eu = write_config(tmp_path, live_sandbox.api_url("eu"), EU_KEY, region="eu")
        assert invoke("send", "--config", str(eu), "-", input=json.dumps(IDENTIFY)).exit_code == 0

    @pytest.mark.parametrize(
        ("fault", "status", "delay"), [({"status": 429, "retry_after": "5"}, 429, 5.0), ({"status": 503}, 503, None)]
    )
    def test_throttling_and_outages_are_retryable(self, live_sandbox, tmp_path, fault, status, delay):
        live_sandbox.fault(**fault)
        config = write_config(tmp_path, live_sandbox.api_url())
        result = invoke("send", "--config", str(config), "-", "--json", input=json.dumps(TRACK), env=ENV)
        assert result.exit_code == 1
        line = json_lines(result.stdout)[0]
        assert (line["status"], line["http_status"], line["retry_after"]) == ("retryable", status, delay)

    def test_oversize_event_is_refused_before_sending(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url())
        huge = {**TRACK, "properties": {"blob": "x" * 40_000}}
        result = invoke("send", "--config", str(config), "-", "--json", input=json.dumps(huge), env=ENV)
        assert result.exit_code == 1
        line = json_lines(result.stdout)[0]
        assert line["status"] == "permanent" and "bytes, over 1Flow's limit of 32768 bytes" in line["reason"]
        assert live_sandbox.calls() == []

    def test_invalid_payload_is_reported_with_segments_message(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url())
        result = invoke(
            "send", "--config", str(config), "-", "--json", input=json.dumps({"type": "track", "userId": "u"}), env=ENV
        )
        assert result.exit_code == 1
        line = json_lines(result.stdout)[0]
        assert (line["status"], line["reason"]) == (
            "invalid",
            "The root value is missing the required field 'event_name'.",
        )

    def test_configuration_problems_exit_2(self, tmp_path):
        config = write_config(tmp_path, "http://127.0.0.1:9/v1", region="eu")
        config.write_text(config.read_text().replace("apiBaseUrl: http://127.0.0.1:9/v1", "apiBaseUrl: null"))
        result = invoke("send", "--config", str(config), "-", input="{}", env=ENV)
        assert result.exit_code == 2
        assert f"{config}:" in result.stderr and "destinations[0].settings.region" in result.stderr
        assert "1Flow documents no EU endpoint" in result.stderr
        device = write_config(tmp_path, "http://127.0.0.1:9/v1", mode="device")
        result = invoke("send", "--config", str(device), "-", input="{}", env=ENV)
        assert result.exit_code == 2 and "no destination with mode: cloud" in result.stderr
        assert invoke("send", "--config", str(tmp_path / "none.yaml"), env=ENV).exit_code == 2
        result = invoke(
            "send", "--config", str(write_config(tmp_path, "http://x/v1")), str(tmp_path / "missing.json"), env=ENV
        )
        assert result.exit_code == 2 and "cannot read" in result.stderr


class TestEventTester:
    def test_report_shows_match_payload_masked_request_response_and_verdict(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url())
        result = invoke(
            "test-event", "--config", str(config), str(write_events(tmp_path, TRACK, "track.json")), env=ENV
        )
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert (
            f"Destination 1flow-cloud (cloud mode, {live_sandbox.api_url()}, projectApiKey {mask_secret(US_KEY)})"
            in out
        )
        assert "Subscription 'Track Event' → trackEvent: trigger type = \"track\" matched" in out
        assert "Subscription 'Identify User' → identifyUser: trigger type = \"identify\" not matched" in out
        assert (
            'why not: the event does not match the trigger type = "identify" '
            "(the event has type 'track', event 'Order Completed')" in out
        )
        assert "Validated payload:" in out and '"event_name": "Order Completed"' in out
        assert f"POST {live_sandbox.api_url()}/track" in out and f"api_key: {mask_secret(US_KEY)}" in out
        assert '{"user_id":"u-1","anonymous_id":"a-1","event":"Order Completed"' in out
        assert "Response: 200" in out and "Verdict: delivered: 200 OK" in out
        assert US_KEY not in result.output

    def test_json_report_and_failed_verdict(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url(), UNKNOWN_KEY)
        result = invoke("test-event", "--config", str(config), "-", "--json", input=json.dumps(IDENTIFY))
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        (dest,) = report["destinations"]
        track, identify = dest["subscriptions"]
        assert track["matched"] is False and track["requests"] == []
        assert identify["matched"] and identify["mapped"] == {"userId": "u-1", "traits": {"email": "a@example.com"}}
        assert identify["verdict"] == "permanent" and identify["hint"] == HINT_API_KEY
        (exchange,) = identify["requests"]
        assert exchange["request"]["headers"]["api_key"] == mask_secret(UNKNOWN_KEY)
        assert exchange["response"]["status"] == 401
        assert UNKNOWN_KEY not in result.output

    def test_filtered_identify_sends_nothing(self, live_sandbox, tmp_path):
        config = write_config(tmp_path, live_sandbox.api_url())
        result = invoke("test-event", "--config", str(config), "-", input=json.dumps(ANONYMOUS_IDENTIFY), env=ENV)
        assert result.exit_code == 0
        assert "Verdict: filtered: not sent: Identify needs a userId" in result.stdout
        assert live_sandbox.calls() == []

    def test_exactly_one_event(self, tmp_path):
        config = write_config(tmp_path, "http://127.0.0.1:9/v1")
        result = invoke("test-event", "--config", str(config), "-", input=json.dumps([TRACK, IDENTIFY]), env=ENV)
        assert result.exit_code == 2 and "exactly one event, found 2" in result.stderr


class TestDefinition:
    def test_json_is_segments_metadata_shape(self):
        result = invoke("definition", "--json")
        meta = json.loads(result.stdout)
        assert (meta["slug"], meta["name"]) == ("actions-1flow", "1Flow Web (Actions)")
        assert list(meta["actions"]) == ["trackEvent", "identifyUser"]
        assert [p["name"] for p in meta["presets"]] == ["Track Event", "Identify User"]
        assert [p["name"] for p in meta["additions"]["optionalPresets"]] == ["Track Page", "Track Screen"]

    def test_human_summary(self):
        out = invoke("definition").stdout
        assert out.startswith("1Flow Web (Actions) (slug actions-1flow; modes: device, cloud)")
        assert "projectApiKey (password; required; secret)" in out
        assert "eu: no endpoint documented by 1Flow" in out
        assert '    event_name (string, required) ← {"@path":"$.event"}' in out
        optional = out.split("Optional presets", 1)[1]
        assert '  Track Page: type = "page" → trackEvent' in optional
        assert '  Track Screen: type = "screen" → trackEvent' in optional
