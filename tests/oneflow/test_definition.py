"""The 1Flow Web (Actions) definition, held to Segment's metadata.json at a named commit (tests/oneflow/
segment_metadata.py), and what each action and preset sends."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from actions_1flow.actions import CompiledSubscription, Status, Subscription, default_values, run_event
from actions_1flow.destinations.oneflow.definition import (
    IDENTIFY_WITHOUT_USER_ID,
    ONEFLOW,
    TRACK_WITHOUT_IDS,
)
from actions_1flow.destinations.oneflow.settings import OneFlowSettings
from tests.oneflow import segment_metadata as segment

DOCS = Path(__file__).resolve().parents[2] / "docs" / "oneflow.md"


def same(ours: Any, theirs: Any) -> bool:
    """Equal, key order included (as the JSON text compares)."""
    return ours == theirs and json.dumps(ours) == json.dumps(theirs)


def described(meta: dict[str, Any]) -> dict[str, str]:
    """Every description in Segment's part of the metadata (not our added settings), by dotted path."""
    found = {"description": meta["description"]}
    for key, setting in meta["authentication"]["fields"].items():
        if key not in meta["additions"]["settingsAdded"]:
            found[f"authentication.fields.{key}"] = setting["description"]
    for slug, action in meta["actions"].items():
        found[f"actions.{slug}"] = action["description"]
        for key, field in action["fields"].items():
            found[f"actions.{slug}.fields.{key}"] = field["description"]
    return found


class TestAgainstSegment:
    """`definition --json` against Segment's metadata.json at `segment.COMMIT`: every key, in Segment's order."""

    meta = ONEFLOW.metadata()
    added = meta["additions"]["settingsAdded"]

    def test_the_commit_read_is_named(self):
        assert re.fullmatch(r"[0-9a-f]{40}", segment.COMMIT) and re.fullmatch(r"[0-9a-f]{40}", segment.IDENTIFY_CHANGE)

    def test_top_level_keys_and_identity(self):
        assert list(self.meta) == [*segment.TOP_KEYS, "additions"]
        assert {k: self.meta[k] for k in segment.IDENTITY} == segment.IDENTITY
        assert self.meta["authentication"]["scheme"] == segment.AUTHENTICATION_SCHEME

    def test_segments_settings_and_ours_named_under_additions(self):
        fields = self.meta["authentication"]["fields"]
        assert all(list(f) == segment.SETTING_KEYS for f in fields.values())
        theirs = {k: f for k, f in fields.items() if k not in self.added}
        assert same(segment.without_descriptions(theirs), segment.SETTINGS)
        assert [k for k in fields if k not in segment.SETTINGS] == self.added

    def test_actions_and_every_field_attribute(self):
        actions = self.meta["actions"]
        for action in actions.values():
            assert list(action) == segment.ACTION_KEYS
            assert all(list(f) == segment.FIELD_KEYS for f in action["fields"].values())
        assert same(segment.without_descriptions(actions), segment.ACTIONS)

    def test_identify_user_has_no_anonymous_id_since_2024(self):
        assert list(self.meta["actions"]["identifyUser"]["fields"]) == ["userId", "traits"]

    def test_presets_are_segments(self):
        assert all(list(p) == segment.PRESET_KEYS for p in self.meta["presets"])
        assert same(self.meta["presets"], segment.PRESETS)
        for preset in ONEFLOW.presets:
            assert dict(preset.mapping) == default_values(ONEFLOW.actions[preset.partner_action].fields)

    def test_descriptions_are_ours_and_each_is_listed_in_the_docs(self):
        ours = described(self.meta)
        assert list(ours) == segment.DESCRIBED
        assert all(text.strip() for text in ours.values())
        table = DOCS.read_text(encoding="utf-8").split("### Descriptions", 1)[1].split("\n## ", 1)[0]
        listed = re.findall(r"^\| `([^`]+)` \|", table, re.M)
        assert listed == segment.DESCRIBED


class TestAdditions:
    meta = ONEFLOW.metadata()
    additions = meta["additions"]

    def test_settings(self):
        fields = self.meta["authentication"]["fields"]
        assert list(fields) == ["projectApiKey", "region", "apiBaseUrl", "sdkUrl", "loadTimeoutMs", "sdkProxy"]
        region = fields["region"]
        assert region["default"] == "us" and [c["value"] for c in region["choices"]] == ["us", "eu"]
        assert self.additions["advancedSettings"] == ["apiBaseUrl", "sdkUrl", "loadTimeoutMs", "sdkProxy"]
        assert self.additions["secretSettings"] == ["projectApiKey"] == ONEFLOW.secret_settings

    def test_every_setting_the_config_accepts_is_in_the_definition_and_ours_are_marked(self):
        assert list(self.meta["authentication"]["fields"]) == list(OneFlowSettings.model_fields)
        assert self.additions["settingsAdded"] == ["region", "apiBaseUrl", "sdkUrl", "loadTimeoutMs", "sdkProxy"]
        timeout = self.meta["authentication"]["fields"]["loadTimeoutMs"]
        assert (timeout["type"], timeout["required"]) == ("integer", False)
        proxy = self.meta["authentication"]["fields"]["sdkProxy"]
        assert (proxy["type"], proxy["required"], proxy["default"]) == ("boolean", False, False)

    def test_regions_limits_schemas_and_the_mobile_plugin(self):
        assert self.additions["regions"]["us"]["apiBaseUrl"] == "https://api.1flow.app/v1"
        assert self.additions["regions"]["eu"] == {
            "label": "EU",
            "apiBaseUrl": None,
            "sdkUrl": None,
            "documented": False,
        }
        assert self.additions["limits"] == {"maxEventBytes": 32768, "maxBatchBytes": 512000}
        assert self.additions["payloadSchemas"]["trackEvent"]["required"] == ["event_name"]
        assert list(self.additions["payloadSchemas"]["identifyUser"]["properties"]) == ["userId", "traits"]
        assert self.additions["mobilePlugin"] == {"key": "1Flow Mobile Plugin", "settings": {"apiKey": "projectApiKey"}}

    def test_page_and_screen_presets_are_optional_and_not_among_segments(self):
        optional = self.additions["optionalPresets"]
        assert [(p["name"], p["type"], p["subscribe"], p["partnerAction"]) for p in optional] == [
            ("Track Page", "optional", 'type = "page"', "trackEvent"),
            ("Track Screen", "optional", 'type = "screen"', "trackEvent"),
        ]
        assert {p["name"] for p in optional}.isdisjoint(p["name"] for p in self.meta["presets"])


