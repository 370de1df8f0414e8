"""The Segment-compatible tracking API: `POST /v1/{identify,track,page,screen,group,alias,batch}` and analytics.js's
short paths `/v1/{i,t,p,s,g,a,b}`.

A request is answered `200 {"success": true}` only once all its events are durably stored; client mistakes get a
4xx with a JSON reason (see `ingest`); a storage failure is a 503, so the client keeps the events and retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ..ingest import MAX_BATCH_BYTES, IngestError, read_request

if TYPE_CHECKING:
    from .app import ServerState

log = logging.getLogger("actions_1flow.server")

OK = JSONResponse({"success": True})


async def read_body(request: Request, limit: int = MAX_BATCH_BYTES) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes (the client cannot make us buffer more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError(400, "batch_too_large", f"the body is {int(declared):,} bytes; the limit is {limit:,} bytes per request")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise IngestError(400, "batch_too_large", f"the body exceeds the limit of {limit:,} bytes per request")
            chunks.append(chunk)
    except ClientDisconnect:
        raise IngestError(400, "client_disconnected", "the client closed the connection before the body was read") from None
    return b"".join(chunks)


async def track(request: Request) -> Response:
    """Accept one tracking-API request (any endpoint kind) into the store."""
    state: ServerState = request.app.state.server
    try:
        body = await read_body(request)
        parsed = read_request(
            request.path_params["kind"], body, request.headers, request.client.host if request.client else None
        )
        if parsed.write_key is None:
            raise IngestError(401, "missing_write_key", "no write key: send it as HTTP Basic user, or as writeKey in the body")
        source = state.sources_by_key.get(parsed.write_key)
        if source is None:
            raise IngestError(401, "unknown_write_key", "the write key does not belong to any source of this server")
    except IngestError as err:
        return JSONResponse(err.to_json(), err.status)
    try:
        await asyncio.wrap_future(state.store.append(source.name, parsed.events, time.time()))
    except Exception:
        log.exception("could not store %d event(s) from source %s", len(parsed.events), source.name)
        return JSONResponse(
            {"success": False, "code": "storage_unavailable", "message": "events could not be stored; retry later"}, 503
        )
    state.events_stored()
    return OK
