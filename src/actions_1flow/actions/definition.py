"""Destination definitions: actions (fields + perform), presets and the destination itself, as Segment models them.

An action's `perform` does not send anything: it turns a validated payload into the destination's messages (or a
`Filtered` verdict), and delivery is the HTTP client's job, so the pipeline can batch many events' messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .fields import Field, field_metadata, fields_to_schema, setting_metadata
from .payload import PayloadValidator
from .settings import DestinationSettings

if TYPE_CHECKING:
    from .client import Client


@dataclass(frozen=True)
class Filtered:
    """The action decided not to send this event, and why (reported, not an error)."""

    reason: str


class PerformInput(NamedTuple):
    """What an action's `perform` gets (a named tuple: one is built per event and subscription, and a frozen
    dataclass costs several times as much to build)."""

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
    has_perform_batch: bool = False
    """Segment's action has `performBatch` (many events in one request)."""
    addition: bool = False
    """Ours, not in the vendor's definition: listed under `additions.actionsAdded`, runnable like the others."""

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
            "hasPerformBatch": self.has_perform_batch,
            "syncMode": None,
            "hooks": None,
            "dynamicFields": None,
            "fields": {key: field_metadata(f) for key, f in self.fields.items()},
        }


@dataclass(frozen=True)
class Preset:
    name: str
    partner_action: str
    subscribe: str
    mapping: Mapping[str, Any]
    type: Literal["automatic", "optional"] = "automatic"
    """Segment's `automatic` (run by `subscriptions: presets`), or our `optional` (run only when listed)."""
    addition: bool = False
    """An automatic preset of ours, not in the vendor's definition: run by `subscriptions: presets`, listed under
    `additions.presetsAdded`."""

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
class SourcePreset:
    """A ready-made webhook source for the vendor's own outgoing webhooks (`webhook: {preset: NAME}` on a source):
    the mapping-kit mapping that turns one webhook body into Segment events, and how long a retry of the same body
    can still arrive (the vendor's retry schedule), which the source's dedup window must cover."""

    name: str
    description: str
    mapping: Mapping[str, Any]
    dedup_window: float = 0.0
    """Seconds over which the vendor may send the same body again (0: nothing beyond the ordinary window)."""


@dataclass(frozen=True)
class MobilePlugin:
    """A vendor's plugin for Segment's mobile libraries (analytics-swift, analytics-kotlin, the classic Android
    library): it configures itself from `integrations[key]` of the source's settings document, which the settings
    CDN fills with `settings(destination settings)` for every source a device-mode destination of this type names."""

    key: str
    """The plugin's key in `integrations` (`1Flow Mobile Plugin`)."""
    settings: Callable[[Any], dict[str, Any]]
    """The entry the plugin reads (`{"apiKey": …}`): public, as the app holds it."""


@dataclass(frozen=True)
class DevicePlugin:
    """How a destination runs in the browser: analytics-next loads its build from `/plugins/{slug}.js` as a remote
    plugin whose global factory is `library_name`, with the public settings `page_settings` publishes."""

    library_name: str
    package: str
    """The Python package holding the build (read with importlib.resources)."""
    path: tuple[str, ...]
    """The build inside `package`."""
    page_settings: Callable[[Any, str | None], dict[str, Any]]
    """`page_settings(settings, hosted_sdk_url)`: the destination's settings as the page may see them (never a
    secret the vendor's SDK does not need). `hosted_sdk_url` is the URL on this server's own origin the page must
    load the vendor SDK from when the server hosts it (see `hosted_sdk`), else None (the vendor's URL)."""
    page_key: Callable[[Any], Hashable] | None = None
    """What every device-mode destination of this type on one page must share (one vendor SDK per page)."""
    page_conflict: str = ""
    """What differs when two of them do not (`another projectApiKey or sdkUrl`)."""
    hosted_sdk: Callable[[Any], str | None] | None = None
    """First-party hosting: the vendor SDK URL the server fetches, caches and serves from its own origin when the
    settings ask for it (ad blockers drop third-party vendor scripts, not the site's own), else None. Unset: the
    destination's SDK is never hosted."""
    sdk_file: str = "sdk.js"
    """The file name of the hosted copy (the last part of its path, as the vendor names its script)."""
    mobile: MobilePlugin | None = None
    """The vendor's mobile plugin the same device-mode destination configures in apps (None: web only)."""


