"""Request bodies and credentials as Segment's clients send them.

analytics.js posts JSON as `text/plain` (to skip CORS preflights), server libraries post `application/json`,
optionally gzip-encoded; the write key comes in the body, in HTTP Basic (key as user), or as a Bearer token.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from .errors import IngestError
from .limits import MAX_BATCH_BYTES, MAX_COMPRESSED_BYTES

_ACCEPTED_ENCODINGS = {"", "identity", "gzip", "x-gzip", "deflate"}
_UTF8_BOM = b"\xef\xbb\xbf"


def decompress(body: bytes, content_encoding: str) -> bytes:
    """Undo `Content-Encoding`, refusing anything that inflates past the batch limit (zip bombs included)."""
    encoding = content_encoding.strip().lower()
    if encoding not in _ACCEPTED_ENCODINGS:
        raise IngestError(
            415, "unsupported_encoding", f"Content-Encoding {content_encoding!r} is not supported; use gzip or none"
        )
    if len(body) > MAX_COMPRESSED_BYTES and encoding not in ("", "identity"):
        raise IngestError(
            400,
            "batch_too_large",
            f"the compressed body is {len(body):,} bytes; the limit is {MAX_BATCH_BYTES:,} bytes per request",
            MAX_BATCH_BYTES,
        )
    if encoding in ("", "identity"):
        return body
    gzip = encoding in ("gzip", "x-gzip")
    wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
    out = bytearray()
    rest = body
    while True:  # gzip allows several members one after another (RFC 1952 §2.2): read every one, as gunzip does
        inflater = zlib.decompressobj(wbits)
        try:
            out += inflater.decompress(rest, MAX_BATCH_BYTES + 1 - len(out))
        except zlib.error as exc:
            raise IngestError(400, "invalid_encoding", f"the body is not valid {encoding}: {exc}") from None
        if len(out) > MAX_BATCH_BYTES or inflater.unconsumed_tail:
            raise IngestError(
                400,
                "batch_too_large",
                f"the decompressed body exceeds the limit of {MAX_BATCH_BYTES:,} bytes per request",
                MAX_BATCH_BYTES,
            )
        if not inflater.eof:
            raise IngestError(400, "invalid_encoding", f"the {encoding} body is truncated")
        rest = inflater.unused_data
        if not rest:
            return bytes(out)
        if not gzip:
            raise IngestError(400, "invalid_encoding", f"{len(rest):,} bytes follow the end of the {encoding} stream")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a body that must be one JSON object, UTF-8 (a leading byte-order mark is skipped).

    The content type is not checked: analytics.js sends `text/plain`, the server libraries `application/json`,
    and `curl -d` sends form encoding; the body is JSON in every case.
    """
    if len(raw) > MAX_BATCH_BYTES:
        raise IngestError(
            400,
            "batch_too_large",
            f"the body is {len(raw):,} bytes; the limit is {MAX_BATCH_BYTES:,} bytes per request",
            MAX_BATCH_BYTES,
        )
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :]
    if not raw.strip():
        raise IngestError(400, "invalid_json", "the body is empty; expected a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise IngestError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise IngestError(400, "invalid_json", f"the body must be a JSON object, not {_json_type(data)}")
    return data


def write_key_from(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """The write key: the HTTP Basic user, else the body's `writeKey`.

    With `Authorization: Bearer <token>` Segment still reads the key from the body, so the token is not a key here.
    """
    auth = headers.get("authorization", "").strip()
    scheme, _, credentials = auth.partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 once decoded
            raise IngestError(
                401, "invalid_authorization", "the Basic Authorization header is not valid base64 of 'writeKey:'"
            ) from None
        user = decoded.partition(":")[0]
        if user:
            return user
    key = body.get("writeKey")
    if isinstance(key, str) and key:
        return key
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an object"
