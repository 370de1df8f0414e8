"""The 1Flow Web (Actions) destination: settings, the Track Event and Identify User actions, and their presets.

Fields, defaults and presets follow Segment's `actions-1flow` (identify also takes an `anonymousId`). Our rules on
top: Identify without a userId is not sent (the destination's docs promise it; Segment's code does not enforce
it), and neither is a Track with no user id and no anonymous id (1Flow could not attribute it).
"""

from __future__ import annotations

from typing import Any

from ...actions import Action, Choice, Destination, Field, Filtered, PerformInput, PerformResult, Preset, default_values
from . import wire
from .regions import DEFAULT_REGION, REGIONS

SLUG = "actions-1flow"
NAME = "1Flow Web (Actions)"

SETTINGS: dict[str, Field] = {
    "projectApiKey": Field(
        label="Project API Key",
        description="Your 1Flow project's API key (1Flow dashboard → Settings → Project settings). Kept secret.",
        type="password",
        required=True,
    ),
    "region": Field(
        label="Region",
        description=(
            "Where your 1Flow project's data is hosted. 1Flow documents only the US endpoints; "
            "choosing eu requires apiBaseUrl (cloud mode) or sdkUrl (device mode)."
        ),
        type="string",
        choices=tuple(Choice(r.name, r.label) for r in REGIONS.values()),
        default=DEFAULT_REGION,
    ),
    "apiBaseUrl": Field(
        label="API Base URL",
        description="Advanced: overrides the region's HTTP API endpoint (cloud mode), e.g. the 1Flow sandbox.",
        type="string",
        advanced=True,
    ),
    "sdkUrl": Field(
        label="SDK URL",
        description="Advanced: overrides the region's web SDK script (device mode), e.g. the 1Flow sandbox.",
        type="string",
        advanced=True,
    ),
}

_USER_ID = Field(label="User ID", description="The user's unique identifier.", default={"@path": "$.userId"})
_ANONYMOUS_ID = Field(
    label="Anonymous ID", description="The identifier of a user not yet known.", default={"@path": "$.anonymousId"}
)

TRACK_FIELDS: dict[str, Field] = {
    "event_name": Field(label="Event Name", description="What happened.", required=True, default={"@path": "$.event"}),
    "userId": _USER_ID,
    "anonymousId": _ANONYMOUS_ID,
    "properties": Field(
        label="Event Properties",
        description="Details of the event.",
        type="object",
        default={"@path": "$.properties"},
    ),
}

IDENTIFY_FIELDS: dict[str, Field] = {
    "userId": _USER_ID,
    "anonymousId": _ANONYMOUS_ID,
    "traits": Field(
        label="Custom Attributes",
        description="The user's attributes (1Flow's userDetails).",
        type="object",
        default={"@path": "$.traits"},
        default_object_ui="keyvalue",
    ),
}

IDENTIFY_WITHOUT_USER_ID = "not sent: Identify needs a userId (1Flow identifies users by userId; see logUser)"
TRACK_WITHOUT_IDS = "not sent: Track needs a userId or an anonymousId for 1Flow to attribute the event"


def _timestamp(event: Any) -> Any:
    return event.get("timestamp") if hasattr(event, "get") else None


def perform_track(data: PerformInput) -> PerformResult:
    payload = data.payload
    if not payload.get("userId") and not payload.get("anonymousId"):
        return Filtered(TRACK_WITHOUT_IDS)
    return [
        wire.track(
            payload["event_name"],
            user_id=payload.get("userId") or None,
            anonymous_id=payload.get("anonymousId") or None,
            properties=payload.get("properties"),
            timestamp=_timestamp(data.event),
        )
    ]


def perform_identify(data: PerformInput) -> PerformResult:
    payload = data.payload
    if not payload.get("userId"):
        return Filtered(IDENTIFY_WITHOUT_USER_ID)
    return [
        wire.identify(
            payload["userId"],
            traits=payload.get("traits"),
            anonymous_id=payload.get("anonymousId") or None,
            timestamp=_timestamp(data.event),
        )
    ]


TRACK_EVENT = Action(
    title="Track Event",
    description="Send an event to 1Flow (logEvent in the browser, POST /track from the server).",
    fields=TRACK_FIELDS,
    perform=perform_track,
    default_subscription='type = "track"',
)

IDENTIFY_USER = Action(
    title="Identify User",
    description="Create or update a 1Flow user (logUser in the browser, POST /identify from the server).",
    fields=IDENTIFY_FIELDS,
    perform=perform_identify,
    default_subscription='type = "identify"',
)

ACTIONS = {"trackEvent": TRACK_EVENT, "identifyUser": IDENTIFY_USER}

PRESETS = (
    Preset("Track Event", "trackEvent", 'type = "track"', default_values(TRACK_FIELDS)),
    Preset("Identify User", "identifyUser", 'type = "identify"', default_values(IDENTIFY_FIELDS)),
)

ADDITIONS: dict[str, Any] = {
    "modes": ["device", "cloud"],
    "secretSettings": ["projectApiKey"],
    "advancedSettings": ["apiBaseUrl", "sdkUrl"],
    "regions": {
        r.name: {"label": r.label, "apiBaseUrl": r.api_base_url, "sdkUrl": r.sdk_url, "documented": r.api_base_url is not None}
        for r in REGIONS.values()
    },
    "limits": {"maxEventBytes": wire.MAX_REQUEST_BYTES, "maxBatchBytes": wire.MAX_BATCH_BYTES},
    "cloudEndpoints": {"trackEvent": "POST /track", "identifyUser": "POST /identify", "batch": "POST /batch"},
    "payloadSchemas": {slug: action.schema for slug, action in ACTIONS.items()},
    "rules": [
        "Identify without a userId is not sent; it is reported as filtered.",
        "Track without a userId and an anonymousId is not sent; it is reported as filtered.",
        "Server-side (cloud) events feed 1Flow targeting but cannot trigger surveys.",
    ],
}

ONEFLOW = Destination(
    name=NAME,
    slug=SLUG,
    mode="device",
    description="Send analytics to 1Flow: in the browser through 1Flow's web SDK, or from the server through its HTTP API.",
    settings=SETTINGS,
    actions=ACTIONS,
    presets=PRESETS,
    additions=ADDITIONS,
)
