"""The configuration as the rest of the product uses it: built by `load` from the checked sections, never changed
afterwards. Each destination carries its settings validated by its own model and its subscriptions compiled."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from ..actions import Client, CompiledSubscription, Destination, Subscription
from ..destinations import REGISTRY
from ..secrets import redact_url
from .model import (
    POSTGRES_SCHEMES,
    SQLITE_PREFIX,
    AdminConfig,
    ConfigSpec,
    ConsentConfig,
    DestinationSpec,
    MetricsConfig,
    PipelineConfig,
    PrivacyConfig,
    ServerConfig,
    SourceConfig,
    SubscriptionConfig,
)


@dataclass(frozen=True, eq=False)
class DestinationConfig:
    """One configured destination: its entry (`spec`, without the raw settings), its settings as its own model
    validated them, and its subscriptions with triggers parsed and mappings compiled."""

    spec: DestinationSpec
    settings: Any
    """The destination's `settings_model` instance (its own methods too, e.g. `api_base_url()`)."""
    compiled: list[CompiledSubscription]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def mode(self) -> Literal["device", "cloud"]:
        return self.spec.mode

    @property
    def sources(self) -> list[str]:
        return self.spec.sources

    @property
    def subscriptions(self) -> Literal["presets"] | list[SubscriptionConfig]:
        return self.spec.subscriptions

    @property
    def consent(self) -> ConsentConfig | None:
        return self.spec.consent

    @property
    def privacy(self) -> PrivacyConfig:
        return self.spec.privacy

    @property
    def definition(self) -> Destination:
        return REGISTRY.get(self.spec.type)

    def setting_values(self) -> dict[str, Any]:
        """The settings as the destination's actions receive them."""
        return self.settings.values()

    def create_client(self, **options: Any) -> Client:
        """The destination's cloud-mode client (options go to its factory, e.g. `transport`)."""
        factory = self.definition.create_client
        if factory is None:
            raise ValueError(f"{self.definition.vendor} has no cloud mode")
        return factory(self.settings, **options)

    def subscription_specs(self) -> list[Subscription]:
        return self.spec.subscription_specs(self.definition)

    def fingerprint(self) -> str:
        """What the destination sends, in 16 hex digits: its type, settings (secrets as masked), subscriptions,
        consent and dropped fields. `replay` marks what it re-sends with it, so an identical replay under the same
        configuration re-sends nothing twice."""
        shape = {
            "type": self.type,
            "settings": self.settings.masked(),
            "subscriptions": [dataclasses.asdict(s) for s in self.subscription_specs()],
            "consent": None if self.consent is None else self.consent.model_dump(mode="json"),
            "privacy": self.privacy.model_dump(mode="json"),
        }
        text = orjson.dumps(shape, option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.sha256(text).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Config:
    """A loaded configuration: the file's checked sections (`spec`), its destinations resolved, and the file it
    came from (None for text parsed directly)."""

    spec: ConfigSpec
    destinations: list[DestinationConfig]
    file: Path | None = None

    @property
    def server(self) -> ServerConfig:
        return self.spec.server

    @property
    def admin(self) -> AdminConfig | None:
        return self.spec.admin

    @property
    def metrics(self) -> MetricsConfig:
        return self.spec.metrics

    @property
    def pipeline(self) -> PipelineConfig:
        return self.spec.pipeline

    @property
    def sources(self) -> list[SourceConfig]:
        return self.spec.sources

    @property
    def storage(self) -> str:
        return self.spec.storage

    @property
    def storage_kind(self) -> Literal["sqlite", "postgresql"]:
        return "postgresql" if self.storage.startswith(POSTGRES_SCHEMES) else "sqlite"

    def storage_path(self) -> Path:
        """The SQLite file, absolute (`load` resolved a relative one against the configuration file's directory)."""
        if self.storage_kind != "sqlite":
            raise ValueError(f"storage is not an SQLite file: {redact_url(self.storage)}")
        return Path(self.storage[len(SQLITE_PREFIX) :])

    def storage_description(self) -> str:
        """Where events are stored, for messages: the file, or the URL without its password."""
        return str(self.storage_path()) if self.storage_kind == "sqlite" else redact_url(self.storage)

    def sources_of(self, destination: DestinationConfig | DestinationSpec) -> list[str]:
        """The source names a destination receives from (all sources when it names none)."""
        return destination.sources or [s.name for s in self.sources]

    def cloud_destinations(self) -> list[DestinationConfig]:
        return [d for d in self.destinations if d.mode == "cloud"]

    def fingerprints(self, destination: str | None = None) -> dict[str, str]:
        """The cloud-mode destinations (all, or the one named) with their configuration's fingerprint, as a
        replay marks what it re-sends."""
        return {d.name: d.fingerprint() for d in self.cloud_destinations() if destination in (None, d.name)}
