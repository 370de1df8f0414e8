"""Whether a URL's host is on a private or internal network, for the `refusePrivateUrls` setting.

Segment's multi-tenant webhook refuses such URLs so one customer cannot reach another's network through it; a
self-hosted server's URLs come from its operator, so it allows them unless told otherwise. The check resolves the
host and refuses it when any address it resolves to is internal (answers are cached for a minute per host).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

CACHE_SECONDS = 60.0


def internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local, shared (CGNAT), reserved, multicast or unspecified: not the public internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


class AddressGuard:
    """Resolves URL hosts (through the event loop's resolver) and says why one may not be sent to, if it may not."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def refusal(self, url: str) -> str | None:
        """None when the URL's host is public; otherwise why it is refused."""
        host = urlsplit(url).hostname or ""
        cached = self._cache.get(host)
        now = time.monotonic()
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        verdict = await self._judge(host)
        self._cache[host] = (now, verdict)
        return verdict

    async def _judge(self, host: str) -> str | None:
        if not host:
            return "the URL has no host"
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError:
                return None  # unresolvable: the request itself fails and says so (retryable)
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
        for address in addresses:
            if internal(address):
                return (
                    f"{host} is on a private or internal network ({address}) and refusePrivateUrls is on; "
                    "use a public URL, or turn refusePrivateUrls off if this receiver is yours"
                )
        return None
