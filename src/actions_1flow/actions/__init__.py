"""Destination kit: fields and their schema, payload validation, action/preset/destination definitions, and
running an event through subscriptions."""

from .definition import Action, Destination, Filtered, PerformInput, PerformResult, Preset
from .fields import UNSET, Choice, Field, default_values, fields_to_schema
from .payload import PayloadValidationError, PayloadValidator, remove_empty_values
from .subscriptions import CompiledSubscription, Status, Subscription, SubscriptionResult, run_event, run_subscription

__all__ = [
    "UNSET",
    "Action",
    "Choice",
    "CompiledSubscription",
    "Destination",
    "Field",
    "Filtered",
    "PayloadValidationError",
    "PayloadValidator",
    "PerformInput",
    "PerformResult",
    "Preset",
    "Status",
    "Subscription",
    "SubscriptionResult",
    "default_values",
    "fields_to_schema",
    "remove_empty_values",
    "run_event",
    "run_subscription",
]
