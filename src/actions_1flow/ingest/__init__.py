"""Tracking-API input: from raw HTTP request parts to checked, enriched Segment events.

Pure functions, no I/O: the server feeds them bytes and headers and stores what comes back. Everything refused
raises `IngestError` (a 4xx with a JSON reason); nothing here can fail with a 5xx on client input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .body import decompress, parse_json_object, write_key_from
from .errors import IngestError
from .events import EVENT_TYPES, PATH_ALIASES, check_event, enrich, events_from_body
from .limits import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES

__all__ = [
    "EVENT_TYPES",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_EVENT_BYTES",
    "PATH_ALIASES",
    "IngestError",
    "TrackingRequest",
    "endpoint_kind",
    "read_request",
]


@dataclass(frozen=True)
class TrackingRequest:
    """A refused-or-accepted unit: every event of one request, all checked and enriched, plus its write key."""

    write_key: str | None
    events: list[dict[str, Any]]


def endpoint_kind(name: str) -> str | None:
    """`track`, `t`, `batch`, `b`, `import` … → the canonical kind (`track`, `batch`); None for an unknown endpoint."""
    if name in EVENT_TYPES or name == "batch":
        return name
    return PATH_ALIASES.get(name)


def read_request(
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    client_ip: str | None = None,
    received_at: datetime | None = None,
) -> TrackingRequest:
    """Decode, authenticate (find the key; the caller decides if it is known), check and enrich a request.

    `kind` is the endpoint name (`track`, `t`, `batch`, `b` …). `headers` must be case-insensitive or lower-cased.
    All events are checked before any is returned, so a request is refused or accepted as a whole.
    """
    canonical = endpoint_kind(kind)
    if canonical is None:
        raise IngestError(404, "unknown_endpoint", f"/v1/{kind} is not a tracking endpoint")
    kind = canonical
    raw = decompress(body, headers.get("content-encoding", ""))
    data = parse_json_object(raw)
    write_key = write_key_from(headers, data)
    events = events_from_body(kind, data)
    for index, event in enumerate(events):
        check_event(event, f"batch[{index}]" if kind == "batch" else "the event")
    now = received_at or datetime.now(UTC)
    return TrackingRequest(write_key, [enrich(event, now, client_ip) for event in events])
