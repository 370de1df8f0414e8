"""The Segment-compatible tracking API: `POST /v1/{identify,track,page,screen,group,alias,batch}`, analytics.js's
short paths `/v1/{i,t,p,s,g,a,b}` (the newer mobile libraries batch to `/v1/b` too) and the classic mobile
libraries' `/v1/import`, with CORS for browser sources; and `POST /v1/webhook?writeKey=…`, where a webhook source
takes another tool's JSON and its mapping makes the events (`ingest.webhooks`; a body over 500 KB is a 413 there),
through the same key look-up, origin check, rate limit, suppression and store as every other request.

A request is answered `200 {"success": true}` only once all its events are durably stored; client mistakes get a
4xx with a JSON reason (see `ingest`); a storage failure is a 503, so the client keeps the events and retries, and
anything else (a bug) a 500 with the traceback logged (the client keeps the events too).
Events of suppressed users (`actions-1flow suppress`) are dropped, counted, and still answered 200: the client
must not keep retrying them.

This is the server's hot path, so it is plain ASGI in front of the Starlette app (no routing table, request
objects or per-request middleware): the path is looked up in a dict, the few headers it needs are read once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from .. import telemetry
from ..config import Config, SourceConfig
from ..ingest import EVENT_TYPES, PATH_ALIASES, IngestError, read_request
from ..ingest.body import decompress, parse_json_object
from ..ingest.limits import MAX_WEBHOOK_BYTES
from ..ingest.origins import OriginPolicy
from ..ingest.webhooks import WebhookMapping, write_key_from_query
from ..pipeline.appender import GroupAppender
from ..pipeline.store import StoreError
from ..pipeline.suppression import SuppressionList
from ..service.bodies import ClientGone, read_body
from .ratelimit import RateLimiter
from .responses import respond, respond_error

log = logging.getLogger("actions_1flow.server")

WEBHOOK = "webhook"
ENDPOINTS = {f"/v1/{name}": name for name in (*EVENT_TYPES, "batch", *PATH_ALIASES, WEBHOOK)}
"""Every tracking path and the endpoint name it stands for (`/v1/webhook`: another tool's webhooks, mapped to
events by the source's `webhook` mapping)."""

ALLOW = "OPTIONS, POST"

MAX_ORIGIN_WARNINGS = 1_000

_HEADERS_USED = {
    b"authorization",
    b"content-encoding",
    b"content-length",
    b"origin",
    b"host",
    b"access-control-request-method",
    b"access-control-request-headers",
}
_OK = b'{"success":true}'


class Ingest(Protocol):
    """What the tracking API reads and writes (the server's `ServerState` is one): the configuration, the write
    keys and origins, the suppressed users, and the store's event log through the group appender."""

    config: Config
    sources_by_key: dict[str, SourceConfig]
    origins: OriginPolicy
    suppressions: SuppressionList
    appender: GroupAppender
    on_reload: list[Callable[[Config], Callable[[], None]]]


def webhook_mappings(config: Config) -> dict[str, WebhookMapping]:
    """Each webhook source's mapping, compiled (the configuration validated them at load)."""
    return {s.name: WebhookMapping(s.webhook.resolved_mapping()) for s in config.sources if s.webhook is not None}


class TrackingAPI:
    """ASGI middleware answering the tracking paths itself and passing everything else to `app`."""

    def __init__(self, app: ASGIApp, state: Ingest, limiter: RateLimiter | None = None) -> None:
        self.app = app
        self.state = state
        self.limiter = limiter if limiter is not None else RateLimiter.for_sources(state.config.sources)
        self.webhooks = webhook_mappings(state.config)
        self._warned: set[tuple[str, str | None]] = set()
        state.on_reload.append(self._prepare_reload)

    def _prepare_reload(self, config: Config) -> Callable[[], None]:
        limiter = RateLimiter.for_sources(config.sources)
        webhooks = webhook_mappings(config)

        def commit() -> None:
            self.limiter, self.webhooks = limiter, webhooks

        return commit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = ENDPOINTS.get(scope["path"]) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"] if name in _HEADERS_USED
        }
        method = scope["method"]
        if method == "POST":
            await self.track(kind, scope, receive, send, headers)
        elif method == "OPTIONS":
            await self.options(send, headers, scope.get("scheme", "http"))
        else:
            message = f"{scope['path']} does not accept {method}; allowed: {ALLOW}"
            await respond_error(send, IngestError(405, "method_not_allowed", message), {"allow": ALLOW})

    async def track(self, kind: str, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        """Accept one tracking-API request into the store."""
        state = self.state
        origin = headers.get("origin")
        host = headers.get("host")
        source_name: str | None = None
        body: bytes | None = None
        extra_headers: dict[str, str] = {}
        try:
            limits = state.config.server
            if kind == WEBHOOK:
                body = await read_body(
                    receive,
                    headers,
                    limits.body_timeout,
                    MAX_WEBHOOK_BYTES,
                    too_large=(413, "body_too_large"),
                    deadline=limits.request_timeout,
                )
                source, events = self._webhook(body, headers, scope)
            else:
                body = await read_body(receive, headers, limits.body_timeout, deadline=limits.request_timeout)
                client = scope.get("client")
                parsed = read_request(kind, body, headers, client[0] if client else None)
                source = self._source(parsed.write_key, "HTTP Basic user, or as writeKey in the body")
                events = parsed.events
            source_name = source.name
            if origin is not None and not state.origins.allows(origin, source_name, host, scope.get("scheme", "http")):
                self._warn_origin(origin, source_name)
                raise IngestError(
                    403,
                    "origin_not_allowed",
                    f"pages at {origin} may not send to this source; add the origin to its cors_origins",
                )
            retry_after = self.limiter.admit(source_name, len(events))
            if retry_after:
                extra_headers["retry-after"] = str(retry_after)
                extra_headers["access-control-expose-headers"] = "Retry-After"  # analytics.js in a page reads it
                raise IngestError(
                    429,
                    "rate_limited",
                    f"source {source_name!r} is over its rate limit; retry after {retry_after}s (nothing was stored)",
                )
        except ClientGone:
            return
        except IngestError as err:
            log.debug("refused %s: %s %s", scope["path"], err.status, err.code)
            telemetry.EVENTS_REJECTED.labels(source_name or "", err.code).inc()
            extra = self._cors(origin, source_name, host, scope) if err.code != "origin_not_allowed" else {}
            extra.update(extra_headers)
            if body is None:  # refused before the body was read to its end: the connection's next bytes are unknowable
                extra["connection"] = "close"
            await respond_error(send, err, extra)
            return
        cors = self._cors(origin, source_name, host, scope)
        events = state.suppressions.keep(events)  # suppressed users: answered 200, never stored
        if not events:
            await respond(send, 200, _OK, cors)
            return
        try:
            await state.appender.append(source_name, events)
        except StoreError:  # unreachable, damaged or refusing writes (logged by the appender): retry later
            telemetry.EVENTS_REJECTED.labels(source_name, "storage_unavailable").inc()
            await respond_error(
                send, IngestError(503, "storage_unavailable", "events could not be stored; retry later"), cors
            )
            return
        except Exception:
            log.exception("storing %d event(s) from source %s failed on a bug", len(events), source_name)
            telemetry.EVENTS_REJECTED.labels(source_name, "internal_error").inc()
            await respond_error(
                send, IngestError(500, "internal_error", "the server failed to store the events; retry later"), cors
            )
            return
        telemetry.EVENTS_RECEIVED.labels(source_name).inc(len(events))
        await respond(send, 200, _OK, cors)

    def _source(self, write_key: str | None, where: str) -> SourceConfig:
        """The source a write key names; 401 when there is no key or no such source."""
        if write_key is None:
            raise IngestError(401, "missing_write_key", f"no write key: send it as {where}")
        source = self.state.sources_by_key.get(write_key)
        if source is None:
            raise IngestError(401, "unknown_write_key", "the write key does not belong to any source of this server")
        return source

    def _webhook(self, body: bytes, headers: dict[str, str], scope: Scope) -> tuple[SourceConfig, list[dict[str, Any]]]:
        """A webhook's source (by `?writeKey=` or Basic) and the events its mapping makes of the body."""
        key = write_key_from_query(scope.get("query_string", b""), headers)
        source = self._source(key, "?writeKey=<the source's write key> in the webhook URL, or as HTTP Basic user")
        webhook = self.webhooks.get(source.name)
        if webhook is None:
            raise IngestError(
                404,
                "not_a_webhook_source",
                f"source {source.name!r} takes no webhooks: give it webhook: {{preset: …}} or webhook: {{mapping: …}}",
            )
        data = parse_json_object(decompress(body, headers.get("content-encoding", "")))
        return source, webhook.events(data)

    async def options(self, send: Send, headers: dict[str, str], scheme: str = "http") -> None:
        """A CORS preflight (answered for the origins of all sources), or a plain OPTIONS (which methods exist)."""
        origin = headers.get("origin")
        if origin is None or "access-control-request-method" not in headers:
            await respond(send, 204, b"", {"allow": ALLOW})
        elif (grant := self.state.origins.grant(origin, None, headers.get("host"), scheme)) is None:
            self._warn_origin(origin, None)
            message = f"no source of this server accepts events from pages at {origin}; list it in cors_origins"
            await respond_error(send, IngestError(403, "origin_not_allowed", message))
        else:
            requested = headers.get("access-control-request-headers")
            await respond(send, 204, b"", self.state.origins.preflight_headers(origin, requested, grant == "listed"))

    def _warn_origin(self, origin: str, source: str | None) -> None:
        """Say once per origin and source (for the first 1,000) that browsers there are refused: a missing
        `cors_origins` entry otherwise shows only in the visitors' consoles."""
        if (origin, source) in self._warned or len(self._warned) >= MAX_ORIGIN_WARNINGS:
            return
        self._warned.add((origin, source))
        where = f"source {source!r}" if source else "any source (CORS preflight)"
        log.warning(
            "refusing browser events from origin %s for %s: add it to cors_origins if it is yours", origin, where
        )

    def _cors(self, origin: str | None, source: str | None, host: str | None, scope: Scope) -> dict[str, str]:
        if origin is None:
            return {}
        grant = self.state.origins.grant(origin, source, host, scope.get("scheme", "http"))
        if grant is None:
            return {}
        return self.state.origins.response_headers(origin, credentials=grant == "listed")
