"""The Segment (Actions) destination: Segment's five send actions, as its definition declares them, and ours,
marked as ours: the Forward Event action and one preset per event type that forwards every event unchanged (what a
first-party endpoint in front of Segment needs; Segment's definition has no presets), the region and `apiBaseUrl`.

Segment's actions rebuild each event from their fields (a context of known keys, `context.library` and unlisted
keys gone); Forward Event sends the stored event itself. Both keep `messageId`, so the receiving API de-duplicates
what a crash sends twice. Cloud mode only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...actions import Action, Destination, Field, PayloadValidationError, PerformInput, PerformResult, Preset
from . import fields as f
from . import wire
from .client import create_client
from .settings import ENDPOINTS, SegmentSettings

TYPE = "segment"
NO_IDENTITY = "Either `Anonymous ID` or `User ID` must be defined."
"""Segment's own message when an event has neither."""
FORWARDED_TYPES = ("track", "identify", "page", "screen", "group", "alias")

_COMMON = {"user_id": f.USER_ID, "anonymous_id": f.ANONYMOUS_ID, "timestamp": f.TIMESTAMP}
_CONTEXT = f.CONTEXT_FIELDS
_HIDDEN = {"message_id": f.MESSAGE_ID, "consent": f.CONSENT}


def _ordered(*parts: dict[str, Field]) -> dict[str, Field]:
    merged: dict[str, Field] = {}
    for part in parts:
        merged.update(part)
    return merged


TRACK_FIELDS = _ordered(
    _COMMON,
    {"event_name": f.EVENT_NAME},
    _CONTEXT,
    {"group_id": f.GROUP_ID, "properties": f.PROPERTIES, "traits": f.TRAITS},
    _HIDDEN,
)
IDENTIFY_FIELDS = _ordered(
    _COMMON, _CONTEXT, {"group_id": f.GROUP_ID, "traits": f.TRAITS}, _HIDDEN, {"address": f.ADDRESS}
)
GROUP_FIELDS = _ordered(
    {"user_id": f.USER_ID, "anonymous_id": f.ANONYMOUS_ID},
    {"group_id": Field(label="Group ID", description=f.GROUP_ID.description, required=True)},
    {"timestamp": f.TIMESTAMP},
    _CONTEXT,
    {"traits": f.TRAITS},
    _HIDDEN,
)
PAGE_FIELDS = _ordered(
    _COMMON,
    {"page_name": f.PAGE_NAME, "page_category": f.PAGE_CATEGORY},
    _CONTEXT,
    {"group_id": f.GROUP_ID, "properties": f.PROPERTIES},
    _HIDDEN,
)
SCREEN_FIELDS = _ordered(
    _COMMON, {"screen_name": f.SCREEN_NAME}, _CONTEXT, {"group_id": f.GROUP_ID, "properties": f.PROPERTIES}, _HIDDEN
)
FORWARD_FIELDS = {
    "event": Field(
        label="Event",
        description="The event to send; by default the whole event as stored (after privacy.drop).",
        type="object",
        required=True,
        default={"@path": "$."},
    )
}


def _sending(build: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[PerformInput], PerformResult]:
    """A perform that refuses an event without identity (as Segment's actions do) and builds the event to send."""

    def perform(data: PerformInput) -> PerformResult:
        if not data.payload.get("user_id") and not data.payload.get("anonymous_id"):
            raise PayloadValidationError([NO_IDENTITY])
        return [wire.Message(build(data.payload))]

    return perform


def perform_forward(data: PerformInput) -> PerformResult:
    return [wire.Message(wire.forwarded(data.payload["event"]))]


def _action(title: str, what: str, fields: dict[str, Field], build: Callable[..., dict[str, Any]], kind: str) -> Action:
    return Action(
        title=title,
        description=f"Send {what} to Segment's tracking API (`/v1/batch`), built from the fields below.",
        fields=fields,
        perform=_sending(build),
        default_subscription=f'type = "{kind}"',
        platform="cloud",
    )


ACTIONS = {
    "sendIdentify": _action(
        "Send Identify", "an identify (who the user is)", IDENTIFY_FIELDS, wire.identify, "identify"
    ),
    "sendGroup": _action("Send Group", "a group (the user's account)", GROUP_FIELDS, wire.group, "group"),
    "sendScreen": _action("Send Screen", "a screen view", SCREEN_FIELDS, wire.screen, "screen"),
    "sendPage": _action("Send Page", "a page view", PAGE_FIELDS, wire.page, "page"),
    "sendTrack": _action("Send Track", "a track (what the user did)", TRACK_FIELDS, wire.track, "track"),
    "forwardEvent": Action(
        title="Forward Event",
        description=(
            "Send the event as it was received (every key but sentAt and receivedAt), so the receiving API "
            "stores what this server stored: messageId, timestamp and the whole context."
        ),
        fields=FORWARD_FIELDS,
        perform=perform_forward,
        platform="cloud",
        addition=True,
    ),
}

PRESETS = tuple(
    Preset(f"Forward {kind.title()}", "forwardEvent", f'type = "{kind}"', {"event": {"@path": "$."}}, addition=True)
    for kind in FORWARDED_TYPES
)

ADDITIONS: dict[str, Any] = {
    "modes": ["cloud"],
    "secretSettings": SegmentSettings.secret_keys(),
    "advancedSettings": [key for key, s in SegmentSettings.fields().items() if s.advanced],
    "settingsAdded": [key for key in SegmentSettings.model_fields if SegmentSettings.info(key)["addition"]],
    "regions": {name: {"label": label, "apiBaseUrl": url} for name, (label, url) in ENDPOINTS.items()},
    "limits": {
        "maxEventBytes": wire.MAX_EVENT_BYTES,
        "maxBatchBytes": wire.MAX_BATCH_BYTES,
        "maxBatchEvents": wire.MAX_BATCH_EVENTS,
    },
    "cloudEndpoints": {"batch": "POST {apiBaseUrl}/batch (HTTP Basic: the write key, no password; gzip)"},
    "rules": [
        "Each action refuses an event with neither a user id nor an anonymous id, with Segment's message.",
        "The consent stamp is sent only in its categoryPreferences form; otherwise context.consent is {}.",
        "Forward Event sends the stored event without sentAt and receivedAt; the presets forward every type.",
    ],
}

SEGMENT = Destination(
    name="Segment",
    slug="actions-segment",
    mode="cloud",
    description=(
        "Send events to Segment's tracking API, or any API that speaks it: each type forwarded unchanged by the "
        "presets, or rebuilt by Segment's five actions."
    ),
    settings_model=SegmentSettings,
    actions=ACTIONS,
    presets=PRESETS,
    additions=ADDITIONS,
    type=TYPE,
    vendor="Segment",
    create_client=create_client,
    described_in_metadata=False,
)
