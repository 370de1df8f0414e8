"""The durable pipeline on this machine: ingest over HTTP, delivery to the 1Flow sandbox, memory with a backlog.

1. **Ingest**: `actions-1flow serve --no-worker` (the tracking API alone) takes `/v1/batch` requests of 100 events
   from `benchmarks/loadgen.py`, a separate process on loopback with 16 keep-alive connections. Each 200 means the
   events are fsync'd (SQLite WAL, synchronous=FULL, group commit). Events per second over the whole load.
2. **Delivery**: a store pre-filled with events; `actions-1flow worker` (its own process) delivers them through the
   1Flow presets to `actions-1flow sandbox` (another process) with `/batch` requests. Events per second from the
   first recorded outcome to the last.
3. **Backlog**: `actions-1flow serve` with its worker and the destination down (nothing listens at its address)
   takes 1,000,000 events; the server's peak RSS (VmHWM) afterwards, with every event still pending.

Run: `.venv/bin/python benchmarks/pipeline_bench.py [--ingest N] [--delivery N] [--backlog N]` (after `make setup`,
or `make bench-pipeline`). With `PIPELINE_BENCH_PROFILE=DIR` each server and worker is sampled by py-spy (installed
by hand) into a folded-stack file in DIR.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.pipeline import ServerProcess, WorkerProcess  # noqa: E402
from tests.helpers.process import CliProcess, cpu_seconds, free_port, peak_rss_mib  # noqa: E402
from tests.helpers.sandbox import US_KEY, SandboxServer  # noqa: E402

from actions_1flow.pipeline import SQLiteStore  # noqa: E402

LOADGEN = Path(__file__).with_name("loadgen.py")
PROFILE_DIR = os.environ.get("PIPELINE_BENCH_PROFILE")
"""A directory: each server/worker process is sampled with py-spy into a folded-stack file there."""
WRITE_KEY = "wk_bench"
CONFIG = """\
storage: sqlite:///{db}
pipeline: {{batch_size: {batch_size}}}
sources:
  - {{name: bench, write_key: {write_key}}}
destinations:
  - name: oneflow
    mode: cloud
    sources: [bench]
    settings: {{projectApiKey: "{key}", apiBaseUrl: "{api_url}"}}
"""


def write_config(directory: Path, api_url: str, batch_size: int = 500) -> Path:
    path = directory / "bench.yaml"
    text = CONFIG.format(
        db=directory / "bench.db", write_key=WRITE_KEY, key=US_KEY, api_url=api_url, batch_size=batch_size
    )
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def running(process: CliProcess) -> Iterator[CliProcess]:
    """Stop the process afterwards; with PIPELINE_BENCH_PROFILE set, sample it with py-spy meanwhile."""
    profiler = None
    if PROFILE_DIR:  # py-spy is installed by hand (`.venv/bin/pip install py-spy`), not a dependency
        out = Path(PROFILE_DIR) / f"{process.args[0]}-{process.process.pid}.txt"
        profiler = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "-p",
                str(process.process.pid),
                "-f",
                "raw",
                "-r",
                "250",
                "--threads",
                "--nonblocking",
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        yield process
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=30)
        process.stop()


def load(url: str, total: int, run: str, connections: int = 16) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            str(LOADGEN),
            url,
            WRITE_KEY,
            str(total),
            "--batch",
            "100",
            "--connections",
            str(connections),
            "--run",
            run,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def bench_ingest(total: int, work: Path) -> dict[str, float]:
    config = write_config(work, "http://127.0.0.1:9/v1")
    with running(ServerProcess(config, free_port(), work / "serve.log", worker=False).wait_ready()) as server:
        cpu_before = cpu_seconds(server.process.pid)
        result = load(server.url, total, "ingest")
        cpu = cpu_seconds(server.process.pid) - cpu_before
    if result["events"] != total or result["errors"]:
        raise RuntimeError(f"ingest lost requests: {result}")
    stored = sqlite3.connect(work / "bench.db").execute("SELECT count(*) FROM events").fetchone()[0]
    assert stored == total, (stored, total)
    return {
        "events": total,
        "seconds": result["seconds"],
        "events_per_s": total / result["seconds"],
        "server_cpu_s": cpu,
    }


def prefill(db: Path, total: int, destination: str = "oneflow") -> None:
    """`total` ~300-byte track events in the store at `db`, `destination`'s cursor before the first."""
    store = SQLiteStore(db)
    try:
        store.ensure_cursor(destination).result()
        now = time.time()
        futures = []
        for first in range(0, total, 1000):
            events = [
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": f"user-{n}",
                    "messageId": f"d-{n}",
                    "timestamp": "2024-05-01T09:00:00.000Z",
                    "receivedAt": "2024-05-01T09:00:00.100Z",
                    "context": {"library": {"name": "bench", "version": "1"}, "ip": "127.0.0.1"},
                    "properties": {"n": n, "total": 49.9, "currency": "EUR", "sku": f"sku-{n}"},
                }
                for n in range(first, min(first + 1000, total))
            ]
            futures.append(store.append("bench", events, now))
        for f in futures:
            f.result()
    finally:
        store.close()


