"""@segment/analytics-node (npm, pinned in package-lock.json), unchanged, with `host` set to our server.

A small node script makes the calls with callbacks and reports, per event, whether the client was told it was
delivered (2xx) or failed; acknowledged events must be exactly what 1Flow receives.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from tests.clients.conftest import delivered, wait_for_delivery

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("analytics_node_send.mjs")
LARGE_FLUSH = 1_100


def send(server, calls: list[dict[str, Any]], key: str = "wk_node", **settings: Any) -> dict[str, list[dict]]:
    payload = json.dumps({"host": server.url, "writeKey": key, "settings": settings, "calls": calls})
    done = subprocess.run(["node", str(SCRIPT)], input=payload, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def key_of(kind: str, name: str, props: dict[str, Any]) -> tuple[str, str, Any]:
    return (kind, name, props["n"])


def test_identify_track_page_and_a_large_flush_reach_1flow(tracking_server, live_sandbox, run_id):
    calls = [
        {"method": "identify", "args": {"userId": "user-node", "traits": {"run": run_id, "n": 0, "plan": "team"}}},
        {
            "method": "track",
            "args": {"userId": "user-node", "event": "Signed Up", "properties": {"run": run_id, "n": 0}},
        },
        {"method": "page", "args": {"userId": "user-node", "name": "Pricing", "properties": {"run": run_id, "n": 0}}},
    ] + [
        {
            "method": "track",
            "args": {"anonymousId": f"anon-{n % 5}", "event": "Bulk Event", "properties": {"run": run_id, "n": n}},
        }
        for n in range(1, LARGE_FLUSH + 1)
    ]
    result = send(tracking_server, calls, flushAt=200)
    assert result["failed"] == []
    assert len(result["accepted"]) == len(calls)
    expected = Counter(
        [("identify", "user-node", 0), ("track", "Signed Up", 0), ("track", "Page Viewed", 0)]
        + [("track", "Bulk Event", n) for n in range(1, LARGE_FLUSH + 1)]
    )
    wait_for_delivery(live_sandbox, run_id, expected)


def test_refusals_are_failures_for_the_client_and_never_delivered(tracking_server, live_sandbox, run_id):
    calls = [
        {"method": "track", "args": {"userId": "u", "event": "Nope", "properties": {"run": run_id, "n": n}}}
        for n in range(3)
    ]
    result = send(tracking_server, calls, key="wk_unknown")
    assert result["accepted"] == [] and len(result["failed"]) == 3
    assert all("401" in f["reason"] for f in result["failed"])

    deep: dict = {}
    for _ in range(300):
        deep = {"d": deep}
    bad = [
        {
            "method": "track",
            "args": {
                "userId": "u",
                "event": "In Bad Batch",
                "properties": {"run": run_id, "n": n, **({"deep": deep} if n == 1 else {})},
            },
        }
        for n in range(4)
    ]
    result = send(tracking_server, bad, flushAt=4)
    assert result["accepted"] == [] and len(result["failed"]) == 4
    assert all("400" in f["reason"] for f in result["failed"])

    good = [
        {"method": "track", "args": {"userId": "u", "event": "Fine", "properties": {"run": run_id, "n": n}}}
        for n in range(4, 8)
    ]
    result = send(tracking_server, good, flushAt=4)
    assert result["failed"] == [] and len(result["accepted"]) == 4
    wait_for_delivery(
        live_sandbox, run_id, Counter(key_of("track", "Fine", a["properties"]) for a in result["accepted"])
    )
    assert not [k for k in delivered(live_sandbox, run_id) if k[1] in ("Nope", "In Bad Batch")]