PRESETS = [CompiledSubscription(Subscription.from_preset(p)) for p in ONEFLOW.presets]
SETTINGS = {"projectApiKey": "k", "region": "us"}


def results_for(event):
    return {r.subscription.name: r for r in run_event(ONEFLOW, PRESETS, event, SETTINGS)}


def test_track_preset_builds_a_track_message():
    event = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u-1",
        "anonymousId": "a-1",
        "properties": {"total": 10},
        "timestamp": "2024-05-01T09:00:00Z",
    }
    results = results_for(event)
    assert results["Identify User"].status is Status.NOT_SUBSCRIBED
    track = results["Track Event"]
    assert track.status is Status.READY
    (message,) = track.messages
    assert (message.type, message.path) == ("track", "/track")
    assert message.body == {
        "user_id": "u-1",
        "anonymous_id": "a-1",
        "event": "Order Completed",
        "properties": {"total": 10},
        "timestamp": "2024-05-01T09:00:00.000Z",
    }


def test_identify_preset_sends_user_id_and_traits_only():
    event = {"type": "identify", "userId": "u-1", "anonymousId": "a-1", "traits": {"email": "a@example.com"}}
    result = results_for(event)["Identify User"]
    assert result.payload == {"userId": "u-1", "traits": {"email": "a@example.com"}}
    (message,) = result.messages
    assert message.type == "identify" and message.body == {"user_id": "u-1", "traits": {"email": "a@example.com"}}


def test_an_old_identify_mapping_with_anonymous_id_keeps_working_without_sending_it():
    """Subscriptions written for the pre-2024 action map `anonymousId`; like Segment, the key is dropped."""
    old = Subscription("Old identify", 'type = "identify"', "identifyUser", {"userId": "u", "anonymousId": "a"})
    (result,) = run_event(ONEFLOW, [CompiledSubscription(old)], {"type": "identify", "userId": "u"}, SETTINGS)
    assert result.status is Status.READY and result.messages[0].body == {"user_id": "u", "traits": {}}


def test_identify_without_user_id_is_filtered_with_the_reason():
    result = results_for({"type": "identify", "anonymousId": "a-1", "traits": {"x": 1}})["Identify User"]
    assert result.status is Status.FILTERED and result.reason == IDENTIFY_WITHOUT_USER_ID
    assert result.messages == [] and not result.failed


def test_track_without_any_id_is_filtered():
    result = results_for({"type": "track", "event": "E"})["Track Event"]
    assert result.status is Status.FILTERED and result.reason == TRACK_WITHOUT_IDS


def test_track_without_event_name_is_invalid_with_segments_message():
    result = results_for({"type": "track", "userId": "u"})["Track Event"]
    assert result.status is Status.INVALID
    assert result.reason == "The root value is missing the required field 'event_name'."


def test_track_fields_are_coerced():
    result = results_for({"type": "track", "event": 42, "userId": 7, "properties": {"a": None}})["Track Event"]
    assert result.messages[0].body == {"user_id": "7", "event": "42", "properties": {"a": None}}


OPTIONAL = [CompiledSubscription(Subscription.from_preset(p)) for p in ONEFLOW.optional_presets]


def optional_results(event):
    return {r.subscription.name: r for r in run_event(ONEFLOW, OPTIONAL, event, SETTINGS)}


def test_page_and_screen_presets_name_the_track_as_1flows_classic_destination():
    cases = [
        ({"type": "page", "name": "Pricing", "userId": "u-1", "properties": {"path": "/pricing"}}, "page_Pricing"),
        ({"type": "page", "anonymousId": "a-1"}, "page_view"),
        ({"type": "screen", "name": "Home", "userId": "u-1"}, "screen_Home"),
        ({"type": "screen", "name": "", "anonymousId": "a-1"}, "screen_view"),  # analytics-kotlin's unnamed screen
        ({"type": "screen", "name": None, "anonymousId": "a-1"}, "screen_view"),
    ]
    for event, name in cases:
        preset = "Track Page" if event["type"] == "page" else "Track Screen"
        results = optional_results(event)
        (message,) = results[preset].messages
        assert (message.type, message.body["event"]) == ("track", name)
        assert message.body.get("user_id") == event.get("userId")
        assert message.body.get("anonymous_id") == event.get("anonymousId")
        assert message.body["properties"] == event.get("properties", {})
        other = "Track Screen" if preset == "Track Page" else "Track Page"
        assert results[other].status is Status.NOT_SUBSCRIBED


def test_optional_presets_are_not_run_by_subscriptions_presets():
    assert {r.status for r in results_for({"type": "page", "name": "Pricing", "userId": "u"}).values()} == {
        Status.NOT_SUBSCRIBED
    }
