"""The `actions-1flow` command. Each concern registers its subcommands from its own module."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="actions-1flow")
def main() -> None:
    """Route Segment-style analytics to 1Flow: triggers, mappings, device and cloud delivery."""


def _register() -> None:
    from . import backfill, demo, destination, engine, init, migrate, operations, privacy, sandbox, server

    for module in (init, engine, destination, sandbox, server, operations, backfill, privacy, migrate, demo):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
