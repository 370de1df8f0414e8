"""`actions-1flow demo`: the main job that `make run` starts (for now: a trigger parsed and evaluated)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import fql

DEMO_TRIGGER = 'type = "track" and event = "Order Completed" and properties.total > 100'
EXAMPLE_EVENT = Path(__file__).resolve().parents[3] / "examples" / "order-completed.json"


@click.command("demo")
@click.option("--trigger", default=DEMO_TRIGGER, show_default=True, help="FQL trigger to parse.")
@click.option("--event", "event_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=EXAMPLE_EVENT, show_default=True, help="JSON event to evaluate it on.")
def demo_command(trigger: str, event_path: Path) -> None:
    """Parse a trigger, show Segment's AST for it and evaluate it against an example event."""
    try:
        subscription = fql.parse(trigger)
    except fql.FQLSyntaxError as error:
        raise click.ClickException(str(error)) from None
    event = json.loads(event_path.read_text(encoding="utf-8"))
    click.echo(f"trigger:   {trigger}")
    click.echo(f"canonical: {fql.to_fql(subscription.ast)}")
    click.echo("AST:")
    click.echo(json.dumps(subscription.ast, indent=2, ensure_ascii=False))
    click.echo(f"event:     {event_path}")
    click.echo(f"matches:   {'true' if subscription.matches(event) else 'false'}")

COMMANDS: list[click.Command] = [demo_command]
