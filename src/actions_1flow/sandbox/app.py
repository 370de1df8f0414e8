"""The 1Flow sandbox as an ASGI app: 1Flow's public HTTP API, a fake web SDK, and control endpoints for tests.

Routes:

- `POST /v1/{identify,track,batch}`: the HTTP API, US region (`/{region}/v1/...` for other regions, e.g.
  `/eu/v1/track`)
- `GET /js/1flow.js[?form=callable|methods|both]`: the fake web SDK (CORS-open), by default callable as
  `_1flow("track"|"identify", …)`, the form 1Flow's own 2024 Segment integration calls (docs/oneflow.md has the
  evidence); `/{region}/js/1flow.js` likewise
- `POST /_sandbox/sdk`: where the fake SDK reports each call it receives
- `GET /_sandbox/calls[?channel=http|sdk]`: everything that arrived, in order (keys masked)
- `GET /_sandbox/rate`: how fast API requests arrived: per wall-clock second, and the most in any one second
- `POST /_sandbox/reset`: forget calls, arrival times and queued faults
- `POST /_sandbox/faults`: `{"status", "delay", "drop", "retry_after", "body"}` for the next `count` API requests
  (or for `duration` seconds), only those with api_key `key` and/or path `path` if given
- `POST /_sandbox/surveys`: `{"user_id"[, "alert_id", "url", "score", "comment"]}` answers a survey for that user:
  1Flow's `submitted_survey` webhook goes to `url` (else the sandbox's `--webhook-url`), retried as 1Flow does
  (CORS-open, so a demo page can click it); `GET /_sandbox/surveys`: every webhook sent and its attempts
"""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus
from importlib.resources import files
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..destinations.oneflow import wire
from ..destinations.oneflow.regions import DEFAULT_REGION, REGIONS
from ..request_text import RequestTextGuard
from .rules import CHECKS
from .state import CHANNEL_HTTP, CHANNEL_SDK, Fault, SandboxKey, SandboxState, rate_report, retry_after_header
from .surveys import SurveyEmitter

TRANSPORT_SCOPE_KEY = "actions_1flow.sandbox.transport"
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": "content-type",
}
SDK_SOURCE = files(__package__).joinpath("sdk.js").read_text(encoding="utf-8")


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason, "status": status}, status_code=status, headers=headers)


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _region(request: Request) -> str | None:
    region = request.path_params.get("region", DEFAULT_REGION)
    return region if region in REGIONS else None


def _limit(endpoint: str) -> int:
    return wire.MAX_BATCH_BYTES if endpoint == "batch" else wire.MAX_REQUEST_BYTES


async def _drop_connection(request: Request) -> Response:
    """Close the TCP connection without answering (a real drop under uvicorn; an exception in-process)."""
    transport = request.scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        raise ConnectionResetError("sandbox fault: connection dropped")
    transport.abort()
    await asyncio.sleep(0.05)  # let the server notice the disconnect, so the response below is discarded
    return Response(status_code=204)


async def api(request: Request) -> Response:
    """One call to the public HTTP API, judged by 1Flow's rules (faults and the rate limit first)."""
    state = _state(request)
    state.arrivals.append(time.time())
    endpoint = request.path_params["endpoint"]
    region = _region(request)
    body = await request.body()
    key = request.headers.get(wire.API_KEY_HEADER)
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "endpoint": endpoint,
        "region": region,
        "api_key": key,
        "bytes": len(body),
        "peer": f"{request.client.host}:{request.client.port}" if request.client else None,
    }
    try:
        entry["body"] = orjson.loads(body)
    except orjson.JSONDecodeError:
        entry["body"] = None

    def answer(status: int, reason: str | None = None, headers: dict[str, str] | None = None) -> Response:
        entry["status"] = status
        if reason:
            entry["reason"] = reason
        state.record(CHANNEL_HTTP, entry)
        if status == 200:
            return JSONResponse({"success": True})
        return _error(status, reason or HTTPStatus(status).phrase, headers)

    fault = state.next_fault(key, request.url.path)
    if fault is not None:
        entry["fault"] = fault.describe()
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            entry["status"] = None
            entry["reason"] = "connection dropped"
            state.record(CHANNEL_HTTP, entry)
            return await _drop_connection(request)
        if fault.status is not None:
            headers = {"retry-after": fault.retry_after} if fault.retry_after else None
            entry["status"] = fault.status
            entry["reason"] = "injected fault"
            state.record(CHANNEL_HTTP, entry)
            if fault.body is not None:
                return JSONResponse(fault.body, status_code=fault.status, headers=headers)
            return _error(fault.status, HTTPStatus(fault.status).phrase, headers)

    if endpoint not in CHECKS:
        return answer(404, f"unknown endpoint {endpoint!r}")
    if region is None:
        return answer(404, f"unknown region {request.path_params['region']!r}")
    if state.window is not None:
        wait = state.window.admit()
        if wait is not None:
            return answer(429, "rate limit exceeded", {"retry-after": retry_after_header(wait)})
    if len(body) > _limit(endpoint):
        return answer(413, f"request is {len(body)} bytes; the limit for /{endpoint} is {_limit(endpoint)} bytes")
    refused = state.key_status(key, region)
    if refused is not None:
        return answer(*refused)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != wire.CONTENT_TYPE:
        return answer(400, "Content-Type must be application/json")
    if entry["body"] is None:
        return answer(400, "body is not valid JSON")
    problem = CHECKS[endpoint](entry["body"])
    if problem:
        return answer(400, problem)
    return answer(200)


