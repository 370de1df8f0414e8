"""Scale-out faults on PostgreSQL: many `serve` and `worker` processes on one database, killed, frozen, or left
without their database, under load (issue 10). Each test uses a short `pipeline.lease_ttl` (LEASE_TTL_S) and
asserts relative to it.

- **Kills** (a): two `serve --no-worker` and three `worker` processes; one of the five, chosen at random, is
  SIGKILLed about every two seconds and restarted. Ingest is durable and deduplicated by the database, so every
  acknowledged event reaches 1Flow; a killed worker's partitions are taken over, and what it had in flight but not
  recorded is sent again by the next holder, at most `batch_size` duplicates per worker kill. A client re-sending
  acknowledged batches (same messageIds) to the *other* server adds nothing: the unique key is the database's.
- **Database down** (b): PostgreSQL stopped with `pg_ctl stop -m immediate` under load and started 10 s later. No
  request sent after the stop is answered 200 before the database is back (a 200 means committed); `/ready` answers
  503 `storage_unavailable` meanwhile and 200 after; nothing acknowledged is lost, and the same server and worker
  processes (same PIDs) resume delivery by themselves. A round 1Flow accepted as the database stopped cannot be
  recorded and is sent again: at most one batch per partition.
- **Frozen worker** (c): a worker SIGSTOPped past its lease while another takes over its partitions, then
  SIGCONTed. It notices its leases lapsed and stops those partitions without sending or recording anything: no event
  reaches 1Flow twice.
- **Fair shares and takeover** (d): four workers settle on 25 % ± 10 % of the 16 partitions each; with two of them
  stopped (one SIGKILL, one SIGTERM) the other two hold all 16 within `lease_ttl` + 5 s.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from actions_1flow.pipeline.stores.postgres import PostgresStore
from tests.helpers.pipeline import (
    LoadGenerator,
    ServerProcess,
    WorkerProcess,
    delivered_numbers,
    track,
    wait_until,
    write_pipeline_config,
)
from tests.helpers.postgres import PostgresCluster
from tests.helpers.process import CliProcess, free_port
from tests.helpers.sandbox import US_KEY

LEASE_TTL_S = 3.0
PARTITIONS = 16
BATCH_SIZE = 25
KILLS = 10
WRITE_KEY = "wk_faults"


def _config(tmp_path: Path, sandbox, url: str, **pipeline) -> Path:
    return write_pipeline_config(
        tmp_path,
        [{"name": "oneflow", "key": US_KEY, "api_url": sandbox.api_url()}],
        storage=url,
        pipeline={"lease_ttl": f"{LEASE_TTL_S}s", "partitions": PARTITIONS, "batch_size": BATCH_SIZE, **pipeline},
    )


def _holders(store: PostgresStore) -> Counter[int | None]:
    """How many live leases each worker process (by PID) holds; None counts the partitions nobody holds."""
    held: Counter[int | None] = Counter()
    for _, _, holder, _, live in store.leases():
        held[int(holder.split(":")[1]) if holder and live else None] += 1
    return held


def _post(url: str, numbers: list[int], run: str) -> httpx.Response:
    """One `/v1/batch` of the numbered events, as the load generator of `run` sent them (same messageIds)."""
    body = {"batch": [track(n, run) for n in numbers]}
    return httpx.post(url + "/v1/batch", json=body, auth=(WRITE_KEY, ""), timeout=10)


def _stop_all(*processes: CliProcess) -> None:
    for p in processes:
        if p.alive():
            os.kill(p.process.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        p.stop()


def _no_tracebacks(*processes: CliProcess) -> None:
    for p in processes:
        assert "Traceback" not in p.log_text(), p.log_text()[-5000:]


def test_kill9_of_servers_and_workers_loses_nothing_and_duplicates_at_most_a_batch_per_worker_kill(
    tmp_path, live_sandbox, pg_url
):
    config = _config(tmp_path, live_sandbox, pg_url)
    # Each delivery takes a moment, so that kills land while batches are in flight.
    live_sandbox.fault(duration=300, delay=0.02, key=US_KEY)
    ports = [free_port(), free_port()]
    servers = [
        ServerProcess(config, port, tmp_path / f"serve{i}.log", worker=False).wait_ready()
        for i, port in enumerate(ports)
    ]
    workers = [WorkerProcess(config, tmp_path / f"worker{i}.log") for i in range(3)]
    loads = [
        LoadGenerator(
            servers[i].url, WRITE_KEY, run=f"scale{i}", threads=2, batch=10, pause=0.02, first=i * 1_000_000
        ).start()
        for i in range(2)
    ]
    rng = random.Random(20241010)
    kills: Counter[str] = Counter()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.5, 2.5))
            victim = rng.randrange(5)
            if victim < 2:
                servers[victim].kill()
                kills["serve"] += 1
                servers[victim] = ServerProcess(
                    config, ports[victim], tmp_path / f"serve{victim}.log", worker=False
                ).wait_ready()
            else:
                i = victim - 2
                workers[i].kill()
                kills["worker"] += 1
                workers[i] = WorkerProcess(config, tmp_path / f"worker{i}.log")
        time.sleep(0.5)
    finally:
        for load in loads:
            load.stop()
    acked = set().union(*(load.acked for load in loads))
    try:
        assert len(acked) > 2_000, f"too little got through: {[dict(load.attempts) for load in loads]}"
        wait_until(
            lambda: acked <= set(delivered_numbers(live_sandbox)[0]), 90, "every acknowledged event in the sandbox"
        )
        time.sleep(0.5)  # anything still in flight would show up now
        seen, calls = delivered_numbers(live_sandbox)

        # The client retries of scale0's acknowledged batches, to the other server: stored once already, so the
        # server acknowledges them and nothing new is delivered. A last batch covering every user (so every
        # partition these events are in) is delivered after them, if they were stored again.
        resent = sorted(loads[0].acked)
        for start in range(0, len(resent), 100):
            assert _post(servers[1].url, resent[start : start + 100], "scale0").status_code == 200
        fence = list(range(3_000_000, 3_000_000 + 97))
        assert _post(servers[1].url, fence, "fence").status_code == 200
        wait_until(lambda: set(fence) <= set(delivered_numbers(live_sandbox)[0]), 30, "the last batch delivered")
        time.sleep(0.3)
        after, _ = delivered_numbers(live_sandbox)
    finally:
        _stop_all(*servers, *workers)
    _no_tracebacks(*servers, *workers)

    missing = acked - set(seen)
    extra = sum(k - 1 for k in seen.values())
    assert kills["serve"] and kills["worker"], f"the draw spared a kind of process: {kills}"
    assert sum(n for load in loads for outcome, n in load.attempts.items() if outcome != "200"), (
        "no request ever failed"
    )
    assert not missing, f"{len(missing)} acknowledged events never reached 1Flow, e.g. {sorted(missing)[:10]}"
    assert set(seen) == acked  # every batch posted was retried until acknowledged, so nothing else was sent
    assert all(len(c["body"]["batch"]) <= BATCH_SIZE for c in calls)
    bound = kills["worker"] * BATCH_SIZE
    assert extra <= bound, f"{extra} duplicate deliveries after {kills['worker']} worker kills (bound {bound})"
    assert {n: k for n, k in after.items() if n < 3_000_000} == seen, "re-sent batches were delivered again"
    print(
        f"\nkills: {dict(kills)}, events: {len(acked)}, duplicates: {extra} (bound {bound}), "
        f"client attempts: {[dict(load.attempts) for load in loads]}"
    )


@pytest.fixture(scope="module")
def own_cluster():
    """A cluster of this module's own, for the test that stops it."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.kill()


