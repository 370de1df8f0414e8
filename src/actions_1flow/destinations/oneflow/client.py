"""Async client for 1Flow's public HTTP API: sends messages and classifies what happened.

Every send returns `Outcome`s rather than raising: delivered, permanent (will never succeed as is: 400, 401, 404,
an oversize event, other 4xx, 501) or retryable (408, 423, 429, other 5xx, timeouts, connection errors; with the
server's `Retry-After` when given). A 413 on a batch splits it in halves and resends each. Each outcome carries a
summary of the exchange with the Project API Key masked, ready to print or log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from ... import __version__
from ...secrets import mask_secret, redact, secret_value
from . import wire
from .wire import Message

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""Segment's request client waits 10 s for a destination; connecting gets 5 s of that."""
DEFAULT_MAX_CONNECTIONS = 20
KEEPALIVE_EXPIRY_SECONDS = 30.0
MAX_SUMMARY_REQUEST_CHARS = 64 * 1024
MAX_SUMMARY_RESPONSE_CHARS = 4 * 1024
USER_AGENT = f"actions-1flow/{__version__}"

RETRYABLE_4XX = frozenset({408, 423, 429})
SPLIT_STATUSES = frozenset({400, 413})
"""Answers to a multi-message batch that split it in halves: too large, or one message's content refused."""
NOT_RETRYABLE_5XX = frozenset({501})

HINT_API_KEY = "check the Project API Key"
HINT_REGION = "wrong Project API Key or a region your 1Flow plan does not include"
HINT_TOO_LARGE = "1Flow accepts at most 32 KB per request and 500 KB per batch"
HINT_RATE = "1Flow recommends at most 500 requests per second; retry after the delay"
HINT_PAYLOAD = "1Flow rejected the message's content; see the response"
HINT_TRANSIENT = "1Flow or the network failed temporarily; retry later"


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    PERMANENT = "permanent"
    RETRYABLE = "retryable"


@dataclass(frozen=True)
class Exchange:
    """What was sent and what came back, with the Project API Key masked (safe to print and log)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": {"method": self.method, "url": self.url, "headers": self.request_headers, "body": self.request_body},
            "response": None
            if self.status is None
            else {"status": self.status, "headers": self.response_headers, "body": self.response_body},
            "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 1),
            "error": self.error,
        }


@dataclass(frozen=True)
class Outcome:
    """The fate of one request (or of messages refused before any request) and the messages it covers."""

    kind: OutcomeKind
    messages: tuple[Message, ...]
    status: int | None = None
    reason: str = ""
    hint: str | None = None
    retry_after: float | None = None
    """Seconds the server asked us to wait (`Retry-After`), for retryable outcomes."""
    exchange: Exchange | None = None
    """None when nothing was sent (refused before sending)."""

    @property
    def delivered(self) -> bool:
        return self.kind is OutcomeKind.DELIVERED

    @property
    def retryable(self) -> bool:
        return self.kind is OutcomeKind.RETRYABLE

    @property
    def permanent(self) -> bool:
        return self.kind is OutcomeKind.PERMANENT

    def summary(self) -> str:
        """One line: kind, status and reason, the hint, the delay."""
        text = f"{self.kind.value}: {self.reason}" if self.reason else self.kind.value
        if self.hint:
            text += f" ({self.hint})"
        if self.retry_after is not None:
            text += f"; retry after {self.retry_after:g}s"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "status": self.status,
            "reason": self.reason,
            "hint": self.hint,
            "retry_after": self.retry_after,
            "messages": len(self.messages),
            "exchange": None if self.exchange is None else self.exchange.to_dict(),
        }


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP-date (past dates give 0). None if absent/invalid."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds == float("inf"):
        return None
    return max(0.0, seconds)


def classify(status: int) -> OutcomeKind:
    """Segment's retry contract: 2xx delivered; 408, 423, 429 and 5xx except 501 retryable; the rest permanent."""
    if 200 <= status < 300:
        return OutcomeKind.DELIVERED
    if status in RETRYABLE_4XX or (500 <= status < 600 and status not in NOT_RETRYABLE_5XX):
        return OutcomeKind.RETRYABLE
    return OutcomeKind.PERMANENT


def _hint(status: int) -> str | None:
    if status == 401:
        return HINT_API_KEY
    if status == 404:
        return HINT_REGION
    if status == 413:
        return HINT_TOO_LARGE
    if status == 429:
        return HINT_RATE
    if status == 400:
        return HINT_PAYLOAD
    if classify(status) is OutcomeKind.RETRYABLE:
        return HINT_TRANSIENT
    return None


