"""Synchronous delivery of events through a cloud-mode 1Flow destination: engine verdict, then one request per
message, in event order. Used by `send` and `test-event`; the durable pipeline batches instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...actions import Status, SubscriptionResult, run_event
from ...config import DestinationConfig
from .client import OneFlowClient, Outcome, OutcomeKind


@dataclass
class DeliveryResult:
    """One event through one subscription: the engine's result and, when something was sent, the outcome(s)."""

    destination: str
    result: SubscriptionResult
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """`delivered`, `permanent`, `retryable` once sent; otherwise the engine's status (`filtered`, `invalid`…)."""
        if self.result.status is not Status.READY:
            return self.result.status.value
        for kind in (OutcomeKind.RETRYABLE, OutcomeKind.PERMANENT):
            if any(o.kind is kind for o in self.outcomes):
                return kind.value
        return OutcomeKind.DELIVERED.value if self.outcomes else Status.READY.value

    @property
    def failed(self) -> bool:
        return self.result.failed or self.verdict in (OutcomeKind.PERMANENT.value, OutcomeKind.RETRYABLE.value)

    @property
    def worst_outcome(self) -> Outcome | None:
        for outcome in self.outcomes:
            if not outcome.delivered:
                return outcome
        return self.outcomes[0] if self.outcomes else None

    def summary(self) -> str:
        """The verdict with its reason, hint and delay, on one line."""
        outcome = self.worst_outcome
        if outcome is not None:
            if outcome.delivered and outcome.exchange is not None:
                return f"delivered ({outcome.reason}, POST {outcome.exchange.url})"
            return outcome.summary()
        verdict = self.verdict.replace("_", " ")
        reason = self.result.reason
        return f"{verdict}: {reason}" if reason else verdict

    def to_dict(self) -> dict[str, Any]:
        outcome = self.worst_outcome
        return {
            "destination": self.destination,
            "subscription": self.result.subscription.name,
            "action": self.result.subscription.partner_action,
            "status": self.verdict,
            "reason": outcome.reason if outcome else self.result.reason,
            "hint": outcome.hint if outcome else None,
            "http_status": outcome.status if outcome else None,
            "retry_after": outcome.retry_after if outcome else None,
        }


def client_for(destination: DestinationConfig, **options: Any) -> OneFlowClient:
    """A client for the destination's endpoint and key (options go to `OneFlowClient`, e.g. `transport`)."""
    settings = destination.settings
    return OneFlowClient(settings.projectApiKey, settings.api_base_url(), **options)


async def deliver_event(
    event: Mapping[str, Any], destination: DestinationConfig, client: OneFlowClient
) -> list[DeliveryResult]:
    """Run `event` through the destination's subscriptions and send what they produce, one request per message."""
    settings = destination.settings.model_dump()
    results = []
    for result in run_event(destination.definition, destination.compiled, event, settings):
        delivery = DeliveryResult(destination.name, result)
        for message in result.messages:
            delivery.outcomes.append(await client.send(message))
        results.append(delivery)
    return results

