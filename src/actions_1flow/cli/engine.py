"""Engine commands: `fql` (parse and evaluate a trigger) and `map` (apply a mapping to an event)."""

from __future__ import annotations

import json
import sys
from typing import Any, BinaryIO

import click

from .. import fql
from .common import EXIT_USAGE


def read_json(source: BinaryIO, what: str) -> Any:
    """A JSON document from a file or stdin; exit 2 with the parser's reason when it is not JSON."""
    try:
        return json.loads(source.read())
    except (ValueError, UnicodeDecodeError) as error:
        click.echo(f"error: {what} is not valid JSON: {error}", err=True)
        sys.exit(EXIT_USAGE)


@click.command("fql")
@click.argument("expr")
@click.option(
    "--event", "event_file", type=click.File("rb"), help="JSON event to evaluate the trigger on ('-' = stdin)."
)
def fql_command(expr: str, event_file: BinaryIO | None) -> None:
    """Parse the FQL trigger EXPR: print Segment's AST as JSON and, given --event, whether it matches (true/false).

    A syntax error prints the problem with a caret under its column and exits with status 2.
    """
    try:
        subscription = fql.parse(expr)
    except fql.FQLSyntaxError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    event = read_json(event_file, "the event") if event_file is not None else None
    click.echo(json.dumps(subscription.ast, indent=2, ensure_ascii=False))
    if event_file is not None:
        click.echo("true" if subscription.matches(event) else "false")


@click.command("map")
@click.option(
    "--mapping",
    "mapping_file",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="Mapping JSON (Segment's mapping-kit directives).",
)
@click.option(
    "--event",
    "event_file",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="Event JSON; '-' reads standard input.",
)
def map_command(mapping_file, event_file) -> None:
    """Print the payload MAPPING makes of EVENT, exactly as Segment's transform would (exit 2 on failure)."""
    from ..jsvalues import json_parse, json_stringify
    from ..mapping import MISSING, MappingError, MappingValidationError, transform

    documents = []
    for name, handle in (("mapping", mapping_file), ("event", event_file)):
        try:
            documents.append(json_parse(handle.read()))
        except (ValueError, RecursionError) as error:
            raise click.UsageError(f"{name} file {handle.name} is not JSON: {error}") from None
    try:
        payload = transform(*documents)
    except MappingValidationError as error:
        click.echo("invalid mapping:", err=True)
        for message in error.explained():
            click.echo(f"  {message}", err=True)
        raise SystemExit(2) from None
    except MappingError as error:
        click.echo(f"mapping failed: {error}", err=True)
        raise SystemExit(2) from None
    if payload is not MISSING:
        click.echo(json_stringify(payload, indent="  "))


COMMANDS: list[click.Command] = [fql_command, map_command]
