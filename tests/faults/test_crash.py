"""Crash faults: SIGKILL the ingest server, or the delivery worker, at random moments under load.

Split deployment (`serve --no-worker` + `worker`), as docs/operations.md describes it:

- Killing the **server** tests ingest durability and dedup: a 200 means the events are on disk, and a client that
  got no answer sends the batch again with the same messageIds, which the store acknowledges but keeps once. Every
  acknowledged event reaches 1Flow exactly once.
- Killing the **worker** tests the delivery cursor. 1Flow's API has no idempotency key, so a batch 1Flow accepted
  just before the kill, but whose outcome was not yet committed, is sent again on restart: nothing acknowledged is
  lost, and the duplicates are bounded by one batch (`pipeline.batch_size`) per kill.
"""

from __future__ import annotations

import random
import time

from tests.helpers.pipeline import (
    LoadGenerator,
    ServerProcess,
    WorkerProcess,
    delivered_numbers,
    wait_until,
    write_pipeline_config,
)
from tests.helpers.process import free_port
from tests.helpers.sandbox import US_KEY

SERVER_KILLS = 20
WORKER_KILLS = 10
BATCH_SIZE = 25


def test_killing_the_server_loses_nothing_acknowledged_and_duplicates_nothing(tmp_path, live_sandbox):
    config = write_pipeline_config(tmp_path, [{"name": "oneflow", "key": US_KEY, "api_url": live_sandbox.api_url()}])
    port = free_port()
    rng = random.Random(20240501)
    server = ServerProcess(config, port, tmp_path / "serve.log", worker=False).wait_ready()
    worker = WorkerProcess(config, tmp_path / "worker.log")
    load = LoadGenerator(server.url, "wk_faults", run="crash").start()
    try:
        for _ in range(SERVER_KILLS):
            time.sleep(rng.uniform(0.05, 0.5))
            server.kill()
            server = ServerProcess(config, port, tmp_path / "serve.log", worker=False).wait_ready()
        time.sleep(0.3)
    finally:
        load.stop()
    acked = set(load.acked)
    assert len(acked) > 500, f"the load generator got too little through: {load.attempts}"
    assert sum(n for outcome, n in load.attempts.items() if outcome != "200") > 0, (
        "no request ever failed: were the kills real?"
    )
    try:
        wait_until(
            lambda: acked <= set(delivered_numbers(live_sandbox)[0]), 60, "every acknowledged event in the sandbox"
        )
        time.sleep(0.3)  # anything still in flight would show up now
        seen, _ = delivered_numbers(live_sandbox)
    finally:
        worker.stop()
        server.stop()
    assert not worker.log_text().count("Traceback"), worker.log_text()
    missing = acked - set(seen)
    twice = {n: k for n, k in seen.items() if k > 1}
    assert not missing, f"{len(missing)} acknowledged events never reached 1Flow, e.g. {sorted(missing)[:10]}"
    assert not twice, f"{len(twice)} events reached 1Flow more than once, e.g. {dict(list(twice.items())[:10])}"
    assert set(seen) == acked  # every batch posted was retried until acknowledged, so nothing else was sent
    print(f"\nserver kills: {SERVER_KILLS}, events: {len(acked)}, client attempts: {dict(load.attempts)}")


def test_killing_the_worker_loses_nothing_and_resends_at_most_the_batch_in_flight(tmp_path, live_sandbox):
    config = write_pipeline_config(
        tmp_path,
        [{"name": "oneflow", "key": US_KEY, "api_url": live_sandbox.api_url()}],
        pipeline={"batch_size": BATCH_SIZE},
    )
    # Each delivery request takes a while, so the kills land while batches are in flight.
    live_sandbox.fault(duration=120, delay=0.05, key=US_KEY)
    server = ServerProcess(config, free_port(), tmp_path / "serve.log", worker=False).wait_ready()
    rng = random.Random(7)
    load = LoadGenerator(server.url, "wk_faults", run="wcrash", threads=2, batch=5, pause=0.02).start()
    worker = WorkerProcess(config, tmp_path / "worker.log")
    kills = 0
    try:
        for _ in range(WORKER_KILLS):
            time.sleep(rng.uniform(0.6, 1.2))  # long enough for the new worker to start and send something
            worker.kill()
            kills += 1
            worker = WorkerProcess(config, tmp_path / "worker.log")
        load.stop()
        acked = set(load.acked)
        wait_until(
            lambda: acked <= set(delivered_numbers(live_sandbox)[0]), 60, "every acknowledged event in the sandbox"
        )
        time.sleep(0.5)
        seen, calls = delivered_numbers(live_sandbox)
    finally:
        worker.stop()
        server.stop()
    missing = acked - set(seen)
    extra = sum(k - 1 for k in seen.values())
    assert not missing, f"{len(missing)} acknowledged events never reached 1Flow, e.g. {sorted(missing)[:10]}"
    assert len(acked) > 10 * BATCH_SIZE
    assert all(len(c["body"]["batch"]) <= BATCH_SIZE for c in calls)
    # At-least-once: each kill can re-send at most the one batch that was in flight.
    assert extra <= kills * BATCH_SIZE, f"{extra} duplicate deliveries after {kills} kills (bound {kills * BATCH_SIZE})"
    assert max(seen.values()) <= 1 + kills
    print(f"\nworker kills: {kills}, events: {len(acked)}, duplicates delivered: {extra} (bound {kills * BATCH_SIZE})")