def test_database_down_no_200_ready_503_then_delivery_resumes_in_the_same_processes(
    tmp_path, live_sandbox, own_cluster
):
    url = own_cluster.create_database()
    config = _config(tmp_path, live_sandbox, url)
    server = ServerProcess(config, free_port(), tmp_path / "serve.log", worker=False).wait_ready()
    worker = WorkerProcess(config, tmp_path / "worker.log")
    pids = (server.process.pid, worker.process.pid)
    load = LoadGenerator(server.url, WRITE_KEY, run="pgdown", threads=3, batch=10, pause=0.02).start()
    ready_while_down: Counter[str] = Counter()
    try:
        wait_until(lambda: len(load.acked) >= 300, 20, "load going through")
        wait_until(lambda: len(delivered_numbers(live_sandbox)[0]) >= 100, 20, "delivery going")
        own_cluster.stop("immediate")
        down = time.monotonic()
        acked_at_stop = len(load.acked)
        while time.monotonic() < down + 10:
            try:
                answer = httpx.get(server.url + "/ready", timeout=5)
                ready_while_down[f"{answer.status_code} {answer.json().get('code')}"] += 1
            except httpx.TransportError as exc:
                ready_while_down[type(exc).__name__] += 1
            time.sleep(0.5)
        up = time.monotonic()
        own_cluster.start()
        wait_until(lambda: httpx.get(server.url + "/ready", timeout=5).status_code == 200, 20, "/ready 200 again")
        after_up = load.next_number()
        wait_until(lambda: len([n for n in load.acked if n >= after_up]) >= 300, 30, "load going through again")
    finally:
        load.stop()
    acked = set(load.acked)
    try:
        wait_until(
            lambda: acked <= set(delivered_numbers(live_sandbox)[0]), 60, "every acknowledged event in the sandbox"
        )
        time.sleep(0.3)
        seen, _ = delivered_numbers(live_sandbox)
        alive = server.alive() and worker.alive()
    finally:
        _stop_all(server, worker)
        own_cluster.drop_database(url)
    _no_tracebacks(server, worker)

    # A 200 for a request sent after the database had stopped, answered before it was started again, would be an
    # acknowledgement of something not committed.
    false_acks = [(s - down, a - down) for s, a in load.answered if s >= down and a <= up]
    assert not false_acks, f"{len(false_acks)} requests answered 200 while the database was down: {false_acks[:5]}"
    assert load.attempts["503"] > 0, f"the outage was not seen by the client: {dict(load.attempts)}"
    assert set(ready_while_down) == {"503 storage_unavailable"}, ready_while_down
    assert alive and (server.process.pid, worker.process.pid) == pids
    missing = acked - set(seen)
    assert not missing, f"{len(missing)} acknowledged events never reached 1Flow, e.g. {sorted(missing)[:10]}"
    # A round 1Flow accepted just as the database stopped cannot be recorded and is sent again (at-least-once): at
    # most the one round the worker has in flight (one per destination and process, whatever its partitions).
    extra = sum(k - 1 for k in seen.values())
    assert extra <= BATCH_SIZE, f"{extra} duplicate deliveries after one outage"
    print(
        f"\nacked before the stop: {acked_at_stop}, total: {len(acked)}, duplicates: {extra}, "
        f"/ready while down: {dict(ready_while_down)}, "
        f"client attempts: {dict(load.attempts)}"
    )


