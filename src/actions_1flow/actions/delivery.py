"""Synchronous delivery of one event through one destination: the engine's verdict per subscription, then one
request per message, in order. Used by `send` and `test-event`; the durable pipeline batches instead, and both
judge the outcomes with the same rule (`outcomes.worst`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .client import Client
from .definition import Destination
from .outcomes import Outcome, OutcomeKind, worst
from .subscriptions import CompiledSubscription, Status, SubscriptionResult, run_event


class Target(Protocol):
    """A configured destination, as delivery needs it (the configuration's `DestinationConfig` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def definition(self) -> Destination: ...

    @property
    def compiled(self) -> list[CompiledSubscription]: ...

    def setting_values(self) -> Mapping[str, Any]: ...


@dataclass
class DeliveryResult:
    """One event through one subscription: the engine's result and, when something was sent, the outcome(s)."""

    destination: str
    result: SubscriptionResult
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def worst_outcome(self) -> Outcome | None:
        """The outcome that decides the verdict (see `outcomes.worst`); the first when all were delivered."""
        return worst(self.outcomes) or (self.outcomes[0] if self.outcomes else None)

    @property
    def verdict(self) -> str:
        """`delivered`, `permanent`, `retryable` once sent; otherwise the engine's status (`filtered`, `invalid`…)."""
        if self.result.status is not Status.READY:
            return self.result.status.value
        decisive = worst(self.outcomes)
        if decisive is not None:
            return decisive.kind.value
        return OutcomeKind.DELIVERED.value if self.outcomes else Status.READY.value

    @property
    def failed(self) -> bool:
        return self.result.failed or self.verdict in (OutcomeKind.PERMANENT.value, OutcomeKind.RETRYABLE.value)

    def summary(self) -> str:
        """The verdict with its reason, hint and delay, on one line."""
        outcome = self.worst_outcome
        if outcome is not None:
            if outcome.delivered and outcome.exchange is not None:
                return f"delivered ({outcome.reason}, {outcome.exchange.method} {outcome.exchange.url})"
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


async def deliver_event(event: Mapping[str, Any], target: Target, client: Client) -> list[DeliveryResult]:
    """Run `event` through the destination's subscriptions and send what they produce, one request per message."""
    results = []
    for result in run_event(target.definition, target.compiled, event, target.setting_values()):
        delivery = DeliveryResult(target.name, result)
        for message in result.messages:
            delivery.outcomes.append(await client.send(message))
        results.append(delivery)
    return results
