"""One HTTP request to a destination, answered as the kit's `Outcome`: what every destination's client shares.

`send_request` never raises: a timeout or a connection error is retryable, an answer is judged by `classify`
(Segment's retry contract) with its `Retry-After`, and the `Exchange` it carries has the destination's secrets
masked (headers as the client shows them, bodies redacted and clipped). The wire format and the hints stay the
destination's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Self

import httpx
import orjson

from .. import __version__
from ..secrets import redact
from .client import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S
from .outcomes import Exchange, Outcome, OutcomeKind, classify, parse_retry_after

USER_AGENT = f"actions-1flow/{__version__}"
"""What every destination's client names itself as."""
DEFAULT_TIMEOUT = httpx.Timeout(DEFAULT_TIMEOUT_S, connect=DEFAULT_CONNECT_TIMEOUT_S)
DEFAULT_MAX_CONNECTIONS = 20
KEEPALIVE_EXPIRY_S = 30.0
MAX_SHOWN_REQUEST_CHARS = 64 * 1024
MAX_SHOWN_RESPONSE_CHARS = 4 * 1024


def pooled_client(
    *,
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Keep-alive connections to one destination (`transport` lets tests answer in-process)."""
    return httpx.AsyncClient(
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY_S,
        ),
        transport=transport,
    )


def hints(by_status: Mapping[int, str], transient: str) -> Callable[[int], str | None]:
    """A destination's hint for an answer: its own by status, else `transient` for a retryable one."""

    def hint(status: int) -> str | None:
        found = by_status.get(status)
        if found is None and classify(status) is OutcomeKind.RETRYABLE:
            return transient
        return found

    return hint


def phrase(status: int) -> str:
    """`404 Not Found` (the bare code for one HTTP does not name)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def error_detail(body: bytes) -> str | None:
    """The server's own explanation from a JSON error body (`error`, `message` or `reason`), if any."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict):
        for key in ("error", "message", "reason"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])
    return None


def clip(text: str, limit: int, total: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({total} bytes in all)"


def shown(body: bytes, secrets: Sequence[str], limit: int) -> str:
    """A body as people may see it: text, clipped, every secret redacted."""
    return redact(clip(body.decode("utf-8", "replace"), limit, len(body)), *secrets)


async def send_request(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    shown_headers: dict[str, str],
    messages: tuple[Any, ...],
    hint: Callable[[int], str | None],
    transient_hint: str,
    secrets: Sequence[str] = (),
    shown_body: bytes | None = None,
) -> Outcome:
    """Send one request and judge its answer. `shown_headers` are `headers` with secrets masked; `shown_body` is
    what the exchange shows of the body when the wire form is not text (a gzip body's JSON)."""
    request_text = shown(body if shown_body is None else shown_body, secrets, MAX_SHOWN_REQUEST_CHARS)
    started = time.perf_counter()
    try:
        response = await http.request(method, url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        error = f"timed out ({type(exc).__name__})"
    except (httpx.TransportError, OSError) as exc:
        error = f"connection error: {str(exc) or type(exc).__name__}"
    else:
        elapsed = (time.perf_counter() - started) * 1000
        status = response.status_code
        content = response.content
        exchange = Exchange(
            method,
            url,
            shown_headers,
            request_text,
            status=status,
            response_headers=dict(response.headers),
            response_body=shown(content, secrets, MAX_SHOWN_RESPONSE_CHARS),
            elapsed_ms=elapsed,
        )
        kind = classify(status)
        explained = error_detail(content) if kind is not OutcomeKind.DELIVERED else None
        explained = redact(explained, *secrets) if explained else None
        said = phrase(status)
        reason = said + (f": {explained}" if explained and not said.endswith(explained) else "")
        retry_after = parse_retry_after(response.headers.get("retry-after")) if kind is OutcomeKind.RETRYABLE else None
        return Outcome(
            kind,
            messages,
            status=status,
            reason=reason,
            hint=None if kind is OutcomeKind.DELIVERED else hint(status),
            retry_after=retry_after,
            exchange=exchange,
        )
    exchange = Exchange(
        method, url, shown_headers, request_text, elapsed_ms=(time.perf_counter() - started) * 1000, error=error
    )
    return Outcome(OutcomeKind.RETRYABLE, messages, reason=error, hint=transient_hint, exchange=exchange)


class PooledClient:
    """What every destination's HTTP client shares: its pooled connections, closed by `aclose` or `async with`."""

    def __init__(
        self, *, timeout: float | httpx.Timeout = DEFAULT_TIMEOUT, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._http = pooled_client(timeout=timeout, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
