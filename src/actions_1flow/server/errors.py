"""Every error the server answers is JSON `{"success": false, "code", "message"}`, the shape Segment's libraries
read (analytics-python raises `APIError(status, code, message)` from it): routing misses (404), wrong methods
(405) and, should a bug slip through, a 500 that says nothing about internals."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .responses import json_error

log = logging.getLogger("actions_1flow.server")

_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors (unknown path, wrong method) as JSON, keeping their headers (`Allow`)."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"{request.method} {request.url.path} is not an endpoint of this server"
    elif status == 405:
        message = f"{request.url.path} does not accept {request.method}; allowed: {(exc.headers or {}).get('Allow', '')}"
    else:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    code = _CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))
    return json_error(status, code, message, dict(exc.headers or {}))


async def unexpected(request: Request, exc: Exception) -> Response:
    """A bug, not the client's fault: logged with its traceback, answered 500 so clients keep the events."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(500, "internal_error", "the server failed to handle the request; retry later")


EXCEPTION_HANDLERS = {HTTPException: http_exception, Exception: unexpected}
