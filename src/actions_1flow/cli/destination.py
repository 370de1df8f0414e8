"""`actions-1flow definition`, `send` and `test-event`: the destinations from the command line.

`send` and `test-event` deliver synchronously through the config's cloud-mode destinations (the durable pipeline
comes with `serve`), with the kit's delivery (`actions.delivery`). Keys are only ever shown masked.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import click
import orjson

from ..actions import Client, DeliveryResult, Status, deliver_event
from ..actions.client import DEFAULT_TIMEOUT_S
from ..config import Config, DestinationConfig
from ..destinations import REGISTRY
from ..jsvalues import dumps
from ..terminal import escape_controls
from .common import EXIT_FAILED, fail, load_config_or_exit


def _cloud_destinations(config: Config, path: str) -> list[DestinationConfig]:
    destinations = config.cloud_destinations()
    if not destinations:
        fail(
            f"{path}: no destination with mode: cloud; send and test-event deliver server-side through the "
            "destination's HTTP API (device-mode destinations are delivered by the browser plugin)"
        )
    return destinations


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}")


@dataclass
class InputEvent:
    number: int
    event: Any = None
    problem: str | None = None

    def label(self) -> str:
        text = f"event {self.number}"
        if isinstance(self.event, dict):
            kind = self.event.get("type")
            name = self.event.get("event")
            if isinstance(kind, str):
                text += f" ({kind}" + (f" {name!r}" if isinstance(name, str) else "") + ")"
        return text


def parse_events(text: str) -> list[InputEvent]:
    """Events from a JSON object, a JSON array or JSON lines; unreadable lines become problems, not exceptions."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        data = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        events = []
        for number, line in enumerate((line for line in stripped.splitlines() if line.strip()), start=1):
            try:
                events.append(InputEvent(number, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                events.append(InputEvent(number, problem=f"invalid JSON: {exc}"))
    else:
        events = [InputEvent(i, e) for i, e in enumerate(data if isinstance(data, list) else [data], start=1)]
    for item in events:
        if item.problem is None and not isinstance(item.event, dict):
            item.problem = f"an event must be a JSON object, not {type(item.event).__name__}"
    return events


async def _deliver_all(
    items: list[InputEvent],
    destinations: list[DestinationConfig],
    timeout: float,
    endpoints: dict[str, str] | None = None,
) -> AsyncIterator[tuple[InputEvent, list[DeliveryResult]]]:
    """Each event's results, as soon as it is done (one pooled client per destination; each client's endpoint is
    put in `endpoints` by destination name)."""
    async with AsyncExitStack() as stack:
        clients: dict[str, Client] = {}
        for dest in destinations:
            clients[dest.name] = await stack.enter_async_context(dest.create_client(timeout=timeout))
            if endpoints is not None:
                endpoints[dest.name] = clients[dest.name].endpoint
        for item in items:
            results: list[DeliveryResult] = []
            if item.problem is None:
                for dest in destinations:
                    results.extend(await deliver_event(item.event, dest, clients[dest.name]))
            yield item, results


def _result_line(item: InputEvent, delivery: DeliveryResult | None, as_json: bool) -> str:
    if delivery is None:
        if as_json:
            return orjson.dumps({"event": item.number, "status": "invalid", "reason": item.problem}).decode()
        return escape_controls(f"{item.label()}: invalid: {item.problem}")
    if as_json:
        return dumps({"event": item.number, "messageId": item.event.get("messageId"), **delivery.to_dict()}).decode()
    line = f"{item.label()} · {delivery.destination} · {delivery.result.subscription.name} → {delivery.summary()}"
    return escape_controls(line)  # the summary quotes 1Flow's answer


async def _send(items: list[InputEvent], destinations: list[DestinationConfig], timeout: float, as_json: bool) -> bool:
    """Deliver and print as we go; True when anything failed."""
    failed = False
    async for item, results in _deliver_all(items, destinations, timeout):
        if item.problem is not None:
            failed = True
            click.echo(_result_line(item, None, as_json))
        for delivery in results:
            failed = failed or delivery.failed
            click.echo(_result_line(item, delivery, as_json))
    return failed


@click.command("send")
@click.option("--config", "config_path", required=True, metavar="FILE", help="The YAML configuration.")
@click.argument("events", required=False, default="-", metavar="[EVENTS|-]")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per result line.")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT_S, show_default=True, help="Seconds per request.")
def send_command(config_path: str, events: str, as_json: bool, timeout: float) -> None:
    """Deliver events (a JSON object, an array or JSON lines; - for stdin) through the cloud-mode destinations.

    Prints one line per event and subscription; exits 1 if any failed.
    """
    config = load_config_or_exit(config_path)
    destinations = _cloud_destinations(config, config_path)
    items = parse_events(_read(events))
    failed = asyncio.run(_send(items, destinations, timeout, as_json))
    sys.exit(EXIT_FAILED if failed else 0)


async def _collect(
    results: AsyncIterator[tuple[InputEvent, list[DeliveryResult]]],
) -> list[tuple[InputEvent, list[DeliveryResult]]]:
    return [entry async for entry in results]


def _pretty(value: Any) -> str:
    return dumps(value, pretty=True).decode()


def _why_not(result: DeliveryResult, event: dict[str, Any]) -> str:
    facts = [f"{key} {event[key]!r}" for key in ("type", "event") if isinstance(event.get(key), str)]
    return result.result.reason + (f" (the event has {', '.join(facts)})" if facts else "")


def _test_report(
    event: dict[str, Any], dest: DestinationConfig, results: list[DeliveryResult], endpoint: str
) -> dict[str, Any]:
    subscriptions = []
    for delivery in results:
        r = delivery.result
        outcome = delivery.worst_outcome
        subscriptions.append(
            {
                "name": r.subscription.name,
                "action": r.subscription.partner_action,
                "trigger": r.subscription.subscribe,
                "matched": r.matched,
                "why_not": _why_not(delivery, event) if r.status is Status.NOT_SUBSCRIBED else None,
                "mapped": r.mapped,
                "payload": r.payload,
                "steps": r.log,
                "requests": [o.exchange.to_dict() if o.exchange else None for o in delivery.outcomes],
                "verdict": delivery.verdict,
                "reason": outcome.reason if outcome else r.reason,
                "hint": outcome.hint if outcome else None,
                "retry_after": outcome.retry_after if outcome else None,
            }
        )
    return {
        "destination": dest.name,
        "mode": dest.mode,
        "endpoint": endpoint,
        "settings": dest.settings.masked(),
        "subscriptions": subscriptions,
    }


def _echo(text: str) -> None:
    """One or more lines of the human report; control characters from the event or 1Flow's answer escaped
    (the line breaks of the report itself kept)."""
    click.echo(escape_controls(text, keep_newlines=True))


def _print_report(report: dict[str, Any], secret_keys: list[str]) -> None:
    keys = "".join(f", {key} {report['settings'][key]}" for key in secret_keys if key in report["settings"])
    _echo(f"Destination {report['destination']} ({report['mode']} mode, {report['endpoint']}{keys})")
    for sub in report["subscriptions"]:
        _echo("")
        status = "matched" if sub["matched"] else "not matched"
        _echo(f"Subscription {sub['name']!r} → {sub['action']}: trigger {sub['trigger']} {status}")
        if sub["why_not"]:
            _echo(f"  why not: {sub['why_not']}")
            continue
        if sub["mapped"] is not None:
            _echo("  Mapped payload:")
            _echo(_indent(_pretty(sub["mapped"]), 4))
        if sub["payload"] is not None:
            _echo("  Validated payload:")
            _echo(_indent(_pretty(sub["payload"]), 4))
        for exchange in sub["requests"]:
            if exchange is None:
                _echo("  Request: none (refused before sending)")
                continue
            request = exchange["request"]
            _echo("  Request:")
            _echo(f"    {request['method']} {request['url']}")
            for name, value in request["headers"].items():
                _echo(f"    {name}: {value}")
            _echo(_indent(request["body"], 4))
            response = exchange["response"]
            if response is None:
                _echo(f"  Response: none ({exchange['error']})")
            else:
                _echo(f"  Response: {response['status']} ({exchange['elapsed_ms']} ms)")
                _echo(_indent(response["body"], 4))
        verdict = sub["verdict"] + (f": {sub['reason']}" if sub["reason"] else "")
        if sub["hint"]:
            verdict += f" — {sub['hint']}"
        if sub["retry_after"] is not None:
            verdict += f" (retry after {sub['retry_after']:g}s)"
        _echo(f"  Verdict: {verdict}")


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


@click.command("test-event")
@click.option("--config", "config_path", required=True, metavar="FILE", help="The YAML configuration.")
@click.argument("event_file", metavar="EVENT")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT_S, show_default=True, help="Seconds per request.")
def test_event_command(config_path: str, event_file: str, as_json: bool, timeout: float) -> None:
    """Event Tester: send one event (file or -) and show each subscription's match, payload, request and verdict."""
    config = load_config_or_exit(config_path)
    destinations = _cloud_destinations(config, config_path)
    items = parse_events(_read(event_file))
    if len(items) != 1:
        fail(f"{event_file}: test-event takes exactly one event, found {len(items)}")
    if items[0].problem:
        fail(f"{event_file}: {items[0].problem}")
    endpoints: dict[str, str] = {}
    ((item, results),) = asyncio.run(_collect(_deliver_all(items, destinations, timeout, endpoints)))
    reports = [
        _test_report(item.event, dest, [r for r in results if r.destination == dest.name], endpoints[dest.name])
        for dest in destinations
    ]
    if as_json:
        click.echo(_pretty({"event": item.event, "destinations": reports}))
    else:
        for i, (dest, report) in enumerate(zip(destinations, reports)):
            if i:
                click.echo("")
            _print_report(report, dest.definition.secret_settings)
    sys.exit(EXIT_FAILED if any(r.failed for r in results) else 0)


@click.command("definition")
@click.argument("type_", metavar="[TYPE]", required=False, type=click.Choice(REGISTRY.types))
@click.option("--json", "as_json", is_flag=True, help="Segment's metadata.json shape, plus our additions.")
def definition_command(type_: str | None, as_json: bool) -> None:
    """A destination's definition (the first registered when TYPE is not given): settings, actions and fields,
    presets, regions."""
    destination = REGISTRY.get(type_) if type_ else REGISTRY.default
    meta = destination.metadata()
    if as_json:
        click.echo(_pretty(meta))
        return
    additions = meta["additions"]
    click.echo(f"{meta['name']} (slug {meta['slug']}; modes: {', '.join(destination.modes)})")
    click.echo(destination.description)
    click.echo("\nSettings:")
    for key, f in meta["authentication"]["fields"].items():
        notes = [f["type"]]
        if f["required"]:
            notes.append("required")
        if key in destination.secret_settings:
            notes.append("secret")
        if destination.settings[key].advanced:
            notes.append("advanced")
        if f["default"] is not None:
            notes.append(f"default {f['default']}")
        if f["choices"]:
            notes.append("choices " + ", ".join(c["value"] if isinstance(c, dict) else c for c in f["choices"]))
        click.echo(f"  {key} ({'; '.join(notes)}): {f['description']}")
    click.echo("\nActions:")
    ours = additions.get("actionsAdded", {})
    for slug, action in {**meta["actions"], **ours}.items():
        title = action["title"] + (" (ours)" if slug in ours else "")
        click.echo(f"  {slug} — {title}: {action['description']} Default trigger: {action['defaultSubscription']}")
        for key, f in action["fields"].items():
            notes = [f["type"]] + (["required"] if f["required"] else [])
            default = f" ← {dumps(f['default']).decode()}" if f["default"] is not None else ""
            click.echo(f"    {key} ({', '.join(notes)}){default}: {f['description']}")
    click.echo("\nPresets (automatic):")
    for preset in meta["presets"]:
        click.echo(f"  {preset['name']}: {preset['subscribe']} → {preset['partnerAction']}")
    if not meta["presets"]:
        click.echo("  none in Segment's definition")
    if additions.get("presetsAdded"):
        click.echo("\nPresets (automatic, ours):")
        for preset in additions["presetsAdded"]:
            click.echo(f"  {preset['name']}: {preset['subscribe']} → {preset['partnerAction']}")
    if additions.get("optionalPresets"):
        click.echo("\nOptional presets (ours; run only when listed under subscriptions, see definition --json):")
        for preset in additions["optionalPresets"]:
            click.echo(f"  {preset['name']}: {preset['subscribe']} → {preset['partnerAction']}")
    if additions.get("regions"):
        click.echo("\nRegions:")
        for name, region in additions["regions"].items():
            if region.get("documented", True):
                sdk = f", SDK {region['sdkUrl']}" if region.get("sdkUrl") else ""
                click.echo(f"  {name}: API {region['apiBaseUrl']}{sdk}")
            else:
                click.echo(
                    f"  {name}: no endpoint documented by {destination.vendor} — "
                    "set apiBaseUrl (cloud) or sdkUrl (device)"
                )
    if additions.get("rules"):
        click.echo("\nRules:")
        for rule in additions["rules"]:
            click.echo(f"  - {rule}")


COMMANDS: list[click.Command] = [definition_command, send_command, test_event_command]
