"""The device-mode routes: settings CDN, analytics-next loader and chunks, the 1Flow plugin, and error reports."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.routing import Route

from .assets import Assets
from .device_events import DeviceEvents
from .settings_cdn import DEVICE_EVENTS_PATH, PLUGIN_PATH, SettingsCDN

if TYPE_CHECKING:
    from .app import ServerState

log = logging.getLogger("actions_1flow.server")

OBFUSCATED_PLUGIN_PATH = "/cGx1Z2lucw/actions-1flow.js"
"""analytics-next's `obfuscate` option first asks for the plugin under base64("plugins") (then the plain URL)."""


def device_mode_routes(state: ServerState) -> list[Route]:
    config = state.config
    assets = Assets(config.server.analytics_next_dir)
    if assets.umd is not None:
        log.info(assets.describe())
    elif any(d.mode == "device" for d in config.destinations):
        log.error(assets.describe())
    else:
        log.warning(assets.describe())
    settings = SettingsCDN(config)
    reports = DeviceEvents(state)
    return [
        Route("/v1/projects/{writeKey}/settings", settings.endpoint, methods=["GET"]),
        Route("/analytics.js/v1/{writeKey}/analytics.min.js", assets.loader, methods=["GET"]),
        Route("/analytics-next/bundles/{name}", assets.chunk, methods=["GET"]),
        Route(PLUGIN_PATH, assets.plugin_script, methods=["GET"]),
        Route(OBFUSCATED_PLUGIN_PATH, assets.plugin_script, methods=["GET"]),
        Route(DEVICE_EVENTS_PATH, reports.endpoint, methods=["POST"]),
    ]
