"""Destination definitions: actions (fields + perform), presets and the destination itself, as Segment models them.

An action's `perform` does not send anything: it turns a validated payload into the destination's messages (or a
`Filtered` verdict), and delivery is the HTTP client's job, so the pipeline can batch many events' messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from .fields import Field, field_metadata, fields_to_schema, setting_metadata
from .payload import PayloadValidator


@dataclass(frozen=True)
class Filtered:
    """The action decided not to send this event, and why (reported, not an error)."""

    reason: str


@dataclass(frozen=True)
class PerformInput:
    payload: dict[str, Any]
    """The validated payload."""
    settings: Mapping[str, Any]
    """Destination settings (secrets stay `SecretStr`)."""
    event: Mapping[str, Any]
    """The raw event, as the mapping saw it."""
    mapping: Mapping[str, Any]


PerformResult = list[Any] | Filtered
"""Messages for the destination's client (their type is the destination's business), or a Filtered verdict."""


@dataclass(frozen=True)
class Action:
    title: str
    description: str
    fields: Mapping[str, Field]
    perform: Callable[[PerformInput], PerformResult]
    default_subscription: str | None = None
    platform: Literal["web", "cloud"] = "web"
    hidden: bool = False

    @cached_property
    def schema(self) -> dict[str, Any]:
        return fields_to_schema(self.fields)

    @cached_property
    def validator(self) -> PayloadValidator:
        return PayloadValidator(self.schema)

    def metadata(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "platform": self.platform,
            "defaultSubscription": self.default_subscription,
            "hidden": self.hidden,
            "hasPerformBatch": False,
            "syncMode": None,
            "hooks": None,
            "fields": {key: field_metadata(f) for key, f in self.fields.items()},
        }


@dataclass(frozen=True)
class Preset:
    name: str
    partner_action: str
    subscribe: str
    mapping: Mapping[str, Any]
    type: Literal["automatic"] = "automatic"

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "partnerAction": self.partner_action,
            "subscribe": self.subscribe,
            "mapping": dict(self.mapping),
            "eventSlug": None,
        }


@dataclass(frozen=True)
class Destination:
    name: str
    slug: str
    mode: Literal["cloud", "device"]
    description: str
    settings: Mapping[str, Field]
    actions: Mapping[str, Action]
    presets: tuple[Preset, ...] = ()
    additions: Mapping[str, Any] = field(default_factory=dict)
    """Our own facts about the destination, shown next to Segment's metadata shape."""

    @property
    def secret_settings(self) -> list[str]:
        return [key for key, f in self.settings.items() if f.secret]

    def metadata(self) -> dict[str, Any]:
        """Segment's `metadata.json` shape for this destination, plus our `additions`."""
        return {
            "slug": self.slug,
            "name": self.name,
            "mode": self.mode,
            "description": self.description,
            "authentication": {
                "scheme": "custom",
                "fields": {key: setting_metadata(f) for key, f in self.settings.items()},
            },
            "audienceConfig": None,
            "actions": {slug: action.metadata() for slug, action in self.actions.items()},
            "presets": [preset.metadata() for preset in self.presets],
            "additions": dict(self.additions),
        }
