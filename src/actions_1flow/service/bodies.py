"""Reading a request body within limits, for every endpoint that takes one (the tracking API, device reports, the
admin API and its login form): refused as soon as it passes its byte limit or stalls, so no client can make the
server buffer more than the limit or hold a request open."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from starlette.types import Receive

from ..ingest import MAX_BATCH_BYTES, IngestError


class ClientGone(IngestError):
    """The client closed the connection before its body arrived: nobody is left to answer (a 400 if asked)."""

    def __init__(self) -> None:
        super().__init__(400, "client_disconnected", "the client closed the connection before the body was read")


async def read_body(
    receive: Receive,
    headers: Mapping[str, str],
    timeout: float,
    limit: int = MAX_BATCH_BYTES,
    *,
    too_large: tuple[int, str] = (400, "batch_too_large"),
    deadline: float | None = None,
) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes (the client cannot make us buffer more, whatever
    its Content-Length says or when it sends none) or stalls for `timeout` seconds (a Content-Length larger than what
    is sent would otherwise hold the request open). `too_large` is the refusal's status and code (the tracking API
    answers 400 as Segment does; other endpoints 413); `deadline`, when given, bounds the whole body's time too."""
    status, code = too_large
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError(
            status, code, f"the body is {int(declared):,} bytes; the limit is {limit:,} bytes per request", limit
        )
    chunks, size = [], 0
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(timeout if deadline is None else min(timeout, deadline)) as stall:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise IngestError(status, code, f"the body exceeds the limit of {limit:,} bytes per request", limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
                next_stall = loop.time() + timeout
                stall.reschedule(next_stall if deadline is None else min(next_stall, started + deadline))
    except TimeoutError:
        if deadline is not None and loop.time() >= started + deadline:
            raise IngestError(408, "body_timeout", f"the body took longer than {deadline:g}s to arrive") from None
        raise IngestError(
            408, "body_timeout", f"the body stopped arriving for {timeout:g}s (is Content-Length right?)"
        ) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
