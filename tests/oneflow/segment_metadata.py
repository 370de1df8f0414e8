"""Facts of Segment's 1Flow Web (Actions) definition, written from its generated `metadata.json`.

Read at `segmentio/action-destinations` @ `COMMIT` (`METADATA_PATH`; the file is generated from the TypeScript
definition, first in `GENERATED_IN`; `SOURCES` are the definition's files read at the same commit). Keys, their
order, types, defaults, labels and presets are recorded here; the descriptions are not (they are Segment's prose and
ours are our own, so `DESCRIBED` lists only where Segment has one, and docs/oneflow.md says how ours differs).

Segment's Identify User has had `userId` and `traits` only since `IDENTIFY_CHANGE` (1Flow's engineer, May 2024:
"Removed Anonymous Id"; the SDK calls became `_1flow('track' | 'identify', …)` on a stub that re-calls
`window._1flow`).
"""

from __future__ import annotations

from typing import Any

REPOSITORY = "segmentio/action-destinations"
COMMIT = "970a17ee8d064501db7ae555f4d90f17befadfc0"
METADATA_PATH = "packages/browser-destinations/destinations/1flow/metadata.json"
GENERATED_IN = "9048e8203eeecd30055e4b506252ff27d6cad6a4"
IDENTIFY_CHANGE = "3e475d306340fc3c77eb1089aa46c2a898112ff5"
SOURCES = (
    "packages/browser-destinations/destinations/1flow/src/index.ts",
    "packages/browser-destinations/destinations/1flow/src/1flow.ts",
    "packages/browser-destinations/destinations/1flow/src/trackEvent/index.ts",
    "packages/browser-destinations/destinations/1flow/src/identifyUser/index.ts",
)

TOP_KEYS = ["slug", "name", "mode", "description", "authentication", "audienceConfig", "actions", "presets"]
SETTING_KEYS = ["label", "description", "type", "required", "multiple", "choices", "default", "depends_on"]
ACTION_KEYS = [
    "title",
    "description",
    "platform",
    "defaultSubscription",
    "hidden",
    "hasPerformBatch",
    "syncMode",
    "hooks",
    "dynamicFields",
    "fields",
]
FIELD_KEYS = [
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
    "format",
    "additionalProperties",
]
PRESET_KEYS = ["name", "type", "partnerAction", "subscribe", "mapping", "eventSlug"]

IDENTITY = {"slug": "actions-1flow", "name": "1Flow Web (Actions)", "mode": "device", "audienceConfig": None}
AUTHENTICATION_SCHEME = "custom"

SETTINGS: dict[str, dict[str, Any]] = {
    "projectApiKey": {
        "label": "Project API Key",
        "type": "password",
        "required": True,
        "multiple": False,
        "choices": None,
        "default": None,
        "depends_on": None,
    }
}


GENERATOR_DEFAULTS: dict[str, Any] = {
    "required": False,
    "multiple": False,
    "allowNull": False,
    "dynamic": False,
    "default": None,
    "choices": None,
    "placeholder": None,
    "properties": None,
    "category": None,
    "depends_on": None,
    "readOnly": None,
    "hidden": None,
    "minimum": None,
    "maximum": None,
    "defaultObjectUI": None,
    "disabledInputMethods": None,
    "displayMode": None,
    "format": None,
    "additionalProperties": False,
}
"""What Segment's metadata generator writes for a field attribute its definition leaves unset (null or false)."""


def _field(label: str, type_: str, path: str, *, required: bool = False, object_ui: str | None = None) -> dict:
    """One action field: every attribute but the description, the unset ones at the generator's null/false."""
    overrides = {"required": required, "default": {"@path": path}, "defaultObjectUI": object_ui}
    return {"label": label, "type": type_, **GENERATOR_DEFAULTS, **overrides}


def _action(title: str, trigger: str, fields: dict[str, dict]) -> dict:
    return {
        "title": title,
        "platform": "web",
        "defaultSubscription": trigger,
        "hidden": False,
        "hasPerformBatch": False,
        "syncMode": None,
        "hooks": None,
        "dynamicFields": None,
        "fields": fields,
    }


ACTIONS: dict[str, dict[str, Any]] = {
    "trackEvent": _action(
        "Track Event",
        'type = "track"',
        {
            "event_name": _field("Event Name", "string", "$.event", required=True),
            "userId": _field("User ID", "string", "$.userId"),
            "anonymousId": _field("Anonymous ID", "string", "$.anonymousId"),
            "properties": _field("Event Properties", "object", "$.properties"),
        },
    ),
    "identifyUser": _action(
        "Identify User",
        'type = "identify"',
        {
            "userId": _field("User ID", "string", "$.userId"),
            "traits": _field("Custom Attributes", "object", "$.traits", object_ui="keyvalue"),
        },
    ),
}

PRESETS: list[dict[str, Any]] = [
    {
        "name": "Track Event",
        "type": "automatic",
        "partnerAction": "trackEvent",
        "subscribe": 'type = "track"',
        "mapping": {
            "event_name": {"@path": "$.event"},
            "userId": {"@path": "$.userId"},
            "anonymousId": {"@path": "$.anonymousId"},
            "properties": {"@path": "$.properties"},
        },
        "eventSlug": None,
    },
    {
        "name": "Identify User",
        "type": "automatic",
        "partnerAction": "identifyUser",
        "subscribe": 'type = "identify"',
        "mapping": {"userId": {"@path": "$.userId"}, "traits": {"@path": "$.traits"}},
        "eventSlug": None,
    },
]

DESCRIBED = [
    "description",
    "authentication.fields.projectApiKey",
    "actions.trackEvent",
    "actions.trackEvent.fields.event_name",
    "actions.trackEvent.fields.userId",
    "actions.trackEvent.fields.anonymousId",
    "actions.trackEvent.fields.properties",
    "actions.identifyUser",
    "actions.identifyUser.fields.userId",
    "actions.identifyUser.fields.traits",
]
"""Where Segment's metadata has a description (every one non-empty)."""


def without_descriptions(value: Any) -> Any:
    """The value with every `description` key removed (at any depth), key order kept: descriptions are Segment's
    prose, which the definition tests do not compare."""
    if isinstance(value, dict):
        return {k: without_descriptions(v) for k, v in value.items() if k != "description"}
    if isinstance(value, list):
        return [without_descriptions(v) for v in value]
    return value
