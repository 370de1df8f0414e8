"""The webhook's HTTP client: one POST per message (a batch is posted message by message), judged by the kit's
retry contract."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from actions_1flow.actions import Exchange, Outcome, OutcomeKind, classify, not_sent, parse_retry_after
from actions_1flow.secrets import mask_secret, secret_value

from .settings import WebhookSettings


class WebhookClient:
    def __init__(
        self, settings: WebhookSettings, *, timeout: float = 5.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    @property
    def endpoint(self) -> str:
        return self._settings.url

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, message: Any) -> Outcome:
        body = orjson.dumps(message)
        headers = {"authorization": f"Bearer {secret_value(self._settings.token)}", "content-type": "application/json"}
        shown = {**headers, "authorization": f"Bearer {mask_secret(self._settings.token)}"}
        try:
            response = await self._http.post(self._settings.url, content=body, headers=headers)
        except httpx.TransportError as exc:
            exchange = Exchange("POST", self._settings.url, shown, body.decode(), error=str(exc) or type(exc).__name__)
            return Outcome(OutcomeKind.RETRYABLE, (message,), reason="connection error", exchange=exchange)
        kind = classify(response.status_code)
        exchange = Exchange(
            "POST", self._settings.url, shown, body.decode(), status=response.status_code, response_body=response.text
        )
        retry_after = parse_retry_after(response.headers.get("retry-after")) if kind is OutcomeKind.RETRYABLE else None
        return Outcome(
            kind,
            (message,),
            status=response.status_code,
            reason=str(response.status_code),
            hint=None if kind is OutcomeKind.DELIVERED else "the webhook refused it",
            retry_after=retry_after,
            exchange=exchange,
        )

    async def send_batch(self, messages: list[Any], *, stop_on_retryable: bool = False) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for index, message in enumerate(messages):
            outcome = await self.send(message)
            outcomes.append(outcome)
            if stop_on_retryable and outcome.retryable and index + 1 < len(messages):
                outcomes.append(not_sent(tuple(messages[index + 1 :]), outcome))
                break
        return outcomes
