"""Event checks and enrichment, as Segment's tracking API does them on receipt.

Checks: a known `type`, a `userId` or `anonymousId`, 32 KB per event. Enrichment: `messageId` when absent,
`receivedAt`, `timestamp` corrected for client clock skew with `sentAt` (the client's original kept as
`originalTimestamp`), `context.ip` from the connection when absent. The write key never stays in a stored event.
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from .errors import IngestError
from .limits import MAX_BATCH_EVENTS, MAX_EVENT_BYTES

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")

PATH_ALIASES = {
    "i": "identify",
    "t": "track",
    "p": "page",
    "s": "screen",
    "g": "group",
    "a": "alias",
    "b": "batch",
    "import": "batch",
}
"""Other names of the endpoints: analytics.js's short ones (`/v1/t` …, `/v1/b`, which analytics-swift, -kotlin and
-react-native batch to as well), and `/v1/import`, where Segment's classic mobile libraries (analytics-android,
which 1Flow's Android plugin runs on) post their batches."""

_BATCH_DEFAULTS = ("context", "integrations", "sentAt")


def events_from_body(kind: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The events a request carries: the body itself for `/v1/<type>`, the `batch` list for `/v1/batch`.

    For a single-event path the path names the type, as in Segment. A batch's top-level `context`,
    `integrations` and `sentAt` apply to every event that lacks its own. Each event is measured against the
    32 KB limit as the client sent it (before those are added), which is how the client libraries measure it;
    the shared part is measured on its own.
    """
    if kind != "batch":
        check_size(body, "the event")
        return [{**body, "type": kind}]
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise IngestError(400, "invalid_batch", "a batch body needs a `batch` array of events")
    if len(batch) > MAX_BATCH_EVENTS:
        raise IngestError(
            400,
            "batch_too_many_events",
            f"the batch has {len(batch):,} events; the limit is {MAX_BATCH_EVENTS:,} events per batch",
            MAX_BATCH_EVENTS,
        )
    defaults = {k: body[k] for k in _BATCH_DEFAULTS if k in body}
    if defaults:
        check_size(defaults, "the batch's shared context, integrations and sentAt")
    events = []
    for index, item in enumerate(batch):
        if not isinstance(item, dict):
            raise IngestError(400, "invalid_event", f"batch[{index}] is not a JSON object")
        check_size(item, f"batch[{index}]")
        events.append({**defaults, **item} if defaults else item)
    return events


def check_size(event: dict[str, Any], where: str) -> None:
    """Refuse an event over 32 KB as compact JSON (or too deeply nested to serialise at all)."""
    try:
        size = len(orjson.dumps(event))
    except orjson.JSONEncodeError:
        raise IngestError(
            400, "event_too_deep", f"{where} is nested too deeply to store (more than 254 levels)"
        ) from None
    if size > MAX_EVENT_BYTES:
        raise IngestError(
            400,
            "event_too_large",
            f"{where} is {size:,} bytes; the limit is {MAX_EVENT_BYTES:,} bytes (32 KB) per event",
            MAX_EVENT_BYTES,
        )


def check_event(event: dict[str, Any], where: str) -> None:
    """Refuse an event Segment would refuse (unknown type, no identity), and one whose messageId no store can keep."""
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise IngestError(400, "invalid_type", f"{where} has type {kind!r}; expected one of {', '.join(EVENT_TYPES)}")
    if not _present(event.get("userId")) and not _present(event.get("anonymousId")):
        raise IngestError(400, "no_user_anon_id", f"{where} has neither a userId nor an anonymousId")
    message_id = event.get("messageId")
    if isinstance(message_id, str) and "\x00" in message_id:  # PostgreSQL's text cannot hold it: refused on both
        raise IngestError(
            400,
            "invalid_message_id",
            f"{where} has a messageId containing U+0000 (NUL), which the event store cannot keep; "
            "send a messageId without it (or none: the server makes one)",
        )


def enrich(event: dict[str, Any], received_at: datetime, client_ip: str | None) -> dict[str, Any]:
    """A new event with Segment's server-side fields added; the input is not modified."""
    out = dict(event)
    out.pop("writeKey", None)
    message_id = out.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        out["messageId"] = f"api-{uuid.uuid4()}"
    out["receivedAt"] = _received_iso(received_at)
    _correct_timestamp(out, received_at)
    if client_ip:
        context = out.get("context")
        if not isinstance(context, dict):
            out["context"] = {"ip": client_ip}
        elif "ip" not in context:
            out["context"] = {**context, "ip": client_ip}
    return out


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and `Z`, as Segment writes timestamps (`%`-formatting: the ingest hot
    path calls this for every event, and `strftime` costs three times as much)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


_received_iso = functools.lru_cache(maxsize=4)(iso)
"""`iso` for the receipt time, which every event of a request shares."""

_AS_ISO_WRITES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
"""A valid time already written as `iso` writes it: `iso` of its parsed moment gives it back unchanged."""


def parse_time(value: Any) -> datetime | None:
    """A client timestamp (ISO-8601, `Z` or offset) in UTC; None when absent, unreadable or out of range."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):  # also after a date alone, where Python reads no Z
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _correct_timestamp(event: dict[str, Any], received_at: datetime) -> None:
    """timestamp = receivedAt − (sentAt − originalTimestamp); with no usable client time, timestamp = receivedAt."""
    original = parse_time(event.get("timestamp"))
    sent_at = parse_time(event.get("sentAt"))
    if original is None:
        if "timestamp" in event and event["timestamp"] is not None:
            event["originalTimestamp"] = event["timestamp"]
        event["timestamp"] = iso(received_at)
        return
    text = event["originalTimestamp"] = event["timestamp"]
    if sent_at is None:
        event["timestamp"] = text if _AS_ISO_WRITES.fullmatch(text) else iso(original)
        return
    try:
        event["timestamp"] = iso(received_at - (sent_at - original))
    except OverflowError:
        event["timestamp"] = iso(original)


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value != ""
    return True
