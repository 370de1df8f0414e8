"""What every command shares: exit statuses, refusing with a message, and loading the configuration."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from ..config import Config, ConfigError, load_config

EXIT_FAILED = 1
"""Something was tried and failed (a delivery, a test event)."""
EXIT_USAGE = 2
"""The input cannot be used: a bad configuration, trigger, mapping, event file or option (click uses 2 too)."""


def fail(message: str) -> NoReturn:
    """Print `message` on stderr and exit with EXIT_USAGE."""
    click.echo(message, err=True)
    sys.exit(EXIT_USAGE)


def load_config_or_exit(path: str, *, secrets_optional: bool = False) -> Config:
    """The configuration at `path`, or every problem in it printed (file, line, key path, reason) and exit 2.
    `secrets_optional` is for commands that only read the store (see `config.parse_config`)."""
    try:
        return load_config(path, secrets_optional=secrets_optional)
    except ConfigError as exc:
        fail(f"invalid configuration:\n{exc}")
