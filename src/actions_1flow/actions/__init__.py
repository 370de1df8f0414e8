"""Destination kit: fields and their schema, settings models, payload validation, action/preset/destination
definitions, running an event through subscriptions, and what every destination's client shares (the `Client`
protocol, outcomes and the retry contract, synchronous delivery, the registry of destinations by type)."""

from .client import Client
from .definition import (
    Action,
    Destination,
    DevicePlugin,
    Filtered,
    MobilePlugin,
    PerformInput,
    PerformResult,
    Preset,
    SourcePreset,
)
from .delivery import DeliveryResult, deliver_event
from .fields import UNSET, Choice, Field, default_values, fields_to_schema
from .outcomes import Exchange, Outcome, OutcomeKind, classify, not_sent, parse_retry_after, worst
from .payload import PayloadValidationError, PayloadValidator, remove_empty_values
from .registry import Registry, UnknownDestination
from .settings import DestinationSettings, setting
from .subscriptions import (
    CompiledSubscription,
    Status,
    Subscription,
    SubscriptionResult,
    run_action,
    run_event,
    run_subscription,
)

__all__ = [
    "UNSET",
    "Action",
    "Choice",
    "Client",
    "CompiledSubscription",
    "DeliveryResult",
    "Destination",
    "DestinationSettings",
    "DevicePlugin",
    "Exchange",
    "Field",
    "Filtered",
    "MobilePlugin",
    "Outcome",
    "OutcomeKind",
    "PayloadValidationError",
    "PayloadValidator",
    "PerformInput",
    "PerformResult",
    "Preset",
    "Registry",
    "SourcePreset",
    "Status",
    "Subscription",
    "SubscriptionResult",
    "UnknownDestination",
    "classify",
    "default_values",
    "deliver_event",
    "fields_to_schema",
    "not_sent",
    "parse_retry_after",
    "remove_empty_values",
    "run_action",
    "run_event",
    "run_subscription",
    "setting",
    "worst",
]
