"""Engine commands: `fql` (parse and evaluate a trigger) and, later, `map`."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
