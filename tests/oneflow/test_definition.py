"""The 1Flow Web (Actions) definition: Segment's metadata shape, fields and presets, and what each action sends."""

from __future__ import annotations

from actions_1flow.actions import CompiledSubscription, Status, Subscription, default_values, run_event
from actions_1flow.destinations.oneflow.definition import (
    IDENTIFY_WITHOUT_USER_ID,
    ONEFLOW,
    TRACK_WITHOUT_IDS,
)

# Keys of Segment's metadata.json for this destination (packages/browser-destinations/destinations/1flow).
SEGMENT_TOP_KEYS = {"slug", "name", "mode", "description", "authentication", "audienceConfig", "actions", "presets"}
SEGMENT_SETTING_KEYS = {"label", "description", "type", "required", "multiple", "choices", "default", "depends_on"}
SEGMENT_ACTION_KEYS = {
    "title",
    "description",
    "platform",
    "defaultSubscription",
    "hidden",
    "hasPerformBatch",
    "syncMode",
    "hooks",
    "fields",
}
SEGMENT_FIELD_KEYS = {
    "label",
    "description",
    "type",
    "required",
    "multiple",
    "allowNull",
    "dynamic",
    "default",
    "choices",
    "placeholder",
    "properties",
    "category",
    "depends_on",
    "readOnly",
    "hidden",
    "minimum",
    "maximum",
    "defaultObjectUI",
    "disabledInputMethods",
    "displayMode",
    "additionalProperties",
}
SEGMENT_PRESET_KEYS = {"name", "type", "partnerAction", "subscribe", "mapping", "eventSlug"}


class TestMetadata:
    meta = ONEFLOW.metadata()

    def test_identity_and_shape(self):
        assert set(self.meta) == SEGMENT_TOP_KEYS | {"additions"}
        assert (self.meta["slug"], self.meta["name"], self.meta["mode"]) == (
            "actions-1flow",
            "1Flow Web (Actions)",
            "device",
        )
        assert self.meta["authentication"]["scheme"] == "custom" and self.meta["audienceConfig"] is None
        for setting in self.meta["authentication"]["fields"].values():
            assert set(setting) == SEGMENT_SETTING_KEYS
        for action in self.meta["actions"].values():
            assert set(action) == SEGMENT_ACTION_KEYS
            assert all(set(f) == SEGMENT_FIELD_KEYS for f in action["fields"].values())
        assert all(set(p) == SEGMENT_PRESET_KEYS for p in self.meta["presets"])

    def test_settings(self):
        fields = self.meta["authentication"]["fields"]
        assert list(fields) == ["projectApiKey", "region", "apiBaseUrl", "sdkUrl", "loadTimeoutMs", "sdkProxy"]
        key = fields["projectApiKey"]
        assert (key["label"], key["type"], key["required"], key["default"]) == (
            "Project API Key",
            "password",
            True,
            None,
        )
        region = fields["region"]
        assert region["default"] == "us" and [c["value"] for c in region["choices"]] == ["us", "eu"]
        assert self.meta["additions"]["advancedSettings"] == ["apiBaseUrl", "sdkUrl", "loadTimeoutMs", "sdkProxy"]
        assert self.meta["additions"]["secretSettings"] == ["projectApiKey"] == ONEFLOW.secret_settings

    def test_every_setting_the_config_accepts_is_in_the_definition_and_ours_are_marked(self):
        from actions_1flow.destinations.oneflow.settings import OneFlowSettings

        assert list(self.meta["authentication"]["fields"]) == list(OneFlowSettings.model_fields)
        assert self.meta["additions"]["settingsAdded"] == [
            "region",
            "apiBaseUrl",
            "sdkUrl",
            "loadTimeoutMs",
            "sdkProxy",
        ]
        timeout = self.meta["authentication"]["fields"]["loadTimeoutMs"]
        assert (timeout["type"], timeout["required"]) == ("integer", False)
        proxy = self.meta["authentication"]["fields"]["sdkProxy"]
        assert (proxy["type"], proxy["required"], proxy["default"]) == ("boolean", False, False)

    def test_track_event_fields(self):
        action = self.meta["actions"]["trackEvent"]
        assert (action["title"], action["defaultSubscription"], action["platform"]) == (
            "Track Event",
            'type = "track"',
            "web",
        )
        fields = action["fields"]
        assert {k: (f["label"], f["type"], f["required"], f["default"]) for k, f in fields.items()} == {
            "event_name": ("Event Name", "string", True, {"@path": "$.event"}),
            "userId": ("User ID", "string", False, {"@path": "$.userId"}),
            "anonymousId": ("Anonymous ID", "string", False, {"@path": "$.anonymousId"}),
            "properties": ("Event Properties", "object", False, {"@path": "$.properties"}),
        }

    def test_identify_user_fields(self):
        action = self.meta["actions"]["identifyUser"]
        assert (action["title"], action["defaultSubscription"]) == ("Identify User", 'type = "identify"')
        fields = action["fields"]
        assert {k: (f["type"], f["required"], f["default"]) for k, f in fields.items()} == {
            "userId": ("string", False, {"@path": "$.userId"}),
            "anonymousId": ("string", False, {"@path": "$.anonymousId"}),
            "traits": ("object", False, {"@path": "$.traits"}),
        }
        assert fields["traits"]["defaultObjectUI"] == "keyvalue"

    def test_presets_are_automatic_with_default_mappings(self):
        assert self.meta["presets"] == [
            {
                "name": "Track Event",
                "type": "automatic",
                "partnerAction": "trackEvent",
                "subscribe": 'type = "track"',
                "mapping": default_values(ONEFLOW.actions["trackEvent"].fields),
                "eventSlug": None,
            },
            {
                "name": "Identify User",
                "type": "automatic",
                "partnerAction": "identifyUser",
                "subscribe": 'type = "identify"',
                "mapping": default_values(ONEFLOW.actions["identifyUser"].fields),
                "eventSlug": None,
            },
        ]
        assert self.meta["presets"][0]["mapping"] == {
            "event_name": {"@path": "$.event"},
            "userId": {"@path": "$.userId"},
            "anonymousId": {"@path": "$.anonymousId"},
            "properties": {"@path": "$.properties"},
        }

    def test_additions_document_regions_limits_and_schemas(self):
        additions = self.meta["additions"]
        assert additions["regions"]["us"]["apiBaseUrl"] == "https://api.1flow.app/v1"
        assert additions["regions"]["eu"] == {"label": "EU", "apiBaseUrl": None, "sdkUrl": None, "documented": False}
        assert additions["limits"] == {"maxEventBytes": 32768, "maxBatchBytes": 512000}
        assert additions["payloadSchemas"]["trackEvent"]["required"] == ["event_name"]


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


def test_identify_preset_builds_an_identify_message():
    results = results_for({"type": "identify", "userId": "u-1", "traits": {"email": "a@example.com"}})
    (message,) = results["Identify User"].messages
    assert message.type == "identify" and message.body == {"user_id": "u-1", "traits": {"email": "a@example.com"}}


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
