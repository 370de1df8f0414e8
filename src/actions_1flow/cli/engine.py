"""Engine commands: `fql` (parse and evaluate a trigger) and, later, `map`."""

from __future__ import annotations

import json
import sys
from typing import Any, BinaryIO

import click

from .. import fql

EXIT_INVALID_INPUT = 2
"""Exit status for a trigger or event that cannot be read (click uses 2 for usage errors too)."""


def read_json(source: BinaryIO, what: str) -> Any:
    """A JSON document from a file or stdin; exit 2 with the parser's reason when it is not JSON."""
    try:
        return json.loads(source.read())
    except (ValueError, UnicodeDecodeError) as error:
        click.echo(f"error: {what} is not valid JSON: {error}", err=True)
        sys.exit(EXIT_INVALID_INPUT)


@click.command("fql")
@click.argument("expr")
@click.option("--event", "event_file", type=click.File("rb"), help="JSON event to evaluate the trigger on ('-' = stdin).")
def fql_command(expr: str, event_file: BinaryIO | None) -> None:
    """Parse the FQL trigger EXPR: print Segment's AST as JSON and, given --event, whether it matches (true/false).

    A syntax error prints the problem with a caret under its column and exits with status 2.
    """
    try:
        subscription = fql.parse(expr)
    except fql.FQLSyntaxError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INVALID_INPUT)
    event = read_json(event_file, "the event") if event_file is not None else None
    click.echo(json.dumps(subscription.ast, indent=2, ensure_ascii=False))
    if event_file is not None:
        click.echo("true" if subscription.matches(event) else "false")


COMMANDS: list[click.Command] = [fql_command]
