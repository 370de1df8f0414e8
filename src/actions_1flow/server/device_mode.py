"""The device-mode routes: settings CDN, analytics-next loader and chunks, each destination's plugin, the vendor
SDKs hosted first-party, and error reports."""

from __future__ import annotations

import logging

from starlette.routing import Route

from ..destinations import REGISTRY
from ..service.state import ServerState
from .assets import Assets
from .device_events import DeviceEvents
from .sdk_proxy import SdkProxy
from .settings_cdn import DEVICE_EVENTS_PATH, SettingsCDN

log = logging.getLogger("actions_1flow.server")

PLUGINS = "/plugins/"
OBFUSCATED_PLUGINS = "/cGx1Z2lucw/"
"""analytics-next's `obfuscate` option first asks for a plugin under base64("plugins") (then the plain URL)."""


def device_mode_routes(state: ServerState, sdk_proxy: SdkProxy | None = None) -> list[Route]:
    """The routes; `sdk_proxy` (whose refresh task the app's lifespan runs) adds the hosted SDKs."""
    config = state.config
    assets = Assets(config.server.analytics_next_dir, destinations=REGISTRY)
    if assets.umd is not None:
        log.info(assets.describe())
    elif any(d.mode == "device" for d in config.destinations):
        log.error(assets.describe())
    else:
        log.warning(assets.describe())
    settings = SettingsCDN(config)
    reports = DeviceEvents(state)
    state.on_reload.append(settings.prepare_reload)
    state.on_reload.append(reports.prepare_reload)
    return [
        Route("/v1/projects/{writeKey}/settings", settings.endpoint, methods=["GET"]),
        Route("/analytics.js/v1/{writeKey}/analytics.min.js", assets.loader, methods=["GET"]),
        Route("/analytics-next/bundles/{name}", assets.chunk, methods=["GET"]),
        *(
            Route(route, assets.plugin_script(path), methods=["GET"])
            for path in assets.plugins
            for route in (path, path.replace(PLUGINS, OBFUSCATED_PLUGINS, 1))
        ),
        *(sdk_proxy.routes() if sdk_proxy is not None else ()),
        Route(DEVICE_EVENTS_PATH, reports.endpoint, methods=["POST"]),
    ]
