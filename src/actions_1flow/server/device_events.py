"""`POST /v1/device-events`: error reports from the device-mode plugin in pages (the `deviceEventsUrl` setting).

The plugin sends `navigator.sendBeacon` bodies: JSON as `text/plain` (no CORS preflight; the answer is not read).
Anyone can post here, so a report is size-capped, validated, checked against the source's write key and
rate-limited per write key before it is logged (one line, no keys) and stored next to the server-side deliveries.
Client input gets 204 or a 4xx with a JSON reason, never a 5xx.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ..ingest import IngestError
from ..pipeline import DeviceEvent
from ..secrets import redact
from ..service.bodies import read_body
from ..service.state import ServerState
from .ratelimit import TokenBucket
from .responses import CORS_HEADERS, error_response

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("actions_1flow.server")

MAX_REPORT_BYTES = 8 * 1024
"""A report is a sentence and a few ids; the plugin's largest is well under 2 KB."""
MAX_MESSAGE_CHARS = 4000
MAX_FIELD_CHARS = 500
MAX_URL_CHARS = 2000
REPORTS_PER_SECOND = 10.0
"""Sustained reports accepted per write key (the plugin itself sends at most 20 per page load)."""
REPORT_BURST = 100
"""Reports a write key may send at once before the rate applies."""
LOGGED_MESSAGE_CHARS = 500

Kind = Literal["sdk-load", "config", "trigger", "mapping", "payload", "sdk-call"]


class _SubscriptionRef(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    id: str | None = Field(None, max_length=MAX_FIELD_CHARS)
    name: str | None = Field(None, max_length=MAX_FIELD_CHARS)
    partnerAction: str | None = Field(None, max_length=MAX_FIELD_CHARS)


class Report(BaseModel):
    """The plugin's report (docs/web.md, "Error reports"); unknown keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    writeKey: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    destination: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    kind: Kind
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    subscription: _SubscriptionRef | None = None
    type: str | None = Field(None, max_length=MAX_FIELD_CHARS)
    messageId: str | None = Field(None, max_length=MAX_FIELD_CHARS)
    sdkUrl: str | None = Field(None, max_length=MAX_URL_CHARS)


class RateLimiter:
    """A token bucket per key (the tracking API's `TokenBucket`): `burst` at once, then `rate` per second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.burst, now)
        return bucket.take(1, now) == 0.0


def _problem(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "the report"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _one_line(text: str, limit: int = LOGGED_MESSAGE_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class DeviceEvents:
    """The endpoint, with its per-write-key rate limit."""

    def __init__(self, state: ServerState, limiter: RateLimiter | None = None) -> None:
        self.state = state
        self.limiter = limiter or RateLimiter(REPORTS_PER_SECOND, REPORT_BURST)
        config = state.config
        self._destinations = {
            key: [d.name for d in config.destinations if d.mode == "device" and source.name in config.sources_of(d)]
            for source in config.sources
            for key in source.accepted_write_keys()
        }
        # Public in device mode, yet never written to our logs or store.
        self._secrets = [secret for d in config.destinations for secret in d.settings.secrets()]
        self._limited: set[str] = set()

    def prepare_reload(self, config: Config) -> Callable[[], None]:
        """Routing and redaction for a new configuration (the report limiter is kept)."""
        destinations = {
            key: [d.name for d in config.destinations if d.mode == "device" and source.name in config.sources_of(d)]
            for source in config.sources
            for key in source.accepted_write_keys()
        }
        secrets = [secret for d in config.destinations for secret in d.settings.secrets()]

        def commit() -> None:
            self._destinations, self._secrets = destinations, secrets

        return commit

    def _clean(self, text: str) -> str:
        """Report text as stored: known secrets masked, U+0000 as U+FFFD (PostgreSQL's text cannot hold it; the
        same on both backends)."""
        return redact(text, *self._secrets).replace("\x00", "\ufffd")

    def _read(self, body: bytes, headers_origin: str | None) -> DeviceEvent:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise IngestError(400, "invalid_json", "the body is not JSON (send the report as JSON text)") from None
        try:
            report = Report.model_validate(data)
        except ValidationError as exc:
            raise IngestError(400, "invalid_report", _problem(exc)) from None
        source = self.state.sources_by_key.get(report.writeKey)
        if source is None:
            raise IngestError(401, "unknown_write_key", "the write key does not belong to any source of this server")
        destinations = self._destinations[report.writeKey]
        if not destinations:
            raise IngestError(400, "no_device_destination", f"source {source.name!r} has no device-mode destination")
        if not self.limiter.allow(report.writeKey):
            if source.name not in self._limited:
                self._limited.add(source.name)
                log.warning(
                    "device events from source %s exceed %g/s; dropping the excess", source.name, self.limiter.rate
                )
            raise IngestError(
                429, "rate_limited", f"too many reports for this write key (at most {self.limiter.rate:g}/s)"
            )
        self._limited.discard(source.name)
        sub = report.subscription.model_dump(exclude_none=True) if report.subscription else None
        return DeviceEvent(
            received_at=time.time(),
            source=source.name,
            destination=", ".join(destinations),
            kind=report.kind,
            message=self._clean(report.message),
            subscription={k: self._clean(v) for k, v in sub.items()} if sub else None,
            event_type=None if report.type is None else self._clean(report.type),
            message_id=None if report.messageId is None else self._clean(report.messageId),
            sdk_url=None if report.sdkUrl is None else self._clean(report.sdkUrl),
            origin=(headers_origin or "")[:MAX_URL_CHARS] or None,
        )

    async def endpoint(self, request: Request) -> Response:
        """`POST /v1/device-events`."""
        try:
            body = await read_body(
                request.receive,
                request.headers,
                self.state.config.server.body_timeout,
                MAX_REPORT_BYTES,
                too_large=(413, "report_too_large"),
                deadline=self.state.config.server.request_timeout,
            )
            event = self._read(body, request.headers.get("origin"))
        except IngestError as err:
            return error_response(err.status, err.code, err.message)
        about = f" [subscription {event.subscription.get('name')!r}]" if event.subscription else ""
        log.warning(
            "device event %s from source %s (destination %s, %s)%s: %s",
            event.kind,
            event.source,
            event.destination,
            event.origin or "no origin",
            about,
            _one_line(event.message),
        )
        try:
            await asyncio.wrap_future(self.state.store.record_device_event(event))
        except Exception:
            log.exception("could not store a device event from source %s", event.source)
            return error_response(503, "storage_unavailable", "the report could not be stored")
        return Response(status_code=204, headers=CORS_HEADERS)
