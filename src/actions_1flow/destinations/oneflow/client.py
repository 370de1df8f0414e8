"""Async client for 1Flow's public HTTP API: the kit's `Client` for the 1Flow destination.

Every send returns the kit's `Outcome`s rather than raising (Segment's retry contract, `actions.outcomes`), with
1Flow's limits and hints: an oversize event is refused before sending, a 413 or 400 on a batch splits it in halves
and resends each. Each outcome carries the exchange with the Project API Key masked, ready to print or log.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from ...actions.batching import send_groups
from ...actions.http import DEFAULT_TIMEOUT, USER_AGENT, PooledClient, hints, send_request
from ...actions.outcomes import Outcome, OutcomeKind
from ...secrets import mask_secret, secret_value
from . import wire
from .wire import Message

SPLIT_STATUSES = frozenset({400, 413})
"""Answers to a multi-message batch that split it in halves: too large, or one message's content refused."""
HINT_API_KEY = "check the Project API Key"
HINT_REGION = "wrong Project API Key or a region your 1Flow plan does not include"
HINT_TOO_LARGE = "1Flow accepts at most 32 KB per request and 500 KB per batch"
HINT_RATE = "1Flow recommends at most 500 requests per second; retry after the delay"
HINT_PAYLOAD = "1Flow rejected the message's content; see the response"
HINT_TRANSIENT = "1Flow or the network failed temporarily; retry later"


_hint = hints(
    {401: HINT_API_KEY, 404: HINT_REGION, 413: HINT_TOO_LARGE, 429: HINT_RATE, 400: HINT_PAYLOAD}, HINT_TRANSIENT
)


class OneFlowClient(PooledClient):
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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout=timeout, transport=transport)
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.base_url = base_url.rstrip("/")

    @property
    def endpoint(self) -> str:
        return self.base_url

    def __repr__(self) -> str:
        return f"OneFlowClient(base_url={self.base_url!r}, api_key={mask_secret(self._key)!r})"

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
        outcomes.extend(
            await send_groups(
                wire.pack_batches(sendable),
                self._post_group,
                split_on=SPLIT_STATUSES,
                stop_on_retryable=stop_on_retryable,
            )
        )
        return outcomes

    async def _post_group(self, group: list[Message]) -> Outcome:
        return await self._post(wire.PATHS["batch"], wire.batch_body(group), tuple(group))

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
        key = secret_value(self._key)
        headers = {wire.API_KEY_HEADER: key, "content-type": wire.CONTENT_TYPE, "user-agent": USER_AGENT}
        return await send_request(
            self._http,
            "POST",
            self.base_url + path,
            body=body,
            headers=headers,
            shown_headers={**headers, wire.API_KEY_HEADER: mask_secret(self._key)},
            messages=messages,
            hint=_hint,
            transient_hint=HINT_TRANSIENT,
            secrets=(key,),
        )