SERVED_MARK = "/*SERVED*/null"
"""Where the served script gets what this request says: the report URL and the form."""

SDK_FORMS = ("callable", "methods", "both")
"""How the fake SDK's `window._1flow` looks: a function `_1flow(command, …)`; an object with `logEvent`,
`logUser` and `on` (the 2022 npm loader's form); or a function that also has those methods."""
DEFAULT_SDK_FORM = "callable"
"""The form the evidence points to for 1Flow's SDK today (docs/oneflow.md, "The web SDK's form")."""


async def sdk_script(request: Request) -> Response:
    """The fake web SDK; `?form=` picks how `window._1flow` looks (`SDK_FORMS`, `DEFAULT_SDK_FORM` when absent).

    The script is told its report URL (this sandbox, the request's region) and form when it is served, so a copy
    served from another origin (first-party SDK hosting) still reports here, as 1Flow's SDK talks to 1Flow's API
    wherever the page loaded it from."""
    region = _region(request)
    if region is None:
        return _error(404, "unknown region")
    form = request.query_params.get("form") or DEFAULT_SDK_FORM
    if form not in SDK_FORMS:
        return _error(400, f"form must be one of {', '.join(SDK_FORMS)}, not {form[:40]!r}")
    prefix = "" if "region" not in request.path_params else f"/{region}"
    served = {"reportUrl": str(request.base_url).rstrip("/") + prefix + "/_sandbox/sdk", "form": form}
    return Response(
        SDK_SOURCE.replace(SERVED_MARK, orjson.dumps(served).decode(), 1),
        media_type="application/javascript",
        headers={**CORS_HEADERS, "cache-control": "no-store"},
    )


