"""Async client for 1Flow's public HTTP API: the kit's `Client` for the 1Flow destination.

Every send returns the kit's `Outcome`s rather than raising (Segment's retry contract, `actions.outcomes`), with
1Flow's limits and hints: an oversize event is refused before sending, a 413 or 400 on a batch splits it in halves
and resends each. Each outcome carries the exchange with the Project API Key masked, ready to print or log.
"""

from __future__ import annotations

import time
from http import HTTPStatus

import httpx
import orjson
from pydantic import SecretStr

from ... import __version__
from ...actions.client import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S
from ...actions.outcomes import Exchange, Outcome, OutcomeKind, classify, not_sent, parse_retry_after
from ...secrets import mask_secret, redact, secret_value
from . import wire
from .wire import Message

DEFAULT_TIMEOUT = httpx.Timeout(DEFAULT_TIMEOUT_S, connect=DEFAULT_CONNECT_TIMEOUT_S)
DEFAULT_MAX_CONNECTIONS = 20
KEEPALIVE_EXPIRY_SECONDS = 30.0
MAX_SUMMARY_REQUEST_CHARS = 64 * 1024
MAX_SUMMARY_RESPONSE_CHARS = 4 * 1024
USER_AGENT = f"actions-1flow/{__version__}"

SPLIT_STATUSES = frozenset({400, 413})
"""Answers to a multi-message batch that split it in halves: too large, or one message's content refused."""
HINT_API_KEY = "check the Project API Key"
HINT_REGION = "wrong Project API Key or a region your 1Flow plan does not include"
HINT_TOO_LARGE = "1Flow accepts at most 32 KB per request and 500 KB per batch"
HINT_RATE = "1Flow recommends at most 500 requests per second; retry after the delay"
HINT_PAYLOAD = "1Flow rejected the message's content; see the response"
HINT_TRANSIENT = "1Flow or the network failed temporarily; retry later"


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

    @property
    def endpoint(self) -> str:
        return self.base_url

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
                rest = tuple(m for g in groups[index + 1 :] for m in g)
                if rest:
                    outcomes.append(not_sent(rest, failed))
                break
        return outcomes

    async def _send_group(self, group: list[Message], stop_on_retryable: bool = False) -> list[Outcome]:
        outcome = await self._post(wire.PATHS["batch"], wire.batch_body(group), tuple(group))
        if outcome.status in SPLIT_STATUSES and len(group) > 1:
            middle = len(group) // 2
            first = await self._send_group(group[:middle], stop_on_retryable)
            if stop_on_retryable and any(o.retryable for o in first):
                return [*first, not_sent(tuple(group[middle:]), next(o for o in first if o.retryable))]
            return [*first, *await self._send_group(group[middle:], stop_on_retryable)]
        return [outcome]

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
        explained = _error_detail(content) if kind is not OutcomeKind.DELIVERED else None
        phrase = _phrase(status)
        reason = phrase + (f": {redact(explained, key)}" if explained and not phrase.endswith(explained) else "")
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
        exchange = Exchange("POST", url, headers, body, elapsed_ms=(time.perf_counter() - started) * 1000, error=error)
        return Outcome(OutcomeKind.RETRYABLE, messages, reason=error, hint=HINT_TRANSIENT, exchange=exchange)
