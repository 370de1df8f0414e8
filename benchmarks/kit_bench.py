"""Destination-kit and 1Flow delivery throughput, against Segment's actions-core in the same run.

1. Payload clean-up + validation (removeEmptyValues, coercion, ajv-equivalent checks) of the 1Flow Track Event
   payload: ours vs actions-core (ajv, schema compiled once), same payloads.
2. One event through the 1Flow presets (both triggers, the matching mapping, clean-up, validation, the action):
   our `run_event` vs actions-core's `Destination.onEvent` with actions that return their payload.
3. The 1Flow HTTP client against the sandbox subprocess: sequential requests over one keep-alive connection, and
   `/batch` packing (events per second).

Run: `.venv/bin/python benchmarks/kit_bench.py` (after `make setup`).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.kit import segment_fields  # noqa: E402
from tests.helpers.sandbox import US_KEY, SandboxServer  # noqa: E402
from tests.oracle import NodeOracle  # noqa: E402

from actions_1flow.actions import CompiledSubscription, Subscription, run_event  # noqa: E402
from actions_1flow.destinations.oneflow import wire  # noqa: E402
from actions_1flow.destinations.oneflow.client import OneFlowClient  # noqa: E402
from actions_1flow.destinations.oneflow.definition import (  # noqa: E402
    IDENTIFY_FIELDS,
    ONEFLOW,
    TRACK_EVENT,
    TRACK_FIELDS,
)

SECONDS = 2.0
PAYLOADS = [
    {
        "event_name": "Order Completed",
        "userId": f"user-{i}",
        "anonymousId": f"anon-{i}",
        "properties": {
            "total": 10 + i,
            "currency": "EUR",
            "items": [{"sku": "a", "qty": 1}] * 8,
            "coupon": "",
            "note": None,
        },
        "extra": "dropped",
    }
    for i in range(16)
] + [{"event_name": 12, "userId": ["u"], "properties": {"a": 1}}, {"userId": "u", "event_name": ""}]


EVENTS = [
    {
        "type": "track",
        "event": "Order Completed",
        "userId": f"user-{i}",
        "anonymousId": f"anon-{i}",
        "messageId": f"m-{i}",
        "timestamp": "2024-05-01T09:00:00.000Z",
        "context": {"page": {"url": "https://x.test/"}},
        "properties": {"total": 10 + i, "currency": "EUR", "items": [{"sku": "a", "qty": 1}] * 8},
    }
    for i in range(8)
] + [
    {
        "type": "identify",
        "userId": f"user-{i}",
        "messageId": f"i-{i}",
        "traits": {"email": f"u{i}@example.com", "plan": "pro"},
    }
    for i in range(8)
]


def ours_events() -> float:
    subscriptions = [CompiledSubscription(Subscription.from_preset(p)) for p in ONEFLOW.presets]
    settings = {"projectApiKey": "k", "region": "us"}
    n = 0
    end = time.perf_counter() + SECONDS
    start = time.perf_counter()
    while time.perf_counter() < end:
        for event in EVENTS:
            run_event(ONEFLOW, subscriptions, event, settings)
            n += 1
    return n / (time.perf_counter() - start)


def ours() -> float:
    validator = TRACK_EVENT.validator
    n = 0
    end = time.perf_counter() + SECONDS
    start = time.perf_counter()
    while time.perf_counter() < end:
        for payload in PAYLOADS:
            try:
                validator(payload)
            except ValueError:
                pass
            n += 1
    return n / (time.perf_counter() - start)


async def client_throughput(server: SandboxServer) -> tuple[float, float]:
    message = wire.track("Order Completed", user_id="u-1", properties={"total": 10, "currency": "EUR"})
    async with OneFlowClient(US_KEY, server.api_url()) as client:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < SECONDS:
            assert (await client.send(message)).delivered
            n += 1
        single = n / (time.perf_counter() - start)
        batch = [message] * 500
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < SECONDS:
            outcomes = await client.send_batch(batch)
            assert all(o.delivered for o in outcomes)
            n += len(batch)
        batched = n / (time.perf_counter() - start)
    return single, batched


def main() -> None:
    with NodeOracle() as node:
        reference = node.call("kit.bench", fields=segment_fields(TRACK_FIELDS), payloads=PAYLOADS, seconds=SECONDS)
        reference_events = node.call(
            "kit.eventBench",
            settings=segment_fields({"projectApiKey": ONEFLOW.settings["projectApiKey"]}),
            actions={"trackEvent": segment_fields(TRACK_FIELDS), "identifyUser": segment_fields(IDENTIFY_FIELDS)},
            subscriptions=[p.metadata() for p in ONEFLOW.presets],
            events=EVENTS,
            seconds=SECONDS,
        )
    mine = ours()
    mine_events = ours_events()
    print(f"payload validation (1Flow trackEvent, {len(PAYLOADS)} payloads):")
    print(f"  actions-core (ajv)  {reference['per_second']:>12,.0f} payloads/s")
    print(f"  actions-1flow       {mine:>12,.0f} payloads/s   ratio {mine / reference['per_second']:.2f}")
    print(f"one event through the 1Flow presets ({len(EVENTS)} events: track and identify):")
    print(f"  actions-core Destination.onEvent  {reference_events['per_second']:>10,.0f} events/s")
    print(
        f"  actions-1flow run_event           {mine_events:>10,.0f} events/s   "
        f"ratio {mine_events / reference_events['per_second']:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        server = SandboxServer(Path(tmp) / "sandbox.log", keys=[US_KEY], log_level="warning")
        try:
            single, batched = asyncio.run(client_throughput(server))
        finally:
            server.stop()
    print("1Flow client → sandbox subprocess (one keep-alive connection, sequential):")
    print(f"  /track, one event per request  {single:>10,.0f} requests/s")
    print(f"  /batch, 500 events per request {batched:>10,.0f} events/s")


if __name__ == "__main__":
    main()
