"""`GET /v1/projects/{writeKey}/settings`: the document analytics-next loads before anything else (DESIGN §4).

It points the `Segment.io` integration (the cloud copy of every event) at this server, turns analytics-next's
metrics off, and lists one remote plugin per device-mode destination of the source, with the settings of the
plugin contract (docs/web.md): the destination's public settings (its `DevicePlugin.page_settings`; with the
vendor SDK's URL on this server when the server hosts it, see `sdk_proxy`), the triggers
already parsed to Segment's AST and the mappings already validated by the Python engine, so the page never parses
FQL or validates a mapping.

Rules from analytics-next's remote loader (spec §4.2): `name` and `creationName` are the destination's name, so
`integrations: {"1Flow Web (Actions)": false}` opts an event out; `libraryName` is the global the plugin defines.

`integrations` also lists the destination, as Segment's CDN lists every Actions destination: the plugin's settings
without `subscriptions`, plus `versionSettings.componentTypes: []`. Tools that read `integrations` (consent tools
prune `remotePlugins` by these keys) can then see and gate it. analytics-next's classic loader installs only
entries that say `type: "browser"` or list `"browser"` in `componentTypes`, so it leaves this one alone; and the
remote loader merges the entry (with any `analytics.load` option of that name, e.g. a page's CSP `nonce`) over the
plugin's settings, which the identical values make harmless.

Consent (docs/privacy.md), published as Segment's CDN does for `@segment/analytics-consent-tools`' `createWrapper`:
- `integrations[<creationName>].consentSettings.categories`: the categories the destination needs. The wrapper reads
  it by the `integrations` key (opt-in: it drops the `remotePlugins` whose `creationName` has a category the visitor
  has not granted, so the plugin is never fetched; opt-out: its destination middleware drops each event whose stamp
  lacks one). Several destinations of one name share the entry, so it lists the union: none loads without all.
- top-level `consentSettings`: `allCategories` (every category of the source's destinations, both modes) and
  `hasUnmappedDestinations` (some destination of the source has no consent), which the wrapper uses to disable
  analytics.js altogether when no granted category matters to any destination, and to prune stamps.
- each plugin's own settings carry `consent` (`{categories, missing}` or null) and `privacy.drop`: the plugin checks
  every event's stamp itself, injects the vendor SDK only once an event grants consent, and drops the paths before
  its triggers and mappings, so a page without the wrapper (or with a permissive one) gets the same verdict.
Nothing is published when no destination of the source has consent configured.

Mobile apps load the same document (analytics-swift and analytics-kotlin ask `https://<cdnHost>/projects/<wk>/
settings`, and take `integrations["Segment.io"].apiHost` from it): a destination whose `DevicePlugin.mobile` names
the vendor's plugin for Segment's mobile libraries gets `integrations[<its key>]` = what that plugin reads (for 1Flow,
`"1Flow Mobile Plugin": {"apiKey": …}`), plus `consentSettings.categories` when the destination has consent (Segment's
mobile consent plugins read it there). analytics-next leaves such an entry alone: it has no `type: "browser"`, no
`componentTypes` and no `bundlingStatus`, and names no remote plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..config import Config, DestinationConfig, SourceConfig
from .assets import Asset, asset_response
from .published_url import PublishedBase
from .responses import error_response

DEVICE_EVENTS_PATH = "/v1/device-events"
SETTINGS_CACHE = "public, max-age=60"
"""Short, as Segment's CDN: a configuration change reaches pages within a minute."""
MAX_CACHED_ORIGINS = 64
"""Documents kept per source when `server.public_url` is unset (one per origin the server was reached by)."""


PER_PLUGIN = ("subscriptions", "consent", "privacy")
"""Plugin settings never merged into the shared `integrations` entry."""


def subscription_entries(destination: DestinationConfig) -> list[dict[str, Any]]:
    """The destination's enabled subscriptions as the plugin takes them (parsed trigger, validated mapping)."""
    entries = []
    for index, compiled in enumerate(destination.compiled):
        spec = compiled.spec
        if not spec.enabled:
            continue
        entries.append(
            {
                "id": f"{destination.name}:{index}",
                "name": spec.name,
                "enabled": True,
                "partnerAction": spec.partner_action,
                "subscribe": spec.subscribe,
                "ast": compiled.trigger.ast,
                "mapping": dict(spec.mapping),
            }
        )
    return entries


def remote_plugin(destination: DestinationConfig, source: SourceConfig, base_url: str) -> dict[str, Any]:
    """One `remotePlugins` entry: where the plugin is and the settings its factory receives."""
    definition = destination.definition
    device = definition.device
    assert device is not None, "the configuration allows device mode only for destinations with a browser plugin"
    hosted = definition.hosted_sdk(destination.settings)  # first-party SDK hosting: the copy on this origin
    return {
        "name": definition.name,
        "creationName": definition.name,
        "libraryName": device.library_name,
        "url": base_url + definition.plugin_path,
        "settings": {
            **device.page_settings(destination.settings, base_url + hosted[0] if hosted else None),
            "deviceEventsUrl": base_url + DEVICE_EVENTS_PATH,
            "writeKey": source.write_key,
            "consent": destination.consent.model_dump() if destination.consent else None,
            "privacy": {"drop": list(destination.privacy.drop)},
            "subscriptions": subscription_entries(destination),
        },
    }


