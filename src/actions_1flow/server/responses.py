"""How the tracking API and device mode answer: the public CORS header of device-mode files and refusals, and raw
ASGI answers for the tracking API's hot path, in the error shape every part of the server uses
(`service.answers.json_error`)."""

from __future__ import annotations

import orjson
from starlette.responses import JSONResponse
from starlette.types import Send

from ..ingest import IngestError

CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
"""As Segment's CDN: settings, loader, chunks and plugin are public and readable from any origin."""

_JSON = (b"content-type", b"application/json")


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """A refusal readable from any origin (analytics-next shows the body text of a failed settings fetch)."""
    return JSONResponse({"success": False, "code": code, "message": message}, status, headers=CORS_HEADERS)


async def respond(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    """A whole answer straight to ASGI (a JSON body when there is one)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if body:
        raw += [_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def respond_error(send: Send, err: IngestError, headers: dict[str, str] | None = None) -> None:
    """A refusal as JSON (`{"success": false, "code", "message"[, "limit"]}`)."""
    await respond(send, err.status, orjson.dumps(err.to_json()), headers or {})
