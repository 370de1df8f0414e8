"""Scale-out on PostgreSQL (issue 10), measured on this machine in one run, SQLite's figure beside it.

1. **Ingest**: `/v1/batch` of 100 events into PostgreSQL through two `actions-1flow serve --no-worker` processes
   (one PostgreSQL 15 cluster on this machine, `fsync` on, `synchronous_commit` on: a 200 means the events are on
   disk), each loaded by its own `benchmarks/loadgen.py` process over keep-alive connections. Then the same load
   into SQLite through ONE `serve` (SQLite has one writer per file: a second server on the same file would only
   queue behind it), as many connections in all. Events acknowledged per second, and the ratio.
2. **Delivery scale-out**: a PostgreSQL store pre-filled with events of 10,000 users (so all 16 partitions have
   work), `actions-1flow sandbox` answering every 1Flow request after 50 ms (an injected delay: 1Flow is far away
   in real life), then 1, 2 and 4 `actions-1flow worker` processes. Once the leases are spread evenly, delivered
   events per second over a fixed window.
3. **Memory**: 1,000,000 events pending in a PostgreSQL store, one worker delivering them for ~20 s: its peak RSS
   (VmHWM), sampled from /proc.

CPU seconds of every process involved (servers, workers, PostgreSQL's backends, the load generators, the sandbox)
are read from /proc before and after each measurement, so the table says where the time went: on 2 cores every
process here shares the same two.

Run: `.venv/bin/python benchmarks/scaleout_bench.py` (after `make setup`), or `make bench-scaleout`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.pipeline import ServerProcess, WorkerProcess  # noqa: E402
from tests.helpers.postgres import PostgresCluster  # noqa: E402
from tests.helpers.process import CliProcess, cpu_seconds, free_port, peak_rss_mib  # noqa: E402
from tests.helpers.sandbox import US_KEY, SandboxServer  # noqa: E402

from actions_1flow.pipeline.store import partition_of  # noqa: E402
from actions_1flow.pipeline.stores.postgres import PostgresStore  # noqa: E402

LOADGEN = Path(__file__).with_name("loadgen.py")
WRITE_KEY = "wk_bench"
PARTITIONS = 16
USERS = 10_000
SANDBOX_DELAY_S = 0.05
GOALS = {"pg_ingest": 40_000, "speedup_4": 3.0, "rss_mib": 300}
CONFIG = """\
storage: {storage}
pipeline: {{batch_size: {batch_size}, lease_ttl: {lease_ttl}, poll_interval: 50ms}}
sources:
  - {{name: bench, write_key: {write_key}}}
destinations:
  - name: oneflow
    mode: cloud
    sources: [bench]
    settings: {{projectApiKey: "{key}", apiBaseUrl: "{api_url}"}}
"""


def write_config(path: Path, storage: str, api_url: str, batch_size: int, lease_ttl: float = 3.0) -> Path:
    text = CONFIG.format(
        storage=storage, write_key=WRITE_KEY, key=US_KEY, api_url=api_url, batch_size=batch_size, lease_ttl=lease_ttl
    )
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


# -- /proc readings ------------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def postgres_cpu(postmaster: int) -> float:
    """CPU of the whole cluster: the postmaster, its reaped children, and its live children (backends, WAL writer,
    checkpointer...)."""
    total = cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = _stat(int(entry.name))
            except (OSError, IndexError):
                continue
            if int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class CpuMeter:
    """CPU seconds spent by named processes between `start()` and `stop()`."""

    def __init__(self, readers: dict[str, Callable[[], float]]) -> None:
        self.readers = readers
        self.before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: read() for name, read in self.readers.items()}

    def stop(self) -> dict[str, float]:
        self.spent = {name: read() - self.before[name] for name, read in self.readers.items()}
        return self.spent


# -- 1. ingest -----------------------------------------------------------------------------------------------


def run_loadgens(urls: list[str], per_url: int, connections: int, run: str, meter: CpuMeter) -> dict[str, float]:
    """One loadgen process per URL, all at once; events acknowledged per second over the whole wall time."""
    started = time.perf_counter()
    meter.start()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(LOADGEN),
                url,
                WRITE_KEY,
                str(per_url),
                "--batch",
                "100",
                "--connections",
                str(connections),
                "--run",
                f"{run}{i}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, url in enumerate(urls)
    ]
    outs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        outs.append(json.loads(out))
    seconds = time.perf_counter() - started
    spent = meter.stop()
    events = sum(o["events"] for o in outs)
    errors = sum(o["errors"] for o in outs)
    if errors or events != per_url * len(urls):
        raise RuntimeError(f"ingest lost requests: {outs}")
    return {"events": events, "seconds": seconds, "events_per_s": events / seconds, "cpu": spent}


def children_cpu() -> float:
    """CPU of this process's reaped children: the load generators, once they have exited."""
    t = os.times()
    return t.children_user + t.children_system