def consent_categories(destinations: list[DestinationConfig]) -> list[str]:
    """The consent categories of `destinations`, each once, in order of appearance."""
    return list(dict.fromkeys(c for d in destinations if d.consent for c in d.consent.categories))


def integration_entry(plugins: list[dict[str, Any]]) -> dict[str, Any]:
    """The destination under `integrations`, shaped as Segment's CDN lists an Actions destination (see above).

    All of a source's plugins of one destination type share the name, hence one entry per name, which analytics-next
    merges over each of them: it keeps only the settings they agree on (never `subscriptions`, `consent` or
    `privacy`, each plugin's own), so no plugin gets another's values. With consent, `consentSettings.categories`
    (the union of the plugins' categories) is what Segment's consent wrapper reads.
    """
    first, *others = (p["settings"] for p in plugins)
    shared = {k: v for k, v in first.items() if k not in PER_PLUGIN and all(o.get(k) == v for o in others)}
    entry = {**shared, "versionSettings": {"componentTypes": []}}
    consents = [p["settings"]["consent"] for p in plugins if p["settings"].get("consent")]
    if categories := list(dict.fromkeys(c for consent in consents for c in consent["categories"])):
        entry["consentSettings"] = {"categories": categories}
    return entry


def mobile_entries(device: list[DestinationConfig]) -> dict[str, dict[str, Any]]:
    """`integrations` entries for the vendors' mobile plugins of these device-mode destinations: one per plugin key
    (destinations sharing a key share the page's vendor SDK and settings, which the configuration checks), with the
    union of their consent categories."""
    entries: dict[str, dict[str, Any]] = {}
    for destination in device:
        plugin = destination.definition.device
        mobile = plugin.mobile if plugin is not None else None
        if mobile is None:
            continue
        entry = entries.setdefault(mobile.key, mobile.settings(destination.settings))
        if destination.consent:
            known = entry.setdefault("consentSettings", {"categories": []})["categories"]
            known.extend(c for c in destination.consent.categories if c not in known)
    return entries


def settings_document(config: Config, source: SourceConfig, base_url: str) -> dict[str, Any]:
    """analytics-next's CDN settings for `source`, served from `base_url` (`http://host:port`, no trailing slash)."""
    url = urlsplit(base_url)
    device = [d for d in config.destinations if d.mode == "device" and source.name in config.sources_of(d)]
    plugins = [remote_plugin(d, source, base_url) for d in device]
    integrations: dict[str, Any] = {
        "Segment.io": {
            "apiKey": source.write_key,
            "apiHost": f"{url.netloc}{url.path}/v1",
            "protocol": url.scheme,
        }
    }
    for name in dict.fromkeys(p["name"] for p in plugins):
        integrations[name] = integration_entry([p for p in plugins if p["name"] == name])
    integrations.update(mobile_entries(device))
    consent: dict[str, Any] = {}
    every = [d for d in config.destinations if source.name in config.sources_of(d)]  # both modes
    if all_categories := consent_categories(every):
        consent["consentSettings"] = {
            "allCategories": all_categories,
            "hasUnmappedDestinations": any(d.consent is None for d in every),
        }
    return {
        "integrations": integrations,
        "plan": {},
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": plugins,
        **consent,
    }


class SettingsCDN:
    """The settings endpoint; documents are built once per source (and origin, when no public URL is set: then
    only for hosts the server is known by, see `published_url`)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.published = PublishedBase(config.server.public_url, config.server.host, config.server.allowed_hosts)
        self._sources = {k: s for s in config.sources for k in s.accepted_write_keys()}  # old keys: current settings
        self._cache: dict[tuple[str, str], Asset] = {}

    def prepare_reload(self, config: Config) -> Callable[[], None]:
        """Documents of a new configuration, switched to when the returned function is called."""
        fresh = SettingsCDN(config)
        return lambda: self.__dict__.update(fresh.__dict__)

    def _document(self, source: SourceConfig, base_url: str) -> Asset:
        key = (source.write_key, base_url)
        asset = self._cache.get(key)
        if asset is None:
            if len(self._cache) >= MAX_CACHED_ORIGINS * max(1, len(self._sources)):
                self._cache.clear()
            body = orjson.dumps(settings_document(self.config, source, base_url))
            asset = self._cache[key] = Asset.of(body, "application/json", SETTINGS_CACHE)
        return asset

    async def endpoint(self, request: Request) -> Response:
        """`GET /v1/projects/{writeKey}/settings`."""
        write_key = request.path_params["writeKey"]
        source = self._sources.get(write_key)
        if source is None:
            return error_response(
                404,
                "unknown_write_key",
                "no source of this server has this write key; check the key passed to analytics.load()",
            )
        host = request.headers.get("host")
        base_url = self.published.base_url(request.url.scheme, host)
        if base_url is None:
            return error_response(
                400,
                "host_not_allowed",
                f"this server publishes no URLs for Host {(host or '')[:200]!r}: "
                "set server.public_url, or list the host in server.allowed_hosts",
            )
        response = asset_response(request, self._document(source, base_url))
        if self.published.from_request:  # the document names the host it was asked for: caches must key on it
            response.headers["vary"] = "Accept-Encoding, Host"
        return response
