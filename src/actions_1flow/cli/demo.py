"""`actions-1flow demo`: the main job that `make run` starts."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
