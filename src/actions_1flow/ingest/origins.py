"""Which browser origins may send events to which source, and the CORS headers that tell the browser so.

CORS only governs what a page may *read* and which non-simple requests the browser lets it *send*; it is not
authentication (any program can send any `Origin`, or none). The server therefore enforces the list itself: a
request that carries an `Origin` header not listed in its source's `cors_origins` is refused (403
`origin_not_allowed`) and nothing is stored. What that stops is other websites sending events into a source
through their visitors' browsers (a copied snippet, a hostile page); the write key stays what identifies the
source, as at Segment. Requests without `Origin` (server libraries, curl) are not affected, a page served by this
server itself (same origin) is always allowed, and `"*"` in `cors_origins` allows every origin (Segment's
behaviour).

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
        raise ValueError(f"{origin!r} is not an origin: write scheme://host[:port] (no path), \"null\" or \"*\"")
    return normal


class OriginPolicy:
    """The configured origins per source; answers "may this origin send to that source" and the CORS headers."""

    def __init__(self, origins_by_source: Mapping[str, Iterable[str]], public_url: str | None = None) -> None:
        self._by_source = {name: frozenset(normalize_origin(o) for o in origins) for name, origins in origins_by_source.items()}
        self._any_source = frozenset().union(*self._by_source.values()) if self._by_source else frozenset()
        self._own = _host_of(normalize_origin(public_url)) if public_url else None

    def allows(self, origin: str, source: str | None, host: str | None) -> bool:
        """Whether a request from `origin` to `host` (its Host header) may send to `source` (None: to any source).
        A malformed `Origin` is no browser's: never allowed (nor echoed back in a header)."""
        normal = normalize_origin(origin)
        if not _ORIGIN.match(normal):
            return False
        if self._same_origin(normal, host):
            return True
        allowed = self._any_source if source is None else self._by_source.get(source, frozenset())
        return normal in allowed or ANY_ORIGIN in allowed

    def _same_origin(self, origin: str, host: str | None) -> bool:
        page_host = _host_of(origin)
        return page_host is not None and (page_host == (host or "").lower() or page_host == self._own)

    @staticmethod
    def response_headers(origin: str) -> dict[str, str]:
        """Headers that let a page at `origin` read the response (call only for an allowed origin)."""
        return {"access-control-allow-origin": origin, "access-control-allow-credentials": "true", "vary": "Origin"}

    @classmethod
    def preflight_headers(cls, origin: str, requested_headers: str | None) -> dict[str, str]:
        """The answer to an allowed preflight: POST with the headers it asked for, cached for two hours."""
        return {
            **cls.response_headers(origin),
            "access-control-allow-methods": ALLOWED_METHODS,
            "access-control-allow-headers": _header_list(requested_headers) or DEFAULT_ALLOWED_HEADERS,
            "access-control-max-age": str(PREFLIGHT_MAX_AGE_S),
        }


def _header_list(requested: str | None) -> str | None:
    """The header names a preflight asked for, when they are a well-formed list (anything else is not echoed)."""
    value = (requested or "").strip()
    return value if _HEADER_LIST.match(value) else None


def _host_of(url: str) -> str | None:
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return host if sep and scheme in ("http", "https") and host else None
