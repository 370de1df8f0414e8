"""Segment's archive shape, for the import's tests and benchmark: each call as Segment's S3 and Google Cloud Storage
destinations write it (one JSON object a line, gzipped, under `segment-logs/<source id>/<received day>/`), with the
fields Segment adds on receipt (`messageId`, `receivedAt`, `projectId`, `version`, the client's `writeKey`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

SOURCE_ID = "src_Xa8"


def segment_call(i: int, at: datetime, users: int) -> dict[str, Any]:
    """Call number `i`, received at `at`: odd ones a track (`properties.n`), even ones an identify (`traits.n`), from
    one of `users` users."""
    when = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    call: dict[str, Any] = {
        "anonymousId": f"anon-{i % users}",
        "userId": f"user-{i % users}",
        "channel": "server",
        "context": {"library": {"name": "analytics-python", "version": "2.3.2"}, "ip": "203.0.113.7"},
        "integrations": {},
        "messageId": f"hist-{i}",
        "originalTimestamp": when,
        "projectId": SOURCE_ID,
        "receivedAt": when,
        "sentAt": when,
        "timestamp": when,
        "version": 2,
        "writeKey": "wk_from_segment",
    }
    if i % 2:
        call.update(type="track", event="Order Completed", properties={"n": i, "total": i % 300, "currency": "EUR"})
    else:
        call.update(type="identify", traits={"n": i, "plan": "pro", "email": f"user-{i % users}@example.com"})
    return call
