"""Running one event through a destination's subscriptions: trigger → mapping → clean-up and validation → action.

Each subscription gets its own result, in subscription order. Unlike Segment's `onEvent` (where one failing
subscription rejects the whole call and the others' results are lost), a failure here stays in its own result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .. import fql, mapping
from .definition import Action, Destination, Filtered, PerformInput, Preset
from .payload import PayloadValidationError


@dataclass(frozen=True)
class Subscription:
    """What the user configured: when (`subscribe`, FQL), which action, with which mapping."""

    name: str
    subscribe: str
    partner_action: str
    mapping: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True

    @classmethod
    def from_preset(cls, preset: Preset) -> Subscription:
        return cls(preset.name, preset.subscribe, preset.partner_action, dict(preset.mapping))


class CompiledSubscription:
    """A subscription with its trigger parsed and its mapping compiled (raises `FQLSyntaxError` or
    `MappingValidationError` for invalid ones, so they are refused when the configuration loads).

    With `skip_origin` (a cloud-mode destination's `Destination.origin`), the trigger also requires that the event's
    `context.integration.name` is not that origin, unless the trigger itself tests `context.integration`: events
    the vendor's own webhooks brought in are not sent back to it unless a subscription asks for them by name."""

    def __init__(self, spec: Subscription, skip_origin: str | None = None) -> None:
        self.spec = spec
        trigger = fql.parse(spec.subscribe)
        if skip_origin is not None and not tests_origin(trigger.ast):
            trigger = fql.Subscription(
                {"type": "group", "operator": "and", "children": [trigger.ast, _not_from(skip_origin)]}, spec.subscribe
            )
        self.trigger = trigger
        self.mapping = mapping.compile(dict(spec.mapping))

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"CompiledSubscription({self.spec.name!r}, {self.spec.subscribe!r} → {self.spec.partner_action})"


ORIGIN_FIELD = "integration"
"""Where an event says which integration made it (`context.integration.name`, as Segment's cloud sources do)."""


def _not_from(origin: str) -> dict[str, Any]:
    """Segment's AST of `context.integration.name != "<origin>"` (true for events without the field)."""
    return {"type": "event-context", "name": f"{ORIGIN_FIELD}.name", "operator": "!=", "value": origin}


def tests_origin(ast: Mapping[str, Any]) -> bool:
    """Whether a trigger's AST reads `context.integration` (anywhere): such a subscription chose its origins."""
    if ast.get("type") == "event-context":
        name = str(ast.get("name", ""))
        return name == ORIGIN_FIELD or name.startswith(ORIGIN_FIELD + ".")
    return any(tests_origin(child) for child in ast.get("children", ()) if isinstance(child, Mapping))


class Status(StrEnum):
    READY = "ready"
    """Matched, valid, and the action produced messages to deliver."""
    FILTERED = "filtered"
    """The action chose not to send (with the reason)."""
    NOT_SUBSCRIBED = "not_subscribed"
    DISABLED = "disabled"
    INVALID = "invalid"
    """The mapping failed or the payload does not fit the action's fields (Segment: 400); permanent."""
    FAILED = "failed"
    """The action itself raised, or the subscription names an unknown action."""


MAPPED = "Mappings resolved"
RAN = (MAPPED, "Payload validated", "Action Executed")
"""Segment's step outputs, in order: a result's `log` holds those its event got through."""


@dataclass(slots=True)
class SubscriptionResult:
    subscription: Subscription
    status: Status
    reason: str = ""
    mapped: dict[str, Any] | None = None
    """The mapping's output, before clean-up and validation."""
    payload: dict[str, Any] | None = None
    """What the action received (cleaned, coerced, validated)."""
    messages: list[Any] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    """Segment's step outputs: `Mappings resolved`, `Payload validated`, `Action Executed`."""

    @property
    def matched(self) -> bool:
        return self.status not in (Status.NOT_SUBSCRIBED, Status.DISABLED)

    @property
    def failed(self) -> bool:
        return self.status in (Status.INVALID, Status.FAILED)


def run_subscription(
    destination: Destination,
    compiled: CompiledSubscription,
    event: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    batch: bool = False,
) -> SubscriptionResult:
    """One subscription's verdict on one event; never raises for a bad event, mapping or action."""
    spec = compiled.spec
    if not spec.enabled:
        return SubscriptionResult(spec, Status.DISABLED, "the subscription is disabled")
    if not compiled.trigger.matches(event):  # never raises (see fql.Subscription)
        return SubscriptionResult(spec, Status.NOT_SUBSCRIBED, f"the event does not match the trigger {spec.subscribe}")
    return run_action(destination, compiled, event, settings, batch=batch)


def run_action(
    destination: Destination,
    compiled: CompiledSubscription,
    event: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    batch: bool = False,
) -> SubscriptionResult:
    """A subscription whose trigger matched `event` (judged by the caller, e.g. all of a destination's triggers in
    one call): mapping, payload validation, the action."""
    spec = compiled.spec
    action: Action | None = destination.actions.get(spec.partner_action)
    if action is None:
        known = ", ".join(destination.actions)
        return SubscriptionResult(spec, Status.FAILED, f"unknown action {spec.partner_action!r} (known: {known})")
    try:
        mapped = compiled.mapping.apply(event)
    except mapping.MappingError as exc:
        return SubscriptionResult(spec, Status.INVALID, f"mapping failed: {exc}")
    try:
        payload = action.validator(mapped, batch=batch)
    except PayloadValidationError as exc:
        return SubscriptionResult(spec, Status.INVALID, str(exc), mapped, log=[MAPPED])
    try:
        output = action.perform(PerformInput(payload, settings, event, spec.mapping))
    except Exception as exc:
        return SubscriptionResult(spec, Status.FAILED, f"{action.title} failed: {exc}", mapped, payload, log=[*RAN[:2]])
    if isinstance(output, Filtered):
        return SubscriptionResult(spec, Status.FILTERED, output.reason, mapped, payload, log=[*RAN])
    return SubscriptionResult(spec, Status.READY, "", mapped, payload, list(output), [*RAN])


def run_event(
    destination: Destination,
    subscriptions: Sequence[CompiledSubscription],
    event: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> list[SubscriptionResult]:
    """Every subscription's result for `event`, in subscription order (one failure never hides the others)."""
    if not isinstance(event, Mapping):
        raise TypeError(f"an event must be a JSON object, not {type(event).__name__}")
    return [run_subscription(destination, compiled, event, settings) for compiled in subscriptions]
