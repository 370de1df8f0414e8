"""1Flow's public HTTP API wire format: the one module that knows paths, field names, headers and size limits.

Documented by 1Flow: `POST /identify {"user_id", "traits", "timestamp"}` with header `api_key`, 32 KB per request,
500 KB per batch request, 413 when over. `/track` and `/batch` follow the same API (our reading: Segment-style
`event`/`properties`/`anonymous_id`, and `{"batch": [{"type": ..., ...}]}`); nothing else in the product builds
these bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from ...actions.batching import pack
from ...jsvalues import dumps

API_KEY_HEADER = "api_key"
CONTENT_TYPE = "application/json"
MAX_REQUEST_BYTES = 32 * 1024
"""1Flow's limit for one standard request (`/identify`, `/track`); also the limit for one event inside a batch."""
MAX_BATCH_BYTES = 500 * 1024
"""1Flow's limit for one `/batch` request."""

MessageType = Literal["identify", "track"]
PATHS: dict[str, str] = {"identify": "/identify", "track": "/track", "batch": "/batch"}

_BATCH_OPEN = b'{"batch":['
_BATCH_CLOSE = b"]}"


def encode(value: Any) -> bytes:
    """Compact JSON, as sent on the wire (a mapped list's MISSING items become null, as in JSON.stringify)."""
    return dumps(value)


@dataclass(eq=False)
class Message:
    """One 1Flow call (identify or track) ready to send alone or inside a batch.

    `ref` is opaque to the wire (e.g. the pipeline's event id), so outcomes can be mapped back to their events. Not
    frozen, as the Segment wire's `Message`: a frozen dataclass sets each field through `object.__setattr__`.
    """

    type: MessageType
    body: dict[str, Any]
    ref: Any = field(default=None, compare=False)
    batch_item: bytes = field(init=False, repr=False, compare=False)
    """The message as an element of a `/batch` request (encoded when built: the worker sends every message so)."""

    def __post_init__(self) -> None:
        self.batch_item = encode({"type": self.type, **self.body})

    @property
    def path(self) -> str:
        return PATHS[self.type]

    @cached_property
    def encoded(self) -> bytes:
        """The body of a standalone request."""
        return encode(self.body)

    @property
    def size(self) -> int:
        """Bytes of the standalone request body (what the 32 KB limit applies to)."""
        return len(self.encoded)


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def track(
    event: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    properties: dict[str, Any] | None = None,
    timestamp: Any = None,
    ref: Any = None,
) -> Message:
    """`POST /track`: one event, attributed to a user id and/or an anonymous id."""
    body: dict[str, Any] = {}
    _put(body, "user_id", user_id)
    _put(body, "anonymous_id", anonymous_id)
    body["event"] = event
    body["properties"] = properties if properties is not None else {}
    _put(body, "timestamp", iso_timestamp(timestamp))
    return Message("track", body, ref)


def identify(user_id: str, *, traits: dict[str, Any] | None = None, timestamp: Any = None, ref: Any = None) -> Message:
    """`POST /identify`: create or update a user and its traits (1Flow requires `user_id`; the documented body has
    no anonymous id, and Segment's Identify User sends none since 2024)."""
    body: dict[str, Any] = {"user_id": user_id}
    body["traits"] = traits if traits is not None else {}
    _put(body, "timestamp", iso_timestamp(timestamp))
    return Message("identify", body, ref)


def batch_body(messages: list[Message]) -> bytes:
    """The body of one `/batch` request carrying `messages` in order."""
    return _BATCH_OPEN + b",".join(m.batch_item for m in messages) + _BATCH_CLOSE


def pack_batches(messages: list[Message], limit: int = MAX_BATCH_BYTES) -> list[list[Message]]:
    """Split `messages` in order into groups whose `/batch` body stays within `limit` bytes.

    A message that alone exceeds the limit gets a group of its own (the caller refuses it before this point).
    """
    return pack(messages, lambda m: len(m.batch_item), max_bytes=limit, overhead=len(_BATCH_OPEN) + len(_BATCH_CLOSE))


def iso_timestamp(value: Any) -> str | None:
    """An event timestamp as the ISO-8601 UTC text 1Flow asks for (`2022-09-30T03:26:24.894Z`).

    Accepts ISO-8601 text (with or without offset; naive means UTC) and datetimes. Anything else gives None, so the
    field is left out and 1Flow uses the time of receipt rather than rejecting the whole event.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # not strftime: this runs for every delivered message
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )
