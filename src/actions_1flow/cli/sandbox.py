"""`actions-1flow sandbox`: the local 1Flow (HTTP API, fake web SDK, call log, faults, survey webhooks), and
`actions-1flow sandbox answer`, which tells a running sandbox that a user answered a survey."""

from __future__ import annotations

import click
import httpx
import orjson

from ..sandbox import SandboxKey, SurveyEmitter, serve
from ..times import parse_duration
from .common import fail

DEFAULT_PORT = 8787


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter("must be positive")
    return seconds


@click.group("sandbox", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="KEY[:us,eu]",
    help="A Project API Key the sandbox accepts and the regions its plan includes (default: us). Repeatable.",
)
@click.option("--rate", type=float, default=None, help="Answer 429 with Retry-After above this many API requests/s.")
@click.option(
    "--webhook-url",
    default=None,
    metavar="URL",
    help="Where survey answers go, as 1Flow's project webhook (e.g. http://127.0.0.1:8080/v1/webhook?writeKey=…).",
)
@click.option(
    "--webhook-interval",
    default="60m",
    show_default=True,
    callback=_duration,
    metavar="DURATION",
    help="Time between two tries of an unanswered webhook (1Flow: 60m; give it 1s for tests). Tries stop after 3 days.",
)
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["warning", "info", "debug"]))
@click.pass_context
def sandbox_command(
    ctx: click.Context,
    host: str,
    port: int,
    keys: tuple[str, ...],
    rate: float | None,
    webhook_url: str | None,
    webhook_interval: float,
    log_level: str,
) -> None:
    """Run the 1Flow sandbox: 1Flow's HTTP API rules, the fake SDK at /js/1flow.js, survey webhooks, and
    /_sandbox/* controls."""
    if ctx.invoked_subcommand is not None:
        return
    if rate is not None and rate <= 0:
        raise click.BadParameter("must be positive", param_hint="--rate")
    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http:// or https:// URL", param_hint="--webhook-url")
    surveys = SurveyEmitter(webhook_url, interval=webhook_interval)
    serve(host, port, [SandboxKey.parse(k) for k in keys], rate=rate, log_level=log_level, surveys=surveys)


@sandbox_command.command("answer")
@click.option(
    "--sandbox",
    "sandbox_url",
    default=f"http://127.0.0.1:{DEFAULT_PORT}",
    show_default=True,
    help="The running sandbox.",
)
@click.option("--user", "user_id", default=None, help="The user who answered (none: an anonymous response).")
@click.option("--score", type=click.IntRange(0, 10), default=None, help="The NPS answer (the example's: 10).")
@click.option("--comment", default=None, help="The text answer (the example's: best user experience).")
@click.option("--alert-id", default=None, help="The response's id (a new one when not given; the same id is a retry).")
@click.option("--url", default=None, help="Send to this URL instead of the sandbox's --webhook-url.")
def answer_command(
    sandbox_url: str,
    user_id: str | None,
    score: int | None,
    comment: str | None,
    alert_id: str | None,
    url: str | None,
) -> None:
    """Answer a survey in the running sandbox: 1Flow's submitted_survey webhook goes out (retried as 1Flow does)."""
    request = {"user_id": user_id, "alert_id": alert_id, "url": url, "score": score, "comment": comment}
    body = {k: v for k, v in request.items() if v is not None}
    try:
        response = httpx.post(sandbox_url.rstrip("/") + "/_sandbox/surveys", json=body, timeout=10)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the sandbox at {sandbox_url}: {exc} (is `actions-1flow sandbox` running there?)")
    if response.status_code != 202:
        fail(f"the sandbox refused: {response.text}")
    click.echo(orjson.dumps(response.json()).decode())


COMMANDS: list[click.Command] = [sandbox_command]