def test_a_worker_frozen_past_its_lease_sends_and_records_nothing_for_the_partitions_it_lost(
    tmp_path, live_sandbox, pg_url
):
    config = _config(tmp_path, live_sandbox, pg_url)
    store = PostgresStore(pg_url)
    server = ServerProcess(config, free_port(), tmp_path / "serve.log", worker=False).wait_ready()
    frozen = WorkerProcess(config, tmp_path / "frozen.log")
    other = WorkerProcess(config, tmp_path / "other.log")
    fpid, opid = frozen.process.pid, other.process.pid
    loads: list[LoadGenerator] = []

    def load(first: int) -> LoadGenerator:
        loads.append(
            LoadGenerator(server.url, WRITE_KEY, run="freeze", threads=2, batch=10, pause=0.02, first=first).start()
        )
        return loads[-1]

    def delivered_all() -> bool:
        acked = set().union(*(g.acked for g in loads))
        return acked <= set(delivered_numbers(live_sandbox)[0])

    try:
        wait_until(
            lambda: _holders(store)[fpid] >= 4 and _holders(store)[opid] >= 4, 20, "both workers holding partitions"
        )
        first = load(0)
        wait_until(lambda: len(first.acked) >= 300, 20, "load going through")
        first.stop()
        wait_until(delivered_all, 30, "the first load delivered")
        held_before = _holders(store)[fpid]

        os.kill(fpid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        second = load(1_000_000)
        wait_until(lambda: _holders(store)[opid] == PARTITIONS, LEASE_TTL_S + 5, "the other worker holding everything")
        took_over = time.monotonic() - frozen_at
        time.sleep(1.0)  # the other worker delivers the frozen one's partitions meanwhile
        wait_until(
            lambda: len(delivered_numbers(live_sandbox)[0]) > len(first.acked) + 100, 20, "delivery by the other"
        )

        os.kill(fpid, signal.SIGCONT)
        wait_until(lambda: _holders(store)[fpid] >= 4, 4 * LEASE_TTL_S, "the thawed worker getting a share again")
        time.sleep(1.0)  # load keeps going, delivered by both
        second.stop()
        wait_until(delivered_all, 60, "everything delivered")
        time.sleep(0.5)
        seen, _ = delivered_numbers(live_sandbox)
    finally:
        for g in loads:
            g.stop()
        _stop_all(server, frozen, other)
        store.close()
    _no_tracebacks(server, frozen, other)

    acked = set().union(*(g.acked for g in loads))
    twice = {n: k for n, k in seen.items() if k > 1}
    assert not (acked - set(seen)), f"acknowledged events never delivered: {sorted(acked - set(seen))[:10]}"
    assert not twice, f"{len(twice)} events delivered more than once, e.g. {dict(list(twice.items())[:10])}"
    stopped = frozen.log_text().count(": stopping, ")
    assert stopped >= 1, f"the thawed worker logged no lapsed partition:\n{frozen.log_text()[-3000:]}"
    print(
        f"\nfrozen worker held {held_before} partitions; the other held all {PARTITIONS} after {took_over:.1f}s; "
        f"the thawed one stopped {stopped} lapsed partition(s); events: {len(acked)}"
    )


def test_four_workers_share_the_partitions_and_two_survivors_take_over_within_the_lease_ttl(
    tmp_path, live_sandbox, pg_url
):
    config = _config(tmp_path, live_sandbox, pg_url)
    store = PostgresStore(pg_url)
    workers = [WorkerProcess(config, tmp_path / f"worker{i}.log") for i in range(4)]
    pids = [w.process.pid for w in workers]
    try:
        # Settled: every partition held, and the same holders for a whole lease period.
        snapshot: list[Counter[int | None]] = [Counter()]
        stable_since = [time.monotonic()]

        def settled() -> bool:
            now = _holders(store)
            if now != snapshot[0]:
                snapshot[0], stable_since[0] = now, time.monotonic()
            return now[None] == 0 and set(now) == set(pids) and time.monotonic() - stable_since[0] >= LEASE_TTL_S

        wait_until(settled, 30, "the four workers settling", interval=0.2)
        shares = {pid: snapshot[0][pid] / PARTITIONS for pid in pids}
        workers[0].kill()
        os.kill(pids[1], signal.SIGTERM)
        stopped_at = time.monotonic()
        survivors = set(pids[2:])
        wait_until(
            lambda: (h := _holders(store))[None] == 0 and set(h) == survivors,
            LEASE_TTL_S + 5,
            "the two survivors holding every partition",
        )
        took = time.monotonic() - stopped_at
        final = _holders(store)
        workers[1].process.wait(10)
    finally:
        _stop_all(*workers)
        store.close()
    _no_tracebacks(*workers)

    assert all(0.15 <= share <= 0.35 for share in shares.values()), shares
    assert sum(final.values()) == PARTITIONS and all(final[pid] >= 1 for pid in survivors), final
    print(f"\nshares: {sorted(shares.values())}, survivors hold {dict(final)} {took:.1f}s after the stop")
