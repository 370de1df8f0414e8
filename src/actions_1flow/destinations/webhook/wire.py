"""What the webhook sends: one request per event (the mapped `data` as the body), or, with batching on, one request
per group of events sharing URL, method and headers (Segment's batch keys) with the array of their `data`.

Bodies are `JSON.stringify`'s text, as Segment's request client writes them, and `X-Signature` is the hex
HMAC-SHA1 of the body's UTF-8 bytes with the shared secret. For a batch, Segment signs the first event's `data`
only; we sign the body actually sent (docs/webhook.md says why).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from ...jsvalues import MISSING, json_stringify, to_string

SIGNATURE_HEADER = "X-Signature"
CONTENT_TYPE = "application/json"
METHODS = ("POST", "PUT", "PATCH")
BATCH_SIZE_DEFAULT = 1000
"""Segment's batch size when the mapping's `batch_size` is 0 or absent (its field's default is 0)."""
BATCH_SIZE_LIMIT = 4000
"""Segment's largest batch; a larger `batch_size` is held to it."""


@dataclass(frozen=True, eq=False)
class Message:
    """One event's request (or its place in a batch); `ref` is opaque to the wire."""

    url: str
    method: str
    headers: dict[str, str]
    data: Any = MISSING
    batch: bool = False
    batch_size: int = BATCH_SIZE_DEFAULT
    ref: Any = field(default=None, compare=False)

    @property
    def batch_key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.url, self.method, tuple(self.headers.items()))


def headers(value: Any) -> dict[str, str]:
    """The mapped `headers` object as HTTP headers (values as JS's `String()` writes them)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else to_string(v) for k, v in value.items() if v is not MISSING}


SENSITIVE_HEADER_WORDS = ("authorization", "cookie", "key", "token", "secret", "password")


def sensitive(name: str) -> bool:
    """A header whose value is masked wherever the request is shown (`Authorization`, `X-Api-Key`, …)."""
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_HEADER_WORDS)


def non_ascii_header(shown: dict[str, str]) -> str | None:
    """The first header whose name or value is not ASCII (Segment supports ASCII only), if any."""
    return next((name for name, value in shown.items() if not (name.isascii() and value.isascii())), None)


def batch_size(value: Any) -> int:
    """The effective batch size: Segment's default for 0 or nothing, at most Segment's limit."""
    size = int(value) if isinstance(value, int | float) and value >= 1 else BATCH_SIZE_DEFAULT
    return min(size, BATCH_SIZE_LIMIT)


def body(data: list[Any] | Any) -> bytes:
    """`JSON.stringify(data)` as UTF-8 (empty for no data)."""
    text = json_stringify(data)
    return b"" if text is MISSING else text.encode("utf-8")


def signature(secret: str, content: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), content, hashlib.sha1).hexdigest()
