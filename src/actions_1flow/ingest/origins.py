"""Which browser origins may send events to which source, and the CORS headers that tell the browser so.

CORS only governs what a page may *read* and which non-simple requests the browser lets it *send*; it is not
authentication (any program can send any `Origin`, or none). The server therefore enforces the list itself: a
request that carries an `Origin` header not listed in its source's `cors_origins` is refused (403
`origin_not_allowed`) and nothing is stored. What that stops is other websites sending events into a source
through their visitors' browsers (a copied snippet, a hostile page); the write key stays what identifies the
source, as at Segment. Requests without `Origin` (server libraries, curl) are not affected, a page served by this
server itself (same origin: same scheme, host and port — `https://` and `http://` of one host are two origins) is
always allowed, and `"*"` in `cors_origins` allows every origin (Segment's behaviour). An origin allowed only by
`"*"` may read answers but is never told `Access-Control-Allow-Credentials: true`: credentials (cookies, HTTP
auth) are for origins someone listed by name.

A preflight (`OPTIONS` with `Access-Control-Request-Method`) cannot name its source (the write key travels in the
request it announces), so it is answered for the origins of all sources together; the request itself is then
checked against its own source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

ANY_ORIGIN = "*"

PREFLIGHT_MAX_AGE_S = 7200
"""How long a browser may reuse a preflight answer (Chromium's own cap)."""

ALLOWED_METHODS = "POST, OPTIONS"

DEFAULT_ALLOWED_HEADERS = "authorization, content-type, content-encoding, x-retry-count"
"""Answered when a preflight names no headers; otherwise the named ones are allowed (analytics.js lets pages add
their own headers, and none of them changes what the server does)."""

_ORIGIN = re.compile(r"^(?:null|https?://[a-z0-9._\-\[\]:]+)$")
_HEADER_LIST = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")


def normalize_origin(origin: str) -> str:
    """`HTTP://Example.com/` → `http://example.com`: origins compare without case or a trailing slash."""
    return origin.strip().rstrip("/").lower()


def check_origin(origin: str) -> str:
    """A configured origin, normalised; raises ValueError for anything that is not `*`, `null` or scheme://host[:port]."""
    normal = normalize_origin(origin)
    if normal != ANY_ORIGIN and not _ORIGIN.match(normal):
        raise ValueError(f'{origin!r} is not an origin: write scheme://host[:port] (no path), "null" or "*"')
    return normal


class OriginPolicy:
    """The configured origins per source; answers "may this origin send to that source" and the CORS headers."""

    def __init__(self, origins_by_source: Mapping[str, Iterable[str]], public_url: str | None = None) -> None:
        self._by_source = {
            name: frozenset(normalize_origin(o) for o in origins) for name, origins in origins_by_source.items()
        }
        self._any_source = frozenset().union(*self._by_source.values()) if self._by_source else frozenset()
        self._own = _origin_of(normalize_origin(public_url)) if public_url else None

    def allows(self, origin: str, source: str | None, host: str | None, scheme: str = "http") -> bool:
        """Whether a request from `origin` to `host` (its Host header) over `scheme` may send to `source` (None: to
        any source). A malformed `Origin` is no browser's: never allowed (nor echoed back in a header)."""
        return self.grant(origin, source, host, scheme) is not None

    def grant(self, origin: str, source: str | None, host: str | None, scheme: str = "http") -> str | None:
        """`"listed"` (same origin, or named in `cors_origins`: credentials allowed), `"any"` (only through `"*"`),
        or None (refused)."""
        normal = normalize_origin(origin)
        if not _ORIGIN.match(normal):
            return None
        if self._same_origin(normal, host, scheme):
            return "listed"
        allowed = self._any_source if source is None else self._by_source.get(source, frozenset())
        if normal in allowed:
            return "listed"
        return "any" if ANY_ORIGIN in allowed else None

    def _same_origin(self, origin: str, host: str | None, scheme: str) -> bool:
        request_origin = f"{scheme.lower()}://{(host or '').lower()}" if host else None
        return origin in (request_origin, self._own)

    @staticmethod
    def response_headers(origin: str, credentials: bool = True) -> dict[str, str]:
        """Headers that let a page at `origin` read the response (call only for an allowed origin); credentials
        only for an origin that is listed (see `grant`)."""
        headers = {"access-control-allow-origin": origin, "vary": "Origin"}
        if credentials:
            headers["access-control-allow-credentials"] = "true"
        return headers

    @classmethod
    def preflight_headers(cls, origin: str, requested_headers: str | None, credentials: bool = True) -> dict[str, str]:
        """The answer to an allowed preflight: POST with the headers it asked for, cached for two hours."""
        return {
            **cls.response_headers(origin, credentials),
            "access-control-allow-methods": ALLOWED_METHODS,
            "access-control-allow-headers": _header_list(requested_headers) or DEFAULT_ALLOWED_HEADERS,
            "access-control-max-age": str(PREFLIGHT_MAX_AGE_S),
        }


def _header_list(requested: str | None) -> str | None:
    """The header names a preflight asked for, when they are a well-formed list (anything else is not echoed)."""
    value = (requested or "").strip()
    return value if _HEADER_LIST.match(value) else None


def _origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL (its path dropped), or None."""
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}" if sep and scheme in ("http", "https") and host else None
