"""The 1Flow Web (Actions) destination: the Track Event and Identify User actions, their presets, and how the kit
runs it (settings model, HTTP client for cloud mode, browser plugin for device mode, 1Flow's mobile plugins).

Actions, fields, defaults and presets are Segment's `actions-1flow` as it stands since 1Flow's own 2024 change
(Identify User has `userId` and `traits` only; tests/oneflow/segment_metadata.py holds the facts at a named commit);
the descriptions are ours (docs/oneflow.md lists each). Our rules on top: Identify without a userId is not sent (the
destination's docs promise it; Segment's code does not enforce it), and neither is a Track with no user id and no
anonymous id (1Flow could not attribute it). Page and screen presets are optional: ours, never run by default.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ...actions import (
    Action,
    Destination,
    DevicePlugin,
    Field,
    Filtered,
    MobilePlugin,
    PerformInput,
    PerformResult,
    Preset,
    default_values,
)
from . import survey_webhook, wire
from .client import OneFlowClient
from .regions import REGIONS, RegionError
from .settings import OneFlowSettings

TYPE = "1flow"
SLUG = "actions-1flow"
NAME = "1Flow Web (Actions)"
LIBRARY_NAME = "actions1flowDestination"
"""The global `web/dist/actions-1flow.min.js` defines (its factory)."""
PLUGIN_BUILD = ("web", "dist", "actions-1flow.min.js")
DEFAULT_LOAD_TIMEOUT_MS = 10_000
"""The plugin's own default, published explicitly so the settings document says what the page will do."""

TRACK_FIELDS: dict[str, Field] = {
    "event_name": Field(
        label="Event Name",
        description="The event's name, which 1Flow's survey triggers match (Segment's `event`).",
        required=True,
        default={"@path": "$.event"},
    ),
    "userId": Field(
        label="User ID",
        description="The user's id in your system (Segment's `userId`), sent to 1Flow as `userId` / `user_id`.",
        default={"@path": "$.userId"},
    ),
    "anonymousId": Field(
        label="Anonymous ID",
        description="The id the Segment library gave a visitor not yet identified (Segment's `anonymousId`).",
        default={"@path": "$.anonymousId"},
    ),
    "properties": Field(
        label="Event Properties",
        description="The event's details, 1Flow's event parameters (Segment's `properties`).",
        type="object",
        default={"@path": "$.properties"},
    ),
}

IDENTIFY_FIELDS: dict[str, Field] = {
    "userId": Field(
        label="User ID",
        description="The user's id in your system, 1Flow's userID; an Identify without one is not sent.",
        default={"@path": "$.userId"},
    ),
    "traits": Field(
        label="Custom Attributes",
        description="The user's attributes, 1Flow's userDetails (Segment's `traits`).",
        type="object",
        default={"@path": "$.traits"},
        default_object_ui="keyvalue",
    ),
}

IDENTIFY_WITHOUT_USER_ID = (
    "not sent: Identify needs a userId (1Flow identifies users by userId): expected for an anonymous visitor"
)
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
    return [wire.identify(payload["userId"], traits=payload.get("traits"), timestamp=_timestamp(data.event))]


TRACK_EVENT = Action(
    title="Track Event",
    description=(
        "Send an event to 1Flow: `_1flow('track', event_name, {userId, anonymousId, properties})` in the browser, "
        "`POST /track` from the server."
    ),
    fields=TRACK_FIELDS,
    perform=perform_track,
    default_subscription='type = "track"',
)

IDENTIFY_USER = Action(
    title="Identify User",
    description=(
        "Create or update a 1Flow user: `_1flow('identify', userId, traits)` in the browser, `POST /identify` from "
        "the server; not sent without a userId."
    ),
    fields=IDENTIFY_FIELDS,
    perform=perform_identify,
    default_subscription='type = "identify"',
)

ACTIONS = {"trackEvent": TRACK_EVENT, "identifyUser": IDENTIFY_USER}

PRESETS = (
    Preset("Track Event", "trackEvent", 'type = "track"', default_values(TRACK_FIELDS)),
    Preset("Identify User", "identifyUser", 'type = "identify"', default_values(IDENTIFY_FIELDS)),
)


def _named_view(kind: str) -> Preset:
    """Pages or screens as 1Flow tracks: `<kind>_<name>`, or `<kind>_view` without a name, as 1Flow's classic
    Segment destination names them (its mobile plugins' docs name screens the same way; docs/oneflow.md)."""
    event_name = {
        "@if": {"blank": {"@path": "$.name"}, "then": {"@template": kind + "_{{name}}"}, "else": f"{kind}_view"}
    }
    mapping = {**default_values(TRACK_FIELDS), "event_name": event_name}
    return Preset(f"Track {kind.title()}", "trackEvent", f'type = "{kind}"', mapping, type="optional")


OPTIONAL_PRESETS = (_named_view("page"), _named_view("screen"))
"""Ours, never run by `subscriptions: presets`: list them as subscriptions to send pages and screens."""

