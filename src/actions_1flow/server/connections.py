"""Connection limits uvicorn does not have: the size of a request's head (request line and headers) and the time
a client may take to send it.

uvicorn bounds concurrent connections (`limit_concurrency`), the listen backlog and idle keep-alive time, and
`serve` passes those on. Its httptools protocol, though, buffers headers of any size, and a connection that never
completes a request head is kept for ever — 500 such "slow" clients hold 500 connections at no cost to them. This
protocol, uvicorn's own with three checks added, answers `431` (JSON) to a head over `max_header_bytes`, closes a
connection whose head is not complete `header_timeout` seconds after it opened (or after its previous response),
and answers `503` (JSON) and closes a connection from an address already holding `max_per_client` (so one client
cannot take all of uvicorn's `limit_concurrency`; trusted proxies are not capped).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_END_OF_HEAD = b"\r\n\r\n"


def _refusal(status: int, reason: str, code: str, message: str) -> bytes:
    body = orjson.dumps({"success": False, "code": code, "message": message})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head's size and on the time to send it, and on
    the connections one client address holds."""

    max_header_bytes = 16 * 1024
    header_timeout = 10.0
    max_per_client = 50
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    """Proxies (`server.trusted_proxies`): every client behind one shares its address, so it is not capped."""
    open_by_client: Counter[str]
    """Open connections per client address, shared by every connection of one server process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes: int | None = 0
        """Bytes of the request head received so far; None while no head is awaited (body, response)."""
        self._head_timer: asyncio.TimerHandle | None = None
        self._counted: str | None = None
        """The client address this connection is counted under (None: not counted)."""
        self._refused = False

    # --- connections per client ----------------------------------------------------------------------------

    def _admit(self, transport: asyncio.Transport) -> bool:
        """Count the connection under its peer's address; False (after answering 503) when that is over the cap."""
        peer = transport.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) and peer else None
        if host is None or self._is_trusted(host):
            return True
        if self.open_by_client[host] >= self.max_per_client:
            message = f"this address has {self.max_per_client} connections open already; reuse them"
            transport.write(_refusal(503, "Service Unavailable", "too_many_connections", message))
            transport.close()
            return False
        self.open_by_client[host] += 1
        self._counted = host
        return True

    def _is_trusted(self, host: str) -> bool:
        if not self.trusted:
            return False
        try:
            address = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def _uncount(self) -> None:
        host, self._counted = self._counted, None
        if host is not None:
            self.open_by_client[host] -= 1
            if self.open_by_client[host] <= 0:
                del self.open_by_client[host]

    # --- head timeout --------------------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_bytes is None or self.transport.is_closing():
            return
        if self._head_bytes:  # part of a head arrived: say why the connection ends
            message = f"the request headers did not arrive within {self.header_timeout:g}s"
            self.transport.write(_refusal(408, "Request Timeout", "header_timeout", message))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if not self._admit(transport):
            self.transport = transport
            self._refused = True  # answered and closed: nothing of it is read, uvicorn never sees it
            return
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._refused:
            return
        self._uncount()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._head_bytes = 0  # the next request's head, if the client sends one
            self._arm_head_timer()

    # --- head size -----------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._head_bytes is not None:
            end = data.find(_END_OF_HEAD)
            self._head_bytes += len(data) if end < 0 else end + len(_END_OF_HEAD)
            if self._head_bytes > self.max_header_bytes:
                message = f"the request line and headers exceed {self.max_header_bytes:,} bytes"
                self.transport.write(_refusal(431, "Request Header Fields Too Large", "headers_too_large", message))
                self._head_bytes = None
                self._disarm_head_timer()
                self.transport.close()
                return
        super().data_received(data)


def limited_protocol(
    max_header_bytes: int, header_timeout: float, max_per_client: int = 50, trusted_proxies: list[str] | None = None
) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=` with these limits (one count of connections per client for every
    server using the class)."""
    return type(
        "LimitedHttpToolsProtocol",
        (LimitedHttpToolsProtocol,),
        {
            "max_header_bytes": max_header_bytes,
            "header_timeout": header_timeout,
            "max_per_client": max_per_client,
            "trusted": tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies or ()),
            "open_by_client": Counter(),
        },
    )