def _phrase(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _error_detail(body: bytes) -> str | None:
    """The server's own explanation from a JSON error body (`error` or `message`), if any."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict):
        for key in ("error", "message", "reason"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key]
    return None


def _clip(text: str, limit: int, total: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({total} bytes in all)"


class OneFlowClient:
    """Pooled keep-alive connections to one 1Flow endpoint with one Project API Key.

    Use as `async with OneFlowClient(key, base_url) as client:`; `transport` lets tests run against the in-process
    sandbox (`httpx.ASGITransport`).
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        base_url: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._http = httpx.AsyncClient(
            timeout=self._timeout,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
            ),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"OneFlowClient(base_url={self.base_url!r}, api_key={mask_secret(self._key)!r})"

    async def __aenter__(self) -> OneFlowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, message: Message) -> Outcome:
        """`POST /identify` or `/track` with one message."""
        if message.size > wire.MAX_REQUEST_BYTES:
            return self._oversize(message, message.size)
        return await self._post(message.path, message.encoded, (message,))

    async def send_batch(self, messages: list[Message], *, stop_on_retryable: bool = False) -> list[Outcome]:
        """`POST /batch` in as few requests of at most 500 KB as fit, in order; oversize events are refused first.

        A 413 or 400 answer splits that request in halves and sends each, so one bad message does not sink the
        others; a single message answered so is permanent. With `stop_on_retryable`, the first retryable answer
        ends the call: the messages not yet sent get a retryable outcome with no request (and its `Retry-After`),
        so nothing reaches 1Flow before the delay it asked for.
        """
        outcomes: list[Outcome] = []
        sendable: list[Message] = []
        for message in messages:
            size = len(message.batch_item)
            if size > wire.MAX_REQUEST_BYTES:
                outcomes.append(self._oversize(message, size))
            else:
                sendable.append(message)
        groups = wire.pack_batches(sendable)
        for index, group in enumerate(groups):
            sent = await self._send_group(group, stop_on_retryable)
            outcomes.extend(sent)
            failed = next((o for o in sent if o.retryable), None)
            if stop_on_retryable and failed is not None:
                rest = tuple(m for g in groups[index + 1:] for m in g)
                if rest:
                    outcomes.append(self._not_sent(rest, failed))
                break
        return outcomes

    async def _send_group(self, group: list[Message], stop_on_retryable: bool = False) -> list[Outcome]:
        outcome = await self._post(wire.PATHS["batch"], wire.batch_body(group), tuple(group))
        if outcome.status in SPLIT_STATUSES and len(group) > 1:
            middle = len(group) // 2
            first = await self._send_group(group[:middle], stop_on_retryable)
            if stop_on_retryable and any(o.retryable for o in first):
                return [*first, self._not_sent(tuple(group[middle:]), next(o for o in first if o.retryable))]
            return [*first, *await self._send_group(group[middle:], stop_on_retryable)]
        return [outcome]

    @staticmethod
    def _not_sent(messages: tuple[Message, ...], cause: Outcome) -> Outcome:
        return Outcome(
            OutcomeKind.RETRYABLE,
            messages,
            reason=f"not sent: an earlier request failed ({cause.reason})",
            hint=cause.hint,
            retry_after=cause.retry_after,
        )

    def _oversize(self, message: Message, size: int) -> Outcome:
        return Outcome(
            OutcomeKind.PERMANENT,
            (message,),
            reason=(
                f"event is {size} bytes, over 1Flow's limit of {wire.MAX_REQUEST_BYTES} bytes (32 KB) per event; "
                "refused before sending"
            ),
            hint=HINT_TOO_LARGE,
        )

    async def _post(self, path: str, body: bytes, messages: tuple[Message, ...]) -> Outcome:
        url = self.base_url + path
        key = secret_value(self._key)
        headers = {
            wire.API_KEY_HEADER: key,
            "content-type": wire.CONTENT_TYPE,
            "user-agent": USER_AGENT,
        }
        shown_headers = {**headers, wire.API_KEY_HEADER: mask_secret(self._key)}
        shown_body = redact(_clip(body.decode("utf-8", "replace"), MAX_SUMMARY_REQUEST_CHARS, len(body)), key)
        started = time.perf_counter()
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return self._failed(messages, url, shown_headers, shown_body, started, f"timed out ({type(exc).__name__})")
        except (httpx.TransportError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            return self._failed(messages, url, shown_headers, shown_body, started, f"connection error: {detail}")
        elapsed = (time.perf_counter() - started) * 1000
        status = response.status_code
        content = response.content
        exchange = Exchange(
            "POST",
            url,
            shown_headers,
            shown_body,
            status=status,
            response_headers=dict(response.headers),
            response_body=redact(
                _clip(content.decode("utf-8", "replace"), MAX_SUMMARY_RESPONSE_CHARS, len(content)), key
            ),
            elapsed_ms=elapsed,
        )
        kind = classify(status)
        detail = _error_detail(content) if kind is not OutcomeKind.DELIVERED else None
        phrase = _phrase(status)
        reason = phrase + (f": {redact(detail, key)}" if detail and not phrase.endswith(detail) else "")
        retry_after = parse_retry_after(response.headers.get("retry-after")) if kind is OutcomeKind.RETRYABLE else None
        return Outcome(
            kind,
            messages,
            status=status,
            reason=reason,
            hint=None if kind is OutcomeKind.DELIVERED else _hint(status),
            retry_after=retry_after,
            exchange=exchange,
        )

    def _failed(
        self,
        messages: tuple[Message, ...],
        url: str,
        headers: dict[str, str],
        body: str,
        started: float,
        error: str,
    ) -> Outcome:
        exchange = Exchange(
            "POST", url, headers, body, elapsed_ms=(time.perf_counter() - started) * 1000, error=error
        )
        return Outcome(OutcomeKind.RETRYABLE, messages, reason=error, hint=HINT_TRANSIENT, exchange=exchange)