def bench_ingest_pg(cluster: PostgresCluster, work: Path, total: int, connections: int) -> dict[str, Any]:
    url = cluster.create_database()
    PostgresStore(url, partitions=PARTITIONS).close()  # the layout, created once, before both servers start
    config = write_config(work / "pg-ingest.yaml", url, "http://127.0.0.1:9/v1", 500)
    servers = [ServerProcess(config, free_port(), work / f"pg-serve-{i}.log", worker=False) for i in range(2)]
    try:
        for s in servers:
            s.wait_ready()
        readers: dict[str, Callable[[], float]] = {
            f"serve {i + 1}": (lambda p=s.process.pid: cpu_seconds(p)) for i, s in enumerate(servers)
        }
        readers["PostgreSQL"] = lambda: postgres_cpu(cluster.pid or 0)
        readers["load generators"] = children_cpu
        meter = CpuMeter(readers)
        result = run_loadgens([s.url for s in servers], total // 2, connections, "pg", meter)
    finally:
        for s in servers:
            s.stop()
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM actions_1flow.events").fetchone()[0]  # type: ignore[index]
    if stored != result["events"]:
        raise RuntimeError(f"acknowledged {result['events']} events but {stored} are stored")
    return result


def bench_ingest_sqlite(work: Path, total: int, connections: int) -> dict[str, Any]:
    config = write_config(work / "sqlite-ingest.yaml", f"sqlite:///{work / 'ingest.db'}", "http://127.0.0.1:9/v1", 500)
    server = ServerProcess(config, free_port(), work / "sqlite-serve.log", worker=False).wait_ready()
    try:
        meter = CpuMeter({"serve": lambda: cpu_seconds(server.process.pid), "load generators": children_cpu})
        result = run_loadgens([server.url], total, 2 * connections, "sq", meter)  # as many in flight as for PG
    finally:
        server.stop()
    return result


# -- 2. delivery ---------------------------------------------------------------------------------------------


def prefill(url: str, total: int) -> None:
    """`total` events of USERS users straight into the store's tables (each in its user's partition, as the
    tracking API would put it), after the destination's cursors exist, in chunks of 200,000 per transaction."""
    store = PostgresStore(url, partitions=PARTITIONS)
    try:
        store.ensure_cursor("oneflow").result()
    finally:
        store.close()
    parts = [partition_of({"userId": f"user-{u}"}, PARTITIONS) for u in range(USERS)]
    body = (
        '{"type":"track","event":"Order Completed","userId":"user-%1$s","messageId":"d-%2$s",'
        '"timestamp":"2024-05-01T09:00:00.000Z","receivedAt":"2024-05-01T09:00:00.100Z",'
        '"context":{"library":{"name":"bench","version":"1"},"ip":"127.0.0.1"},'
        '"properties":{"n":%2$s,"total":49.9,"currency":"EUR","sku":"sku-%2$s"}}'
    )
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(0, total, 200_000):
            last = min(first + 200_000, total) - 1
            conn.execute(
                "INSERT INTO actions_1flow.events (part, source, message_id, received_at, body) "
                "SELECT (%s::smallint[])[n %% %s + 1], 'bench', 'd-' || n, %s, "
                "convert_to(format(%s, n %% %s, n), 'UTF8') FROM generate_series(%s::bigint, %s::bigint) n",
                (parts, USERS, time.time(), body, USERS, first, last),
            )
        conn.execute("ANALYZE actions_1flow.events")


def delivered(conn: psycopg.Connection) -> int:
    return int(
        conn.execute(  # type: ignore[index]
            "SELECT count(*) FROM actions_1flow.deliveries WHERE status = 'delivered'"
        ).fetchone()[0]
    )


def lease_owners(conn: psycopg.Connection) -> list[int]:
    rows = conn.execute(
        "SELECT count(*) FROM actions_1flow.leases WHERE expires_at > now() AND owner IS NOT NULL GROUP BY owner"
    ).fetchall()
    return sorted(n for (n,) in rows)


def bench_delivery(
    cluster: PostgresCluster,
    sandbox: SandboxServer,
    work: Path,
    workers: int,
    total: int,
    window: float,
    batch_size: int,
) -> dict[str, Any]:
    url = cluster.create_database()
    prefill(url, total)
    sandbox.reset()
    sandbox.fault(duration=3600, delay=SANDBOX_DELAY_S)
    config = write_config(work / f"delivery-{workers}.yaml", url, sandbox.api_url(), batch_size)
    procs = [WorkerProcess(config, work / f"worker-{workers}-{i}.log") for i in range(workers)]
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            share = PARTITIONS // workers
            deadline = time.monotonic() + 30
            while lease_owners(conn) != [share] * workers:  # fair shares first: then measure the steady state
                if time.monotonic() > deadline:
                    raise RuntimeError(f"leases never spread evenly: {lease_owners(conn)}")
                for p in procs:
                    if not p.alive():
                        raise RuntimeError("worker exited: " + p.log_text())
                time.sleep(0.1)
            readers: dict[str, Callable[[], float]] = {
                f"worker {i + 1}": (lambda p=p.process.pid: cpu_seconds(p)) for i, p in enumerate(procs)
            }
            readers["PostgreSQL"] = lambda: postgres_cpu(cluster.pid or 0)
            readers["sandbox"] = lambda: cpu_seconds(sandbox.process.pid)
            meter = CpuMeter(readers)
            meter.start()
            first, started = delivered(conn), time.perf_counter()
            time.sleep(window)
            last, seconds = delivered(conn), time.perf_counter() - started
            cpu = meter.stop()
            if last >= total:
                raise RuntimeError(f"the backlog ran out during the window ({total} events): give more")
            owners = lease_owners(conn)
    finally:
        for p in procs:
            p.stop()
    return {
        "workers": workers,
        "events": last - first,
        "seconds": seconds,
        "events_per_s": (last - first) / seconds,
        "cpu": cpu,
        "leases": owners,
        "batch_size": batch_size,
    }


# -- 3. memory -----------------------------------------------------------------------------------------------


def bench_memory(
    cluster: PostgresCluster, sandbox: SandboxServer, work: Path, total: int, seconds: float, batch_size: int
) -> dict[str, Any]:
    url = cluster.create_database()
    started = time.perf_counter()
    prefill(url, total)
    fill_s = time.perf_counter() - started
    sandbox.reset()
    sandbox.fault(duration=3600, delay=SANDBOX_DELAY_S)
    config = write_config(work / "memory.yaml", url, sandbox.api_url(), batch_size)
    worker = WorkerProcess(config, work / "worker-memory.log")
    peak = 0.0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not worker.alive():
                raise RuntimeError("worker exited: " + worker.log_text())
            peak = max(peak, peak_rss_mib(worker.process.pid))
            time.sleep(0.25)
        peak = max(peak, peak_rss_mib(worker.process.pid))
    finally:
        worker.stop()
    with psycopg.connect(url) as conn:
        done = delivered(conn)
    return {
        "events": total,
        "prefill_s": fill_s,
        "delivered": done,
        "pending_at_end": total - done,
        "peak_rss_mib": peak,
        "seconds": seconds,
    }


# -- report --------------------------------------------------------------------------------------------------


def cpu_text(cpu: dict[str, float], seconds: float, events: int) -> str:
    """Each process's CPU as a share of one core over the measurement, and all of it per event."""
    shares = ", ".join(f"{name} {spent / seconds:.0%}" for name, spent in cpu.items())
    return f"{shares}; {sum(cpu.values()) / max(events, 1) * 1e6:.0f} us of CPU per event in all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest", type=int, default=400_000, help="events per ingest run (0 skips ingest)")
    parser.add_argument("--connections", type=int, default=8, help="connections per load generator")
    parser.add_argument("--delivery", type=int, default=150_000, help="events pre-filled per delivery run (0 skips)")
    parser.add_argument("--window", type=float, default=8.0, help="seconds each delivery rate is measured over")
    parser.add_argument("--batch-size", type=int, default=100, help="pipeline.batch_size of the workers")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
    parser.add_argument("--memory", type=int, default=1_000_000, help="pending events for the RSS run (0 skips)")
    parser.add_argument("--memory-seconds", type=float, default=20.0)
    args = parser.parse_args()
    load_before = os.getloadavg()
    began = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="scaleout-bench-") as tmp:
        work = Path(tmp)
        cluster = PostgresCluster().start()
        sandbox: CliProcess | None = None
        try:
            if args.ingest:
                results["pg_ingest"] = bench_ingest_pg(cluster, work, args.ingest, args.connections)
                print("ingest postgresql", json.dumps(results["pg_ingest"], default=round), flush=True)
                results["sqlite_ingest"] = bench_ingest_sqlite(work, args.ingest, args.connections)
                print("ingest sqlite", json.dumps(results["sqlite_ingest"], default=round), flush=True)
            if args.delivery or args.memory:
                sandbox = SandboxServer(work / "sandbox.log", log_level="warning")
            if args.delivery:
                for k in (int(x) for x in args.workers.split(",")):
                    r = bench_delivery(cluster, sandbox, work, k, args.delivery, args.window, args.batch_size)  # type: ignore[arg-type]
                    results[f"delivery_{k}"] = r
                    print(f"delivery {k} worker(s)", json.dumps(r, default=round), flush=True)
            if args.memory:
                results["memory"] = bench_memory(
                    cluster,
                    sandbox,  # type: ignore[arg-type]
                    work,
                    args.memory,
                    args.memory_seconds,
                    args.batch_size,
                )
                print("memory", json.dumps(results["memory"], default=round), flush=True)
        finally:
            if sandbox is not None:
                sandbox.stop()
            cluster.kill()
    report(results, args, load_before, time.perf_counter() - began)


