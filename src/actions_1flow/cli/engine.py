"""Engine commands: `fql` (parse and evaluate a trigger) and, later, `map`."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []


@click.command("map")
@click.option("--mapping", "mapping_file", type=click.File("r", encoding="utf-8"), required=True,
              help="Mapping JSON (Segment's mapping-kit directives).")
@click.option("--event", "event_file", type=click.File("r", encoding="utf-8"), required=True,
              help="Event JSON; '-' reads standard input.")
def map_command(mapping_file, event_file) -> None:
    """Print the payload MAPPING makes of EVENT, exactly as Segment's transform would (exit 2 on failure)."""
    from ..mapping import MISSING, MappingError, MappingValidationError, transform
    from ..mapping.jsvalues import json_parse, json_stringify

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
        for message in error.messages:
            click.echo(f"  {message}", err=True)
        raise SystemExit(2) from None
    except MappingError as error:
        click.echo(f"mapping failed: {error}", err=True)
        raise SystemExit(2) from None
    if payload is not MISSING:
        click.echo(json_stringify(payload, indent="  "))


COMMANDS.append(map_command)
