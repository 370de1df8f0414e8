"""The kit's `Client` for Segment's tracking API (or any API that speaks it): `POST {base}/batch`, HTTP Basic auth
with the source write key as the user, gzip, Segment's limits; answers judged by Segment's retry contract."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from pydantic import SecretStr

from ...actions.batching import pack, send_groups
from ...actions.http import DEFAULT_TIMEOUT, USER_AGENT, PooledClient, hints, send_request
from ...actions.outcomes import Outcome, OutcomeKind
from ...secrets import mask_secret, secret_value
from . import wire
from .wire import Message

SPLIT_STATUSES = frozenset({400, 413})
"""Answers to a batch of several events that split it in halves: one event refused, or the whole too large."""

HINT_WRITE_KEY = "check source_write_key: the receiving API did not accept it as a source's write key"
HINT_NOT_FOUND = "check apiBaseUrl: it must end where /batch is appended (e.g. https://api.segment.io/v1)"
HINT_TOO_LARGE = "Segment accepts 32 KB per event and 500 KB per batch"
HINT_REFUSED = "the receiving API refused the event's content; see the response"
HINT_TRANSIENT = "the receiving API or the network failed for now; retried later"


hint = hints(
    {401: HINT_WRITE_KEY, 403: HINT_WRITE_KEY, 404: HINT_NOT_FOUND, 413: HINT_TOO_LARGE, 400: HINT_REFUSED},
    HINT_TRANSIENT,
)


class SegmentClient(PooledClient):
    """Pooled connections to one tracking API with one write key; `async with` closes them."""

    def __init__(
        self,
        write_key: str | SecretStr,
        base_url: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._key = write_key if isinstance(write_key, SecretStr) else SecretStr(write_key)
        super().__init__(timeout=timeout, transport=transport)
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{secret_value(self._key)}:".encode()).decode("ascii")
        self._headers = {
            "authorization": f"Basic {token}",
            "content-type": wire.CONTENT_TYPE,
            "content-encoding": "gzip",
            "user-agent": USER_AGENT,
        }
        self._shown_headers = {**self._headers, "authorization": f"Basic {mask_secret(self._key)} (write key)"}
        self._secrets = (secret_value(self._key), token)

    @property
    def endpoint(self) -> str:
        return self.base_url + wire.BATCH_PATH

    def __repr__(self) -> str:
        return f"SegmentClient(base_url={self.base_url!r}, write_key={mask_secret(self._key)!r})"

    async def send(self, message: Message) -> Outcome:
        """One event, as a batch of one."""
        [outcome] = await self.send_batch([message])
        return outcome

    async def send_batch(self, messages: list[Message], *, stop_on_retryable: bool = False) -> list[Outcome]:
        """`/batch` requests of at most 500 KB and 2,500 events, in order; an event over 32 KB is refused first."""
        outcomes = [self._oversize(m) for m in messages if m.size > wire.MAX_EVENT_BYTES]
        sendable = [m for m in messages if m.size <= wire.MAX_EVENT_BYTES] if outcomes else messages
        groups = pack(
            sendable,
            lambda m: m.size,
            max_bytes=wire.MAX_BATCH_BYTES,
            overhead=len(wire.BATCH_OPEN) + len(wire.BATCH_CLOSE),
            max_items=wire.MAX_BATCH_EVENTS,
        )
        outcomes.extend(
            await send_groups(groups, self._post, split_on=SPLIT_STATUSES, stop_on_retryable=stop_on_retryable)
        )
        return outcomes

    async def _post(self, group: list[Message]) -> Outcome:
        body = wire.batch_body(group)
        return await send_request(
            self._http,
            "POST",
            self.endpoint,
            body=wire.compress(body),
            headers=self._headers,
            shown_headers=self._shown_headers,
            messages=tuple(group),
            hint=hint,
            transient_hint=HINT_TRANSIENT,
            secrets=self._secrets,
            shown_body=body,
        )

    def _oversize(self, message: Message) -> Outcome:
        return Outcome(
            OutcomeKind.PERMANENT,
            (message,),
            reason=(
                f"event is {message.size:,} bytes, over Segment's limit of {wire.MAX_EVENT_BYTES:,} bytes (32 KB) "
                "per event; refused before sending"
            ),
            hint=HINT_TOO_LARGE,
        )


def create_client(settings: Any, **options: Any) -> SegmentClient:
    """The cloud-mode client for the settings' endpoint and write key (options go to `SegmentClient`)."""
    return SegmentClient(settings.source_write_key, settings.api_base_url(), **options)
