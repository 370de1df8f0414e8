"""The kit's `Client` for webhooks: each message to its own URL with its method and headers, signed when the
destination has a shared secret, batched by Segment's batch keys when the subscription enables batching."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from ...actions.batching import send_groups
from ...actions.http import DEFAULT_TIMEOUT, USER_AGENT, PooledClient, hints, send_request
from ...actions.outcomes import Outcome, OutcomeKind
from ...secrets import mask_secret, secret_value
from . import wire
from .addresses import AddressGuard
from .wire import Message

HINT_REFUSED = "the receiver refused the request; its response says why"
HINT_AUTH = "the receiver did not accept the request's credentials: check the headers and sharedSecret"
HINT_NOT_FOUND = "check the URL: the receiver has nothing there"
HINT_METHOD = "check the method: the receiver does not take it at this URL"
HINT_TOO_LARGE = "the body is too large for the receiver: lower batch_size, or send less in data"
HINT_TRANSIENT = "the receiver or the network failed for now; retried later"
HINT_FIX = "fix the subscription's mapping, then replay"


hint = hints(
    {
        400: HINT_REFUSED,
        422: HINT_REFUSED,
        401: HINT_AUTH,
        403: HINT_AUTH,
        404: HINT_NOT_FOUND,
        405: HINT_METHOD,
        413: HINT_TOO_LARGE,
    },
    HINT_TRANSIENT,
)


class WebhookClient(PooledClient):
    """Pooled connections to any number of receivers, with one shared secret; `async with` closes them."""

    def __init__(
        self,
        shared_secret: str | SecretStr | None = None,
        *,
        refuse_private: bool = False,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._secret = secret_value(shared_secret)
        self._masked = mask_secret(shared_secret) if self._secret else ""
        super().__init__(timeout=timeout, transport=transport)
        self._guard = AddressGuard() if refuse_private else None

    @property
    def endpoint(self) -> str:
        return "each subscription's URL"

    def __repr__(self) -> str:
        return f"WebhookClient(sharedSecret={self._masked or None!r})"

    async def send(self, message: Message) -> Outcome:
        """One request: the message's data, or a batch of one when its subscription batches."""
        return await self._post([message])

    async def send_batch(self, messages: list[Message], *, stop_on_retryable: bool = False) -> list[Outcome]:
        """Messages in order: one request each, or, where batching is on, one per group of at most `batch_size`
        sharing URL, method and headers (in the order each group first appears)."""
        groups: list[list[Message]] = []
        open_groups: dict[Any, list[Message]] = {}
        for message in messages:
            if not message.batch:
                groups.append([message])
                continue
            group = open_groups.get(message.batch_key)
            if group is None or len(group) >= message.batch_size:
                group = open_groups[message.batch_key] = []
                groups.append(group)
            group.append(message)
        return await send_groups(groups, self._post, stop_on_retryable=stop_on_retryable)

    async def _post(self, group: list[Message]) -> Outcome:
        first = group[0]
        refused = await self._refusal(first)
        if refused is not None:
            return Outcome(OutcomeKind.PERMANENT, tuple(group), reason=f"not sent: {refused}", hint=HINT_FIX)
        content = wire.body([m.data for m in group] if first.batch else first.data)
        given = {name.lower() for name in first.headers}
        headers = {k: v for k, v in (("content-type", wire.CONTENT_TYPE), ("user-agent", USER_AGENT)) if k not in given}
        headers.update(first.headers)
        shown = {name: mask_secret(value) if wire.sensitive(name) else value for name, value in headers.items()}
        if self._secret and content:
            headers[wire.SIGNATURE_HEADER] = wire.signature(self._secret, content)
            shown[wire.SIGNATURE_HEADER] = headers[wire.SIGNATURE_HEADER]
        return await send_request(
            self._http,
            first.method,
            first.url,
            body=content,
            headers=headers,
            shown_headers=shown,
            messages=tuple(group),
            hint=hint,
            transient_hint=HINT_TRANSIENT,
            secrets=[s for s in (self._secret, *(v for k, v in first.headers.items() if wire.sensitive(k))) if s],
        )

    async def _refusal(self, message: Message) -> str | None:
        """Why the message cannot be sent as mapped (a mistake to fix, not to retry), if it cannot."""
        parts = urlsplit(message.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"the URL {message.url!r} is not an http:// or https:// URL with a host"
        bad = wire.non_ascii_header(message.headers)
        if bad is not None:
            return f"the header {bad!r} has characters that are not ASCII (headers take ASCII only)"
        if self._guard is not None:
            return await self._guard.refusal(message.url)
        return None


def create_client(settings: Any, **options: Any) -> WebhookClient:
    """The cloud-mode client with the settings' shared secret (options go to `WebhookClient`)."""
    return WebhookClient(settings.sharedSecret, refuse_private=settings.refusePrivateUrls, **options)
