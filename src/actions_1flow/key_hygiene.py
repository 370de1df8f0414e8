"""Warnings about how a configuration uses its keys — legal, but worth an operator's second look.

A device-mode destination publishes its Project API Key to every browser (1Flow's SDK reads it from its script
tag). A cloud-mode destination sending with that same key means the key the server's deliveries rely on is one
anyone can copy from a page, and so can send server-side events into the project as if they were ours. That
is allowed (one 1Flow project may be all a plan has), so it is a warning, not a configuration error.
"""

from __future__ import annotations

import logging

from .config import Config

log = logging.getLogger(__name__)


def key_warnings(config: Config) -> list[str]:
    """One sentence per cloud-mode destination whose projectApiKey a device-mode destination also publishes."""
    published = {}
    for dest in config.destinations:
        if dest.mode == "device":
            published.setdefault(dest.settings.projectApiKey.get_secret_value(), dest.name)
    warnings = []
    for dest in config.cloud_destinations():
        device = published.get(dest.settings.projectApiKey.get_secret_value())
        if device is not None:
            warnings.append(
                f"cloud-mode destination {dest.name!r} uses the same projectApiKey that device-mode destination "
                f"{device!r} publishes to every browser: anyone can copy it from a page and send events to 1Flow "
                "as this server does; give server-side delivery a key of its own if your 1Flow plan allows"
            )
    return warnings


def log_key_warnings(config: Config) -> None:
    """Log `key_warnings` (at start-up of `serve` and `worker`)."""
    for warning in key_warnings(config):
        log.warning("%s", warning)
