"""Which base URL the server may publish in documents browsers act on (the settings document's plugin, event and
error-report URLs).

`server.public_url` says it outright. Without it the URL a request came in on is used — but its host is only the
`Host` header, which any client sets: `Host: evil.example` would otherwise publish `http://evil.example/plugins/…`
to a page (and, through a shared cache, to every page). So a request's host is used only when it is one the server
is known by: a loopback name (`localhost`, `127.0.0.1`, `[::1]`, as on a developer's machine), the configured
`server.host` unless it is a wildcard, or a name listed in `server.allowed_hosts` (any port). Any other host, or a
malformed one, gets no URL (the caller refuses the request).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::[0-9]{1,5})?$")


def host_name(host: str) -> str | None:
    """The name part of a well-formed `Host` value, lower-cased (`Example.com:8080` → `example.com`, `[::1]:80` →
    `[::1]`); None for anything else (a path, a space, user info …)."""
    match = _HOST.match(host.strip().lower())
    return match.group(1) if match else None


class PublishedBase:
    """Decides the base URL (`scheme://host[:port][/prefix]`, no trailing slash) to publish for a request."""

    def __init__(self, public_url: str | None, bind_host: str, allowed_hosts: Iterable[str] = ()) -> None:
        self.public_url = public_url
        names = {host_name(h) or h.strip().lower() for h in allowed_hosts} | LOOPBACK
        if bind_host.strip().lower() not in WILDCARD_BINDS:
            names.add(host_name(bind_host) or f"[{bind_host.strip().lower()}]")  # an IPv6 bind address is bare
        self._names = frozenset(names)

    @property
    def from_request(self) -> bool:
        """Whether the URL depends on the request's `Host` (then responses must say `Vary: Host`)."""
        return self.public_url is None

    def allows_host(self, host: str | None) -> bool:
        """Whether a request's `Host` is one this server may publish URLs for."""
        return host is not None and host_name(host) in self._names

    def base_url(self, scheme: str, host: str | None) -> str | None:
        """`public_url`, else `scheme://host` when the host is allowed, else None (refuse the request)."""
        if self.public_url is not None:
            return self.public_url
        if not self.allows_host(host):
            return None
        return f"{scheme}://{host.strip().lower()}"  # type: ignore[union-attr]  # allows_host checked it
