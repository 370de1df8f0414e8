"""The sandbox answering surveys: 1Flow's project webhook (`submitted_survey`), sent as 1Flow documents it.

One JSON POST per response to the configured URL; only a 200 within 10 s counts as received, anything else (another
status, no answer in time, no connection) is tried again every `interval` (1Flow: 60 minutes; the sandbox takes a
shorter one for tests and demos) until 3 days after the first attempt. Each attempt is kept for `GET
/_sandbox/surveys`. The body is 1Flow's documented example for the given user (see `survey_webhook`).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ..destinations.oneflow.survey_webhook import RETRY_WINDOW_S, example_body
from ..secrets import mask_secret

RETRY_INTERVAL_S = 3600.0
"""1Flow tries an unanswered webhook again every 60 minutes."""
ANSWER_TIMEOUT_S = 10.0
"""A receiver must answer within 10 seconds."""


_WRITE_KEY = re.compile(r"([?&]writeKey=)([^&#]*)")


def shown_url(url: str) -> str:
    """A webhook URL as printed and listed: its `writeKey` masked (the URL is all the receiving source checks)."""
    return _WRITE_KEY.sub(lambda m: m[1] + mask_secret(m[2]), url)


def new_alert_id() -> str:
    """An id shaped like 1Flow's (24 hex digits, as in its example)."""
    return secrets.token_hex(12)


@dataclass
class Emission:
    """One response's webhook and every attempt to deliver it."""

    alert_id: str
    url: str
    body: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    state: str = "sending"
    """`sending`, `retrying` (waiting for the next attempt), `delivered` or `given_up`."""

    def describe(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "url": shown_url(self.url),
            "user_id": self.body.get("user", {}).get("user_id"),
            "state": self.state,
            "attempts": self.attempts,
        }


class SurveyEmitter:
    """Sends `submitted_survey` webhooks with 1Flow's retries, each in its own task on the running loop."""

    def __init__(
        self,
        url: str | None = None,
        interval: float = RETRY_INTERVAL_S,
        window: float = RETRY_WINDOW_S,
        timeout: float = ANSWER_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.interval = interval
        self.window = window
        self.timeout = timeout
        self.transport = transport
        self.emissions: list[Emission] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def answer(
        self,
        user_id: str | None,
        *,
        alert_id: str | None = None,
        url: str | None = None,
        score: int | None = None,
        comment: str | None = None,
    ) -> Emission:
        """Record a response of `user_id` and start sending its webhook (to `url`, else the configured one);
        raises ValueError when there is no URL to send to."""
        target = url or self.url
        if not target:
            raise ValueError("no webhook URL: start the sandbox with --webhook-url, or give url")
        body = example_body(user_id, alert_id or new_alert_id())
        screens = body["survey_info"]["screens"]
        if score is not None:
            screens[0]["answer"] = str(score)
        if comment is not None:
            screens[1]["answer"] = comment
        emission = Emission(body["alert_id"], target, body)
        self.emissions.append(emission)
        task = asyncio.get_running_loop().create_task(self._send(emission))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return emission

    async def _send(self, emission: Emission) -> None:
        started = time.monotonic()
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
            while True:
                emission.state = "sending"
                attempt: dict[str, Any] = {"at": datetime.now(UTC).isoformat(timespec="milliseconds")}
                sent = time.monotonic()
                try:
                    response = await client.post(emission.url, json=emission.body)
                    attempt["status"] = response.status_code
                except httpx.HTTPError as exc:
                    attempt["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                attempt["ms"] = round((time.monotonic() - sent) * 1000)
                emission.attempts.append(attempt)
                if attempt.get("status") == 200:
                    emission.state = "delivered"
                    return
                if time.monotonic() + self.interval - started > self.window:
                    emission.state = "given_up"
                    return
                emission.state = "retrying"
                await asyncio.sleep(self.interval)

    async def close(self) -> None:
        """Stop every pending retry."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