def deliver_prefilled(config: Path, work: Path, db_path: Path, destination: str, total: int) -> dict[str, float]:
    """Run `actions-1flow worker` on a pre-filled store until `destination`'s cursor has passed all `total` events:
    events per second from the first recorded outcome to the last, and the worker's CPU seconds."""
    db = sqlite3.connect(db_path)
    query = "SELECT seq FROM cursors WHERE destination = ?"
    with running(WorkerProcess(config, work / "worker.log")) as worker:
        started = None
        while True:
            cursor = db.execute(query, (destination,)).fetchone()[0]
            if started is None and cursor > 0:
                started, first = time.perf_counter(), cursor
            if cursor >= total:
                break
            if not worker.alive():
                raise RuntimeError("worker exited: " + worker.log_text())
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(worker.process.pid)
    delivered = db.execute("SELECT count(*) FROM deliveries WHERE status = 'delivered'").fetchone()[0]
    assert delivered == total, (delivered, total)
    return {"events": total - first, "seconds": seconds, "events_per_s": (total - first) / seconds, "worker_cpu_s": cpu}


def bench_delivery(total: int, work: Path, batch_size: int) -> dict[str, float]:
    sandbox = SandboxServer(work / "sandbox.log", log_level="warning")
    try:
        config = write_config(work, sandbox.api_url(), batch_size)
        prefill(work / "bench.db", total)
        return {**deliver_prefilled(config, work, work / "bench.db", "oneflow", total), "batch_size": batch_size}
    finally:
        sandbox.stop()


def bench_backlog(total: int, work: Path) -> dict[str, float]:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: every attempt is a connection error
    config = write_config(work, down)
    with running(ServerProcess(config, free_port(), work / "serve.log").wait_ready()) as server:
        result = load(server.url, total, "backlog")
        time.sleep(2)
        rss = peak_rss_mib(server.process.pid)
    db = sqlite3.connect(work / "bench.db")
    stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
    cursor = db.execute("SELECT seq FROM cursors WHERE destination = 'oneflow'").fetchone()[0]
    retrying = db.execute("SELECT count(*) FROM deliveries WHERE status = 'retrying'").fetchone()[0]
    return {
        "events": stored,
        "pending": stored - cursor + retrying,
        "peak_rss_mib": rss,
        "ingest_events_per_s": total / result["seconds"],
        "db_mib": (work / "bench.db").stat().st_size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest", type=int, default=400_000, help="events for the ingest run (0 skips it)")
    parser.add_argument("--delivery", type=int, default=200_000, help="events for the delivery run (0 skips it)")
    parser.add_argument("--batch-size", type=int, default=500, help="pipeline.batch_size for the delivery run")
    parser.add_argument("--backlog", type=int, default=1_000_000, help="pending events for the RSS run (0 skips it)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        for name, n, run in (
            ("ingest", args.ingest, lambda n, d: bench_ingest(n, d)),
            ("delivery", args.delivery, lambda n, d: bench_delivery(n, d, args.batch_size)),
            ("backlog", args.backlog, lambda n, d: bench_backlog(n, d)),
        ):
            if n:
                work = Path(tmp) / name
                work.mkdir()
                results[name] = run(n, work)
                print(
                    name,
                    json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in results[name].items()}),
                    flush=True,
                )
    goals = [
        ("ingest", "events_per_s", ">=", 40_000),
        ("delivery", "events_per_s", ">=", 20_000),
        ("backlog", "peak_rss_mib", "<", 300),
    ]
    for name, key, op, goal in goals:
        if name in results:
            value = results[name][key]
            met = value >= goal if op == ">=" else value < goal
            print(f"{name:9s} {key:14s} {value:12,.0f}  goal {op} {goal:,}  {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