async def sdk_report(request: Request) -> Response:
    """A call the fake SDK received in some page; recorded with whether its key is valid for the region."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS_HEADERS)
    region = _region(request)
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return JSONResponse({"error": "body is not valid JSON"}, status_code=400, headers=CORS_HEADERS)
    if not isinstance(data, dict) or not isinstance(data.get("method"), str):
        return JSONResponse({"error": "expected an object with a method"}, status_code=400, headers=CORS_HEADERS)
    state = _state(request)
    key = data.get("api_key") if isinstance(data.get("api_key"), str) else None
    refused = state.key_status(key, region or DEFAULT_REGION) if region else (404, "unknown region")
    status = 200 if refused is None else refused[0]
    state.record(
        CHANNEL_SDK,
        {
            "method": data["method"],
            "args": data.get("args", []),
            "form": data.get("form"),
            "region": region,
            "api_key": key,
            "page": data.get("page"),
            "status": status,
        },
    )
    if refused is not None:
        return JSONResponse({"error": refused[1]}, status_code=status, headers=CORS_HEADERS)
    return JSONResponse({"accepted": True}, headers=CORS_HEADERS)


async def calls(request: Request) -> Response:
    channel = request.query_params.get("channel")
    found = [c for c in _state(request).calls if channel is None or c["channel"] == channel]
    return JSONResponse({"calls": found})


async def arrival_rate(request: Request) -> Response:
    return JSONResponse(rate_report(_state(request).arrivals))


async def reset(request: Request) -> Response:
    _state(request).reset()
    return JSONResponse({"reset": True})


async def faults(request: Request) -> Response:
    """Queue faults: one object or a list of them, each applying to the next `count` matching API requests (or to
    all of them for `duration` seconds); `key` and `path` limit which requests match."""
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _error(400, "body is not valid JSON")
    specs = data if isinstance(data, list) else [data]
    parsed: list[tuple[Fault, int]] = []
    for spec in specs:
        if not isinstance(spec, dict):
            return _error(400, "a fault must be a JSON object")
        try:
            parsed.append(Fault.from_json(spec))
        except ValueError as exc:
            return _error(400, str(exc))
    queued = 0
    for fault, count in parsed:
        queued = _state(request).add_faults(fault, count)
    return JSONResponse({"queued": queued})


SURVEY_KEYS = frozenset({"user_id", "alert_id", "url", "score", "comment"})


async def survey_answers(request: Request) -> Response:
    """Answer a survey (POST: 1Flow's webhook for it starts going out) or list the webhooks sent (GET)."""
    emitter: SurveyEmitter = request.app.state.surveys
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS_HEADERS)
    if request.method == "GET":
        return JSONResponse({"surveys": [e.describe() for e in emitter.emissions]}, headers=CORS_HEADERS)
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return JSONResponse({"error": "body is not valid JSON"}, status_code=400, headers=CORS_HEADERS)
    problem = _survey_problem(data)
    if problem is None:
        try:
            emission = emitter.answer(
                data.get("user_id"),
                alert_id=data.get("alert_id"),
                url=data.get("url"),
                score=data.get("score"),
                comment=data.get("comment"),
            )
        except ValueError as exc:
            problem = str(exc)
        else:
            return JSONResponse(emission.describe(), status_code=202, headers=CORS_HEADERS)
    return JSONResponse({"error": problem, "status": 400}, status_code=400, headers=CORS_HEADERS)


def _survey_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "expected an object: {user_id[, alert_id, url, score, comment]}"
    unknown = set(data) - SURVEY_KEYS
    if unknown:
        return f"unknown keys: {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(SURVEY_KEYS))})"
    for name in ("user_id", "alert_id", "url", "comment"):
        if data.get(name) is not None and (not isinstance(data[name], str) or not data[name]):
            return f"{name} must be a non-empty string"
    url = data.get("url")
    if url is not None and not url.startswith(("http://", "https://")):
        return "url must be an http:// or https:// URL"
    score = data.get("score")
    if score is not None and (not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 10):
        return "score must be a whole number from 0 to 10 (an NPS answer)"
    return None


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, exc.detail)


class _ExposeTransport:
    """Puts the server's transport (when there is one) into the scope so a fault can drop the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope = {**scope, TRANSPORT_SCOPE_KEY: transport}
        await self.app(scope, receive, send)


def create_app(
    keys: list[SandboxKey | str] | None = None, *, rate: float | None = None, surveys: SurveyEmitter | None = None
) -> Starlette:
    """A fresh sandbox knowing `keys` (`SandboxKey` or `KEY[:us,eu]` text), limited to `rate` API requests/s,
    sending survey webhooks with `surveys` (no default URL, 1Flow's retry interval when not given)."""
    parsed = [k if isinstance(k, SandboxKey) else SandboxKey.parse(k) for k in keys or []]
    routes = [
        Route("/v1/{endpoint}", api, methods=["POST"]),
        Route("/{region}/v1/{endpoint}", api, methods=["POST"]),
        Route("/js/1flow.js", sdk_script, methods=["GET"]),
        Route("/{region}/js/1flow.js", sdk_script, methods=["GET"]),
        Route("/_sandbox/sdk", sdk_report, methods=["POST", "OPTIONS"]),
        Route("/{region}/_sandbox/sdk", sdk_report, methods=["POST", "OPTIONS"]),
        Route("/_sandbox/calls", calls, methods=["GET"]),
        Route("/_sandbox/rate", arrival_rate, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["POST"]),
        Route("/_sandbox/surveys", survey_answers, methods=["GET", "POST", "OPTIONS"]),
    ]
    text_only = Middleware(RequestTextGuard, refusal=lambda code, message: _error(400, message))
    app = Starlette(routes=routes, middleware=[text_only], exception_handlers={HTTPException: _http_error})
    app.state.sandbox = SandboxState(parsed, rate)
    app.state.surveys = surveys or SurveyEmitter()
    return app


def asgi(app: Starlette) -> ASGIApp:
    """`app` wrapped for serving over real sockets (lets faults drop connections)."""
    return _ExposeTransport(app)
