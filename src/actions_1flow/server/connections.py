"""Connection limits uvicorn does not have: the size of a request's head (request line and headers) and the time
a client may take to send it.

uvicorn bounds concurrent connections (`limit_concurrency`), the listen backlog and idle keep-alive time, and
`serve` passes those on. Its httptools protocol, though, buffers headers of any size, and a connection that never
completes a request head is kept for ever — 500 such "slow" clients hold 500 connections at no cost to them. This
protocol, uvicorn's own with two checks added, answers `431` (JSON) to a head over `max_header_bytes` and closes a
connection whose head is not complete `header_timeout` seconds after it opened (or after its previous response).
"""

from __future__ import annotations

import asyncio
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
    """uvicorn's httptools protocol with a bound on the request head's size and on the time to send it."""

    max_header_bytes = 16 * 1024
    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes: int | None = 0
        """Bytes of the request head received so far; None while no head is awaited (body, response)."""
        self._head_timer: asyncio.TimerHandle | None = None

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
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
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


def limited_protocol(max_header_bytes: int, header_timeout: float) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=` with these limits."""
    return type(
        "LimitedHttpToolsProtocol",
        (LimitedHttpToolsProtocol,),
        {"max_header_bytes": max_header_bytes, "header_timeout": header_timeout},
    )
