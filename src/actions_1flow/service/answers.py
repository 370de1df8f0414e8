"""How every HTTP part of the server answers alike: errors as JSON in the shape Segment's libraries read
(`{"success": false, "code", "message"}`; analytics-python raises `APIError(status, code, message)` from it), and
static files with a validator, a caching rule and their gzip form."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"
"""Content-hashed file names never change content."""
REVALIDATE = "public, max-age=300"
"""Files that keep their URL across releases: five minutes, then a cheap 304."""

JAVASCRIPT = "application/javascript; charset=utf-8"


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """A refusal as JSON."""
    body = orjson.dumps({"success": False, "code": code, "message": message})
    return Response(body, status, headers=headers, media_type="application/json")


@dataclass(frozen=True)
class Asset:
    """One file as served: its body (and gzip form), validator and caching rule."""

    body: bytes
    media_type: str
    cache_control: str
    gzipped: bytes | None = None
    etag: str = ""

    @classmethod
    def of(cls, body: bytes, media_type: str, cache_control: str, gzipped: bytes | None = None) -> Asset:
        # Weak: the identity and gzip forms share it (byte-different, same content).
        etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body, media_type, cache_control, gzipped, etag)

    @classmethod
    def read(cls, path: Path, cache_control: str) -> Asset:
        """A file, with its `.gz` sibling when the package ships one."""
        body = path.read_bytes()
        sibling = path.with_name(path.name + ".gz")
        gzipped = sibling.read_bytes() if sibling.is_file() else None
        media_type = JAVASCRIPT if path.suffix == ".js" else "application/json"
        return cls.of(body, media_type, cache_control, gzipped)


def etag_matches(header: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2), as `If-None-Match` asks."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def accepts_gzip(header: str | None) -> bool:
    for part in (header or "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() != "gzip":
            continue
        q = params.strip().lower()
        if not q.startswith("q="):
            return True
        try:
            return float(q[2:]) > 0
        except ValueError:
            return False
    return False


def asset_response(request: Request, asset: Asset, extra: dict[str, str]) -> Response:
    """The asset (gzipped when the client takes it), or 304 when the client already has it; `extra` headers on
    either (CORS for device-mode files, which pages of any origin load; same-origin ones for the console's)."""
    headers = {**extra, "Cache-Control": asset.cache_control, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding")):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type=asset.media_type)
