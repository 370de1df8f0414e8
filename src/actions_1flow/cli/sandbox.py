"""`actions-1flow sandbox`: the local 1Flow (HTTP API, fake web SDK, call log, faults)."""

from __future__ import annotations

import click

from ..sandbox import SandboxKey, serve


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8787, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="KEY[:us,eu]",
    help="A Project API Key the sandbox accepts and the regions its plan includes (default: us). Repeatable.",
)
@click.option("--rate", type=float, default=None, help="Answer 429 with Retry-After above this many API requests/s.")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["warning", "info", "debug"]))
def sandbox_command(host: str, port: int, keys: tuple[str, ...], rate: float | None, log_level: str) -> None:
    """Run the 1Flow sandbox: 1Flow's HTTP API rules, the fake SDK at /js/1flow.js, and /_sandbox/* controls."""
    if rate is not None and rate <= 0:
        raise click.BadParameter("must be positive", param_hint="--rate")
    serve(host, port, [SandboxKey.parse(k) for k in keys], rate=rate, log_level=log_level)


COMMANDS: list[click.Command] = [sandbox_command]
