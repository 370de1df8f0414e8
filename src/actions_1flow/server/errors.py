"""Every error the server answers is JSON `{"success": false, "code", "message"}`, the shape Segment's libraries
read (analytics-python raises `APIError(status, code, message)` from it): routing misses (404), wrong methods
(405) and, should a bug slip through, a 500 that says nothing about internals."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..ingest import IngestError
from .responses import json_error

log = logging.getLogger("actions_1flow.server")

_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors (unknown path, wrong method) as JSON, keeping their headers (`Allow`)."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"{_shown(request.method)} {shown_path(request)} is not an endpoint of this server"
    elif status == 405:
        message = (
            f"{shown_path(request)} does not accept {_shown(request.method)}; "
            f"allowed: {(exc.headers or {}).get('Allow', '')}"
        )
    else:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    code = _CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))
    return json_error(status, code, message, dict(exc.headers or {}))


async def unexpected(request: Request, exc: Exception) -> Response:
    """A bug, not the client's fault: logged with its traceback, answered 500 so clients keep the events."""
    log.error("unhandled error on %s %s", _shown(request.method), shown_path(request), exc_info=exc)
    return json_error(500, "internal_error", "the server failed to handle the request; retry later")


async def refused_input(request: Request, exc: Exception) -> Response:
    """Input refused below a route (a body over its limit, too slow, a client gone) as the tracking API answers it."""
    assert isinstance(exc, IngestError)
    return json_error(exc.status, exc.code, exc.message)


EXCEPTION_HANDLERS = {HTTPException: http_exception, IngestError: refused_input, Exception: unexpected}


MAX_SHOWN_PATH = 200
"""Characters of a request's path repeated in an answer or a log line."""


def _shown(text: str, limit: int = MAX_SHOWN_PATH) -> str:
    """`text` safe to put in JSON and logs: lone surrogates escaped (orjson refuses them), cut to `limit`."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown_path(request: Request) -> str:
    """The request's path from the ASGI scope: `request.url` would decode the query string as UTF-8, which
    raises on a client's stray bytes."""
    return _shown(request.scope.get("path", ""))
