"""Events from history (a Segment archive, an export): checked as the tracking API checks one, kept as received.

Segment's archives (its S3 and Google Cloud Storage destinations) hold each call as Segment received it, one JSON
object a line: the tracking API's checks apply (a known type, a userId or anonymousId, 32 KB), but not its
enrichment: the original `messageId`, `timestamp` and `receivedAt` stay. What an export may lack is filled in
the same way every time, so importing the same file twice yields the same events.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from .errors import IngestError
from .events import check_event, check_size, iso, parse_time

DERIVED_ID_PREFIX = "import-"
"""A line without a messageId gets one derived from its content (the same line, the same id, on every run)."""


def history_event(data: Any, where: str, imported_at: str) -> dict[str, Any]:
    """The event of one archived line, as stored; IngestError (with Segment's codes) when the tracking API would
    refuse it. `imported_at` (ISO-8601) stands in for a `receivedAt` the line lacks or cannot be read."""
    if not isinstance(data, dict):
        raise IngestError(400, "invalid_event", f"{where} is not a JSON object")
    check_size(data, where)
    check_event(data, where)
    event = dict(data)
    event.pop("writeKey", None)
    message_id = event.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        digest = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
        event["messageId"] = DERIVED_ID_PREFIX + digest
    received = parse_time(event.get("receivedAt"))
    if received is None:
        timestamp = parse_time(event.get("timestamp"))
        event["receivedAt"] = imported_at if timestamp is None else iso(timestamp)
    if event.get("timestamp") in (None, ""):
        event["timestamp"] = event["receivedAt"]  # as the tracking API does without a client time
    return event
