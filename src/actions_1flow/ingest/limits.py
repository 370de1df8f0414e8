"""Segment's tracking-API limits, which Segment's client libraries are built around."""

MAX_EVENT_BYTES = 32 * 1024
"""One event, serialised as JSON (Segment: 32 KB per call)."""

MAX_BATCH_BYTES = 500 * 1024
"""One request body after decompression (Segment: 500 KB per batch)."""

MAX_BATCH_EVENTS = 2_500
"""Events in one batch request (Segment: 2,500 per batch)."""

MAX_COMPRESSED_BYTES = MAX_BATCH_BYTES
"""A gzip body is read only up to this size before it is refused, so a client cannot stream forever."""

MAX_WEBHOOK_BYTES = MAX_BATCH_BYTES
"""One webhook body (`/v1/webhook`), as sent; over it the answer is 413 (a webhook sender reads HTTP's status, not
Segment's 400), and it stores nothing."""
