"""Permanent failure: a wrong Project API Key → 401 → dead-lettered with the hint; fix the key, restart, `replay`
→ each event delivered exactly once; a second `replay` delivers nothing more."""

from __future__ import annotations

import json
import time

import httpx

from actions_1flow.secrets import mask_secret
from tests.helpers.cli import invoke
from tests.helpers.pipeline import ServerProcess, delivered_numbers, track, wait_until, write_pipeline_config
from tests.helpers.process import free_port
from tests.helpers.sandbox import UNKNOWN_KEY, US_KEY

EVENTS = 50


def status(config) -> dict:
    result = invoke("status", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    return row


def test_wrong_key_dead_letters_with_hint_then_fix_and_replay_delivers_once(tmp_path, live_sandbox):
    destination = {"name": "oneflow", "key": UNKNOWN_KEY, "api_url": live_sandbox.api_url()}
    config = write_pipeline_config(tmp_path, [destination])
    port = free_port()
    server = ServerProcess(config, port, tmp_path / "serve.log").wait_ready()
    acked = set(range(EVENTS))
    try:
        for first in range(0, EVENTS, 10):
            batch = {"batch": [track(n, "dead") for n in range(first, first + 10)]}
            assert httpx.post(server.url + "/v1/batch", json=batch, auth=("wk_faults", "")).status_code == 200
        wait_until(lambda: status(config)["dead"] == len(acked), 20, "every delivery dead-lettered")
    finally:
        server.stop()
    assert status(config)["retrying"] == 0 and status(config)["delivered"] == 0
    assert {c["status"] for c in live_sandbox.calls("http")} == {401}  # no retries of a permanent failure

    failed = invoke("events", "--config", str(config), "--failed", "--limit", "1000", "--json")
    entries = [json.loads(line) for line in failed.stdout.splitlines()]
    assert len(entries) == len(acked)
    assert {(e["status"], e["hint"], e["attempts"]) for e in entries} == {("dead", "check the Project API Key", 1)}
    assert all(e["error"].startswith("401 Unauthorized") for e in entries)
    assert all(f"api_key: {mask_secret(UNKNOWN_KEY)}" in e["request"] for e in entries)
    table = invoke("events", "--config", str(config), "--failed")
    assert "check the Project API Key" in table.stdout
    assert UNKNOWN_KEY not in failed.stdout + table.stdout  # masked everywhere

    # Fix the key, restart, replay.
    live_sandbox.reset()
    config = write_pipeline_config(tmp_path, [{**destination, "key": US_KEY}])
    server = ServerProcess(config, port, tmp_path / "serve.log").wait_ready()
    try:
        dry = invoke("replay", "--config", str(config), "--since", "1h", "--dry-run")
        assert f"would re-queue {len(acked)} dead-lettered deliveries" in dry.stdout
        assert live_sandbox.calls("http") == [] and status(config)["dead"] == len(acked)

        first = invoke("replay", "--config", str(config), "--since", "1h")
        assert first.exit_code == 0 and f"re-queued {len(acked)} dead-lettered deliveries" in first.stdout
        wait_until(lambda: status(config)["delivered"] == len(acked), 20, "the replayed deliveries")

        second = invoke("replay", "--config", str(config), "--since", "1h")
        assert second.exit_code == 0 and "nothing to replay" in second.stdout
        time.sleep(0.5)  # several worker rounds: nothing more may go out
    finally:
        server.stop()
    seen, calls = delivered_numbers(live_sandbox, mask_secret(US_KEY))
    assert set(seen) == acked and max(seen.values()) == 1
    assert all(c["status"] == 200 for c in calls)
    row = status(config)
    assert (row["dead"], row["retrying"], row["delivered"], row["pending"]) == (0, 0, len(acked), 0)
    replayed = [
        json.loads(line)
        for line in invoke("events", "--config", str(config), "--limit", "1000", "--json").stdout.splitlines()
    ]
    assert {(e["status"], e["replays"], e["attempts"]) for e in replayed} == {("delivered", 1, 1)}
