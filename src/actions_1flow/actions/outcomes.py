"""What happened to a request to a destination: Segment's retry contract, shared by every destination's client.

An `Outcome` is delivered, permanent (will never succeed as sent: most 4xx, 501) or retryable (408, 423, 429, other
5xx, timeouts, connection errors; with the server's `Retry-After` when given), and carries the `Exchange` (request
and response with secrets masked). `worst` is the one rule that turns the outcomes of one (event, subscription)
into its verdict, for the pipeline and for `send`/`test-event` alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

RETRYABLE_4XX = frozenset({408, 423, 429})
NOT_RETRYABLE_5XX = frozenset({501})


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    PERMANENT = "permanent"
    RETRYABLE = "retryable"


@dataclass(frozen=True)
class Exchange:
    """What was sent and what came back, with the destination's secrets masked (safe to print and log)."""

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
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.request_headers,
                "body": self.request_body,
            },
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
    messages: tuple[Any, ...]
    """The destination's messages this outcome covers (their type is the destination's business)."""
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
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
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


def not_sent(messages: tuple[Any, ...], cause: Outcome) -> Outcome:
    """The outcome of messages a client held back after `cause`, a retryable answer, with `stop_on_retryable`:
    retryable, no request, the cause's hint and delay."""
    return Outcome(
        OutcomeKind.RETRYABLE,
        messages,
        reason=f"not sent: an earlier request failed ({cause.reason})",
        hint=cause.hint,
        retry_after=cause.retry_after,
    )


def worst(outcomes: Iterable[Outcome]) -> Outcome | None:
    """The outcome that decides the fate of what they cover together: a permanent one (the event can never be
    delivered as is, so retrying the rest would only repeat it), else a retryable one, else None (all delivered)."""
    retryable = None
    for outcome in outcomes:
        if outcome.kind is OutcomeKind.PERMANENT:
            return outcome
        if retryable is None and outcome.kind is OutcomeKind.RETRYABLE:
            retryable = outcome
    return retryable