MOBILE_PLUGIN_KEY = "1Flow Mobile Plugin"
"""The key 1Flow's plugins for analytics-swift (`1Flow-Inc/1flow-segment-iOS`) and the classic Android library
(`1Flow-Inc/1flow-segment-tool`) read from the settings document's `integrations`."""


def mobile_settings(settings: OneFlowSettings) -> dict[str, Any]:
    """`integrations["1Flow Mobile Plugin"]`: the one key both plugins read (`apiKey`), public as in the page."""
    return {"apiKey": settings.projectApiKey.get_secret_value()}


ADDITIONS: dict[str, Any] = {
    "modes": ["device", "cloud"],
    "secretSettings": OneFlowSettings.secret_keys(),
    "advancedSettings": [key for key, f in OneFlowSettings.fields().items() if f.advanced],
    "settingsAdded": [key for key in OneFlowSettings.model_fields if OneFlowSettings.info(key)["addition"]],
    "regions": {
        r.name: {
            "label": r.label,
            "apiBaseUrl": r.api_base_url,
            "sdkUrl": r.sdk_url,
            "documented": r.api_base_url is not None,
        }
        for r in REGIONS.values()
    },
    "limits": {"maxEventBytes": wire.MAX_REQUEST_BYTES, "maxBatchBytes": wire.MAX_BATCH_BYTES},
    "cloudEndpoints": {"trackEvent": "POST /track", "identifyUser": "POST /identify", "batch": "POST /batch"},
    "payloadSchemas": {slug: action.schema for slug, action in ACTIONS.items()},
    "mobilePlugin": {"key": MOBILE_PLUGIN_KEY, "settings": {"apiKey": "projectApiKey"}},
    "rules": [
        "Identify without a userId is not sent; it is reported as filtered.",
        "Track without a userId and an anonymousId is not sent; it is reported as filtered.",
        "Server-side (cloud) events feed 1Flow targeting but cannot trigger surveys.",
        "In the page, the SDK is called as Segment calls it, `_1flow('track' | 'identify', …)`, when `_1flow` is a "
        "function; its methods `logEvent` / `logUser` otherwise.",
        "Pages and screens reach 1Flow only through the optional presets (optionalPresets), never by default.",
    ],
}


def create_client(settings: OneFlowSettings, **options: Any) -> OneFlowClient:
    """The cloud-mode client for the settings' endpoint and key (options go to `OneFlowClient`, e.g. `transport`)."""
    return OneFlowClient(settings.projectApiKey, settings.api_base_url(), **options)


def page_settings(settings: OneFlowSettings, hosted_sdk_url: str | None = None) -> dict[str, Any]:
    """What the plugin receives in the page. The key is public by necessity: 1Flow's SDK reads it from its script
    tag. `sdkUrl` is the server's own copy of the SDK when it hosts it (`sdkProxy`), else 1Flow's (or the
    override's) URL."""
    return {
        "projectApiKey": settings.projectApiKey.get_secret_value(),
        "sdkUrl": hosted_sdk_url or settings.sdk_url(),
        "loadTimeoutMs": settings.loadTimeoutMs or DEFAULT_LOAD_TIMEOUT_MS,
    }


def page_key(settings: OneFlowSettings) -> Hashable:
    """A page runs one 1Flow SDK (one `window._1flow`, one `data-api-key`): the project and the SDK it loads, from
    1Flow or from the server (None when the SDK URL cannot be resolved, which the configuration reports on its
    own)."""
    try:
        return (settings.projectApiKey.get_secret_value(), settings.sdk_url(), settings.sdkProxy)
    except RegionError:
        return None


def hosted_sdk(settings: OneFlowSettings) -> str | None:
    """The SDK the server fetches and serves first-party when `sdkProxy` is on: the one the page would load."""
    return settings.sdk_url() if settings.sdkProxy else None


ONEFLOW = Destination(
    name=NAME,
    slug=SLUG,
    mode="device",
    description=(
        "Send analytics to 1Flow: in the browser through 1Flow's web SDK, or from the server through its HTTP API."
    ),
    settings_model=OneFlowSettings,
    actions=ACTIONS,
    presets=PRESETS,
    optional_presets=OPTIONAL_PRESETS,
    additions=ADDITIONS,
    type=TYPE,
    vendor="1Flow",
    create_client=create_client,
    device=DevicePlugin(
        library_name=LIBRARY_NAME,
        package=__package__ or "actions_1flow.destinations.oneflow",
        path=PLUGIN_BUILD,
        page_settings=page_settings,
        page_key=page_key,
        page_conflict="another projectApiKey, sdkUrl or sdkProxy",
        hosted_sdk=hosted_sdk,
        sdk_file="1flow.js",
        mobile=MobilePlugin(MOBILE_PLUGIN_KEY, mobile_settings),
    ),
    source_presets=(survey_webhook.PRESET,),
    origin=survey_webhook.ORIGIN,
)
