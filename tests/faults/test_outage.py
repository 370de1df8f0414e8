"""Outage: 1Flow answers one destination's key with 503, then 429, each with `Retry-After`, for a while.

After recovery every event is delivered to both destinations exactly once; the failing destination sent nothing
before the `Retry-After` it was given; and the healthy destination (another key, same server and worker) kept
delivering throughout the outage.
"""

from __future__ import annotations

from datetime import datetime

from actions_1flow.secrets import mask_secret
from tests.helpers.pipeline import LoadGenerator, ServerProcess, delivered_numbers, wait_until, write_pipeline_config
from tests.helpers.process import free_port
from tests.helpers.sandbox import EU_KEY, US_KEY

DOWN, HEALTHY = US_KEY, EU_KEY
FAULTS = [
    {"status": 503, "retry_after": "1", "count": 2, "key": DOWN},
    {"status": 429, "retry_after": "2", "count": 2, "key": DOWN},
]


def at(call: dict) -> float:
    return datetime.fromisoformat(call["time"]).timestamp()


def test_outage_with_retry_after_then_full_delivery_while_the_other_destination_keeps_going(tmp_path, live_sandbox):
    config = write_pipeline_config(
        tmp_path,
        [
            {"name": "down", "key": DOWN, "api_url": live_sandbox.api_url()},
            {"name": "healthy", "key": HEALTHY, "api_url": live_sandbox.api_url()},
        ],
    )
    for fault in FAULTS:
        live_sandbox.fault(**fault)
    server = ServerProcess(config, free_port(), tmp_path / "serve.log").wait_ready()
    load = LoadGenerator(server.url, "wk_faults", run="outage", threads=2, batch=5, pause=0.02).start()
    try:
        down_calls = lambda: delivered_numbers(live_sandbox, mask_secret(DOWN))[1]  # noqa: E731
        wait_until(lambda: any(c["status"] == 503 for c in down_calls()), 20, "the first 503")
        during = load.next_number()  # events numbered from here on are posted while the destination is down
        wait_until(lambda: any(c["status"] == 200 for c in down_calls()), 30, "the destination to recover")
    finally:
        load.stop()
    acked = set(load.acked)
    try:
        for key in (DOWN, HEALTHY):
            wait_until(
                lambda key=key: acked <= set(delivered_numbers(live_sandbox, mask_secret(key))[0]),
                60,
                f"all events for {key[-4:]}",
            )
    finally:
        server.stop()

    down_seen, down = delivered_numbers(live_sandbox, mask_secret(DOWN))
    healthy_seen, healthy = delivered_numbers(live_sandbox, mask_secret(HEALTHY))
    # 100 % delivered, once each, to both.
    assert set(down_seen) == acked and set(healthy_seen) == acked
    assert max(down_seen.values()) == 1 and max(healthy_seen.values()) == 1

    # The failing destination got exactly the injected answers, and never asked again before Retry-After.
    faults = [c for c in down if c["status"] != 200]
    assert [(c["status"], c["fault"]["retry_after"]) for c in faults] == [
        (503, "1"),
        (503, "1"),
        (429, "2"),
        (429, "2"),
    ]
    for call in faults:
        later = [c for c in down if c["seq"] > call["seq"]]
        assert later, "no request after a fault"
        wait = at(later[0]) - at(call)
        assert wait >= float(call["fault"]["retry_after"]) - 0.002, (
            f"request {later[0]['seq']} came {wait:.3f}s after a {call['status']} "
            f"with Retry-After {call['fault']['retry_after']}"
        )
    recovered = at(next(c for c in down if c["status"] == 200 and c["seq"] > faults[-1]["seq"]))
    assert recovered - at(faults[0]) >= 6.0 - 0.01  # 1 + 1 + 2 + 2 seconds of Retry-After

    # The healthy destination kept delivering while the other was down, events posted during the outage included.
    outage = [c for c in healthy if at(faults[0]) < at(c) < recovered and c["status"] == 200]
    assert len(outage) >= 5, f"the healthy destination made only {len(outage)} deliveries during a 6 s outage"
    assert any(item["properties"]["n"] >= during for c in outage for item in c["body"]["batch"])