@dataclass(frozen=True)
class Destination:
    name: str
    slug: str
    mode: Literal["cloud", "device"]
    description: str
    """Ours, shown by `definition` and the console."""
    settings_model: type[DestinationSettings]
    """The one declaration of the settings: validates the configuration, describes the definition."""
    actions: Mapping[str, Action]
    presets: tuple[Preset, ...] = ()
    """Segment's presets (what `subscriptions: presets` runs)."""
    optional_presets: tuple[Preset, ...] = ()
    """Ours, never run by default: ready-made subscriptions a configuration lists to use (in `additions`)."""
    additions: Mapping[str, Any] = field(default_factory=dict)
    """Our own facts about the destination, shown next to Segment's metadata shape."""
    type: str = ""
    """The configuration's `type` for it (`1flow`)."""
    vendor: str = ""
    """Whom it sends to, in messages (`1Flow`)."""
    create_client: Callable[..., Client] | None = None
    """`create_client(settings, **options)`: the HTTP client of cloud mode (None: no cloud mode)."""
    device: DevicePlugin | None = None
    """The browser plugin of device mode (None: no device mode)."""
    source_presets: tuple[SourcePreset, ...] = ()
    """Webhook sources for the vendor's own webhooks (see `SourcePreset`)."""
    origin: str | None = None
    """The `context.integration.name` the events of `source_presets` carry. Cloud-mode subscriptions of this
    destination skip such events (no loop back to the vendor) unless their trigger tests `context.integration`."""
    described_in_metadata: bool = True
    """Whether Segment's `metadata.json` has a top-level `description` (its cloud destinations' have none)."""

    @property
    def settings(self) -> dict[str, Field]:
        return self.settings_model.fields()

    @property
    def secret_settings(self) -> list[str]:
        return self.settings_model.secret_keys()

    @property
    def modes(self) -> list[str]:
        return [m for m, ok in (("device", self.device is not None), ("cloud", self.create_client is not None)) if ok]

    @property
    def plugin_path(self) -> str:
        return f"/plugins/{self.slug}.js"

    def hosted_sdk(self, settings: Any) -> tuple[str, str] | None:
        """(path on this server, upstream URL) of the vendor SDK the server hosts for these device-mode settings,
        or None when it does not host it.

        The path is `/sdk/{slug}/{id}/{sdk_file}`, `id` a short hash of the upstream URL: destinations hosting one
        upstream share one copy (and one URL, so a page given either loads one SDK), different upstreams (a region,
        a sandbox) get different paths, and a path stays the same as long as its upstream does."""
        device = self.device
        upstream = device.hosted_sdk(settings) if device is not None and device.hosted_sdk is not None else None
        if device is None or upstream is None:
            return None
        ident = hashlib.sha256(upstream.encode("utf-8")).hexdigest()[:12]
        return f"/sdk/{self.slug}/{ident}/{device.sdk_file}", upstream

    def metadata(self) -> dict[str, Any]:
        """Segment's `metadata.json` shape for this destination (a top-level `description` only where Segment's has
        one), plus our `additions`: the destination names its own settings there, the kit our actions and presets."""
        ours = {slug: action.metadata() for slug, action in self.actions.items() if action.addition}
        added_presets = [p.metadata() for p in self.presets if p.addition]
        return {
            "slug": self.slug,
            "name": self.name,
            "mode": self.mode,
            **({"description": self.description} if self.described_in_metadata else {}),
            "authentication": {
                "scheme": "custom",
                "fields": {key: setting_metadata(f) for key, f in self.settings.items()},
            },
            "audienceConfig": None,
            "actions": {slug: action.metadata() for slug, action in self.actions.items() if not action.addition},
            "presets": [preset.metadata() for preset in self.presets if not preset.addition],
            "additions": {
                **self.additions,
                **({"actionsAdded": ours} if ours else {}),
                **({"presetsAdded": added_presets} if added_presets else {}),
                **({"optionalPresets": [p.metadata() for p in self.optional_presets]} if self.optional_presets else {}),
            },
        }
