"""Segment's tracking API wire format: the events each action builds, and `/v1/batch` bodies within Segment's
limits (32 KB per event, 500 KB and 2,500 events per batch), gzipped.

The five actions build their event from the payload the way Segment's own actions do (which keys, where, what is
always present: `context.consent`, `properties`, `traits`); forwarding sends the stored event as it is, without its
`sentAt` and `receivedAt`, so the receiving API neither corrects the timestamp a second time nor keeps a stale
receipt time. There is no batch-level `sentAt` either: timestamps were corrected on receipt here.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...ingest.limits import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES
from ...jsvalues import dumps

BATCH_PATH = "/batch"
CONTENT_TYPE = "application/json"
GZIP_LEVEL = 1
"""Fast compression: level 6 costs three times the CPU for a body 8 % smaller (docs/performance.md)."""

BATCH_OPEN = b'{"batch":['
BATCH_CLOSE = b"]}"
NOT_FORWARDED = ("sentAt", "receivedAt")
"""Keys of a stored event the forwarder leaves out (the receiving API sets its own receipt time)."""

CONTEXT_KEYS = {
    "application": "app",
    "campaign_parameters": "campaign",
    "device": "device",
    "ip_address": "ip",
    "locale": "locale",
    "location": "location",
    "network": "network",
    "operating_system": "os",
    "page": "page",
    "screen": "screen",
    "user_agent": "userAgent",
    "timezone": "timezone",
}
"""Payload field → `context` key, in Segment's order (the consent stamp comes after `campaign`)."""

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_EVENTS", "MAX_EVENT_BYTES", "Message"]


@dataclass(eq=False, slots=True)
class Message:
    """One event for the tracking API; `ref` is opaque to the wire. Encoded when built: every message is sent,
    and its size is what the limits judge (encoding here also keeps it off the event loop in the worker). Not
    frozen: a frozen dataclass sets each field through `object.__setattr__`, half the cost of building one."""

    event: dict[str, Any]
    ref: Any = field(default=None, compare=False)
    encoded: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.encoded = dumps(self.event)

    @property
    def size(self) -> int:
        return len(self.encoded)


def batch_body(messages: list[Message]) -> bytes:
    """The JSON of one `/v1/batch` request."""
    return BATCH_OPEN + b",".join(m.encoded for m in messages) + BATCH_CLOSE


def compress(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def valid_consent(consent: Any) -> bool:
    """Segment sends the consent stamp only in its `{categoryPreferences: {category: bool}}` form (absent is fine)."""
    if consent is None:
        return True
    prefs = consent.get("categoryPreferences") if isinstance(consent, Mapping) else None
    return isinstance(prefs, Mapping) and all(isinstance(v, bool) for v in prefs.values())


def context(payload: Mapping[str, Any], *, traits: bool = False, group_id: bool = True) -> dict[str, Any]:
    """`context` as Segment's actions build it: the payload's context fields, the consent stamp (`{}` unless valid),
    the track's traits, the group id (every action but Send Group)."""
    built: dict[str, Any] = {}
    if traits:
        built["traits"] = dict(payload.get("traits") or {})
    consent = payload.get("consent")
    for key, name in CONTEXT_KEYS.items():
        _put(built, name, payload.get(key))
        if key == "campaign_parameters":
            built["consent"] = dict(consent) if consent is not None and valid_consent(consent) else {}
    if group_id:
        _put(built, "groupId", payload.get("group_id"))
    return built


def _head(payload: Mapping[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {}
    _put(event, "userId", payload.get("user_id"))
    _put(event, "anonymousId", payload.get("anonymous_id"))
    return event


def track(payload: Mapping[str, Any]) -> dict[str, Any]:
    event = _head(payload)
    _put(event, "timestamp", payload.get("timestamp"))
    event["event"] = payload.get("event_name")
    _put(event, "messageId", payload.get("message_id"))
    event["context"] = context(payload, traits=True)
    event["properties"] = dict(payload.get("properties") or {})
    event["type"] = "track"
    return event


def identify(payload: Mapping[str, Any]) -> dict[str, Any]:
    event = _head(payload)
    _put(event, "timestamp", payload.get("timestamp"))
    _put(event, "messageId", payload.get("message_id"))
    event["context"] = context(payload)
    traits = dict(payload.get("traits") or {})
    _put(traits, "address", payload.get("address"))
    event["traits"] = traits
    event["type"] = "identify"
    return event


def group(payload: Mapping[str, Any]) -> dict[str, Any]:
    event = _head(payload)
    _put(event, "groupId", payload.get("group_id"))
    _put(event, "timestamp", payload.get("timestamp"))
    _put(event, "messageId", payload.get("message_id"))
    event["context"] = context(payload, group_id=False)
    event["traits"] = dict(payload.get("traits") or {})
    event["type"] = "group"
    return event


def page(payload: Mapping[str, Any]) -> dict[str, Any]:
    event = _head(payload)
    _put(event, "timestamp", payload.get("timestamp"))
    _put(event, "name", payload.get("page_name"))
    _put(event, "messageId", payload.get("message_id"))
    event["context"] = context(payload)
    shown = payload.get("page") or {}
    properties: dict[str, Any] = {}
    _put(properties, "name", payload.get("page_name"))
    _put(properties, "category", payload.get("page_category"))
    for key in ("path", "referrer", "search", "title", "url"):
        _put(properties, key, shown.get(key))
    event["properties"] = {**properties, **(payload.get("properties") or {})}
    event["type"] = "page"
    return event


def screen(payload: Mapping[str, Any]) -> dict[str, Any]:
    event = _head(payload)
    _put(event, "timestamp", payload.get("timestamp"))
    _put(event, "name", payload.get("screen_name"))
    _put(event, "messageId", payload.get("message_id"))
    built = context(payload)
    built.pop("timezone", None)  # Segment's Send Screen leaves the timezone out of the context
    event["context"] = built
    properties: dict[str, Any] = {}
    _put(properties, "name", payload.get("screen_name"))
    event["properties"] = {**properties, **(payload.get("properties") or {})}
    event["type"] = "screen"
    return event


def forwarded(event: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event as the forwarder sends it: every key but `sentAt` and `receivedAt`."""
    sent = dict(event)
    for key in NOT_FORWARDED:
        sent.pop(key, None)
    return sent
