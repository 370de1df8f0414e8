"""Warnings about how a configuration uses its keys — legal, but worth an operator's second look.

A device-mode destination may publish a secret setting to every browser (1Flow: the Project API Key, which its SDK
reads from its script tag). A cloud-mode destination sending with that same key means the key the server's
deliveries rely on is one anyone can copy from a page, and so can send server-side events into the project as if
they were ours. That is allowed (one 1Flow project may be all a plan has), so it is a warning, not a configuration
error.
"""

from __future__ import annotations

import logging

from .config import Config

log = logging.getLogger(__name__)


def key_warnings(config: Config) -> list[str]:
    """One sentence per cloud-mode destination with a secret setting that a device-mode destination of its type
    publishes to browsers (1Flow: the projectApiKey in the plugin's settings)."""
    published: dict[tuple[str, str, str], str] = {}
    for dest in config.destinations:
        device = dest.definition.device
        if dest.mode != "device" or device is None:
            continue
        shown = {v for v in device.page_settings(dest.settings, None).values() if isinstance(v, str)}
        for key in dest.definition.secret_settings:
            value = getattr(dest.settings, key).get_secret_value()
            if value in shown:
                published.setdefault((dest.type, key, value), dest.name)
    warnings = []
    for dest in config.cloud_destinations():
        vendor = dest.definition.vendor
        for key in dest.definition.secret_settings:
            device_name = published.get((dest.type, key, getattr(dest.settings, key).get_secret_value()))
            if device_name is not None:
                warnings.append(
                    f"cloud-mode destination {dest.name!r} uses the same {key} that device-mode destination "
                    f"{device_name!r} publishes to every browser: anyone can copy it from a page and send events to "
                    f"{vendor} as this server does; "
                    f"give server-side delivery a key of its own if your {vendor} plan allows"
                )
    return warnings


def log_key_warnings(config: Config) -> None:
    """Log `key_warnings` (at start-up of `serve` and `worker`)."""
    for warning in key_warnings(config):
        log.warning("%s", warning)