def report(results: dict[str, Any], args: argparse.Namespace, load_before: tuple[float, ...], total_s: float) -> None:
    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print()
    print(
        f"Scale-out on PostgreSQL 15 (fsync on, synchronous_commit on), {os.cpu_count()} CPUs shared by every "
        f"process; load average before the run {load_before[0]:.2f} / {load_before[1]:.2f}; {total_s:.0f} s in all"
    )
    print(f"{'measurement':52s} {'figure':>16s}  goal")
    if "pg_ingest" in results:
        pg, sq = results["pg_ingest"], results["sqlite_ingest"]
        print(
            f"{'ingest /v1/batch of 100, PostgreSQL, 2 serve':52s} {pg['events_per_s']:>10,.0f} ev/s  "
            f">= {GOALS['pg_ingest']:,}: {mark(pg['events_per_s'] >= GOALS['pg_ingest'])}"
        )
        print(f"{'ingest /v1/batch of 100, SQLite, 1 serve':52s} {sq['events_per_s']:>10,.0f} ev/s")
        print(f"{'  PostgreSQL / SQLite':52s} {pg['events_per_s'] / sq['events_per_s']:>15.2f}x")
        print(f"    CPU (share of one core) PostgreSQL run: {cpu_text(pg['cpu'], pg['seconds'], pg['events'])}")
        print(f"    CPU (share of one core) SQLite run:     {cpu_text(sq['cpu'], sq['seconds'], sq['events'])}")
        print(
            f"    {args.ingest:,} events per run; {2 * args.connections} connections in all (PostgreSQL: "
            f"{args.connections} per server from its own load generator)"
        )
    runs = [results[k] for k in sorted(results) if k.startswith("delivery_")]
    base = next((r["events_per_s"] for r in runs if r["workers"] == 1), None)
    for r in runs:
        speedup = f"  ({r['events_per_s'] / base:.2f}x one worker)" if base else ""
        goal = ""
        if r["workers"] == 4 and base:
            goal = f">= {GOALS['speedup_4']:g}x: {mark(r['events_per_s'] / base >= GOALS['speedup_4'])}"
        print(
            f"{'delivery, sandbox at 50 ms, ' + str(r['workers']) + ' worker(s)':52s} "
            f"{r['events_per_s']:>10,.0f} ev/s  "
            f"{goal}{speedup}"
        )
        print(f"    leases per worker {r['leases']}; CPU: {cpu_text(r['cpu'], r['seconds'], r['events'])}")
    if runs:
        print(
            f"    batch_size {args.batch_size}, {args.delivery:,} events pre-filled per run, "
            f"rate over {args.window:g} s once the leases were spread evenly"
        )
    if "memory" in results:
        m = results["memory"]
        print(
            f"{'worker peak RSS (VmHWM), 1,000,000 pending':52s} {m['peak_rss_mib']:>11,.0f} MiB  "
            f"< {GOALS['rss_mib']}: {mark(m['peak_rss_mib'] < GOALS['rss_mib'])}"
        )
        print(
            f"    {m['events']:,} events pre-filled in {m['prefill_s']:.1f} s; {m['delivered']:,} delivered in "
            f"{m['seconds']:g} s, {m['pending_at_end']:,} still pending at the end"
        )


if __name__ == "__main__":
    main()
