"""The Segment-compatible tracking API: `POST /v1/{identify,track,page,screen,group,alias,batch}` and analytics.js's
short paths `/v1/{i,t,p,s,g,a,b}`, with CORS for browser sources.

A request is answered `200 {"success": true}` only once all its events are durably stored; client mistakes get a
4xx with a JSON reason (see `ingest`); a storage failure is a 503, so the client keeps the events and retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..ingest import EVENT_TYPES, MAX_BATCH_BYTES, SHORT_PATHS, IngestError, read_request
from .errors import json_error

if TYPE_CHECKING:
    from .app import ServerState

log = logging.getLogger("actions_1flow.server")

ENDPOINTS = (*EVENT_TYPES, "batch", *SHORT_PATHS)
"""Every name `/v1/<name>` answers to."""

_OK_BODY = b'{"success":true}'


class ClientGone(Exception):
    """The client closed the connection before its body arrived: nobody is left to answer."""


async def read_body(request: Request, timeout: float, limit: int = MAX_BATCH_BYTES) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes (the client cannot make us buffer more) or
    stalls for `timeout` seconds (a Content-Length larger than what is sent would otherwise hold the request open)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError(400, "batch_too_large", f"the body is {int(declared):,} bytes; the limit is {limit:,} bytes per request", limit)
    chunks, size = [], 0
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout) as deadline:
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise IngestError(400, "batch_too_large", f"the body exceeds the limit of {limit:,} bytes per request", limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
                deadline.reschedule(loop.time() + timeout)
    except TimeoutError:
        raise IngestError(408, "body_timeout", f"the body stopped arriving for {timeout:g}s (is Content-Length right?)") from None
    return b"".join(chunks)


class _NoAnswer(Response):
    """For a client that has gone: sending anything would only fail."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


async def track(request: Request, kind: str) -> Response:
    """Accept one tracking-API request to `/v1/<kind>` into the store."""
    state: ServerState = request.app.state.server
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    source_name: str | None = None
    body: bytes | None = None
    try:
        body = await read_body(request, state.config.server.body_timeout)
        parsed = read_request(kind, body, request.headers, request.client.host if request.client else None)
        if parsed.write_key is None:
            raise IngestError(401, "missing_write_key", "no write key: send it as HTTP Basic user, or as writeKey in the body")
        source = state.sources_by_key.get(parsed.write_key)
        if source is None:
            raise IngestError(401, "unknown_write_key", "the write key does not belong to any source of this server")
        source_name = source.name
        if origin is not None and not state.origins.allows(origin, source.name, host):
            raise IngestError(
                403, "origin_not_allowed",
                f"pages at {origin} may not send to this source; add the origin to its cors_origins",
            )
    except ClientGone:
        return _NoAnswer()
    except IngestError as err:
        log.debug("refused %s %s: %s %s", request.method, request.url.path, err.status, err.code)
        headers = _cors(state, origin, source_name, host) if err.code != "origin_not_allowed" else None
        if body is None:  # refused before the body was read to its end: the connection's next bytes are unknowable
            headers = {**(headers or {}), "connection": "close"}
        return json_error(err.status, err.code, err.message, headers, **({"limit": err.limit} if err.limit is not None else {}))
    cors = _cors(state, origin, source.name, host)
    try:
        await asyncio.wrap_future(state.store.append(source.name, parsed.events, time.time()))
    except Exception:
        log.exception("could not store %d event(s) from source %s", len(parsed.events), source.name)
        return json_error(503, "storage_unavailable", "events could not be stored; retry later", cors)
    state.events_stored()
    return Response(_OK_BODY, headers=cors, media_type="application/json")


async def options(request: Request) -> Response:
    """A CORS preflight (answered for the origins of all sources), or a plain OPTIONS (which methods exist)."""
    state: ServerState = request.app.state.server
    origin = request.headers.get("origin")
    if origin is None or "access-control-request-method" not in request.headers:
        return Response(status_code=204, headers={"allow": "OPTIONS, POST"})
    if not state.origins.allows(origin, None, request.headers.get("host")):
        return json_error(
            403, "origin_not_allowed", f"no source of this server accepts events from pages at {origin}; list it in cors_origins"
        )
    requested = request.headers.get("access-control-request-headers")
    return Response(status_code=204, headers=state.origins.preflight_headers(origin, requested))


def _cors(state: ServerState, origin: str | None, source: str | None, host: str | None) -> dict[str, str] | None:
    if origin is None or not state.origins.allows(origin, source, host):
        return None
    return state.origins.response_headers(origin)


def routes() -> list[Route]:
    """`/v1/<name>` for every tracking endpoint: POST to send, OPTIONS for CORS; other methods get a JSON 405."""
    return [Route(f"/v1/{name}", _endpoint(name), methods=["POST", "OPTIONS"], name=f"tracking-{name}") for name in ENDPOINTS]


def _endpoint(kind: str):  # noqa: ANN202 - a Starlette endpoint
    async def endpoint(request: Request) -> Response:
        return await (track(request, kind) if request.method == "POST" else options(request))

    endpoint.__name__ = f"tracking_{kind}"
    return endpoint
