"""Forwarding to a Segment-compatible API: the `segment` destination's worker against the 1Flow delivery, same run.

1. **Reference**: `pipeline_bench`'s delivery run: `actions-1flow worker` delivers a pre-filled SQLite store to
   `actions-1flow sandbox` through the 1Flow presets.
2. **Forwarder**: the same events in a fresh store; `actions-1flow worker` (one process) forwards them through the
   Segment destination's presets (Forward Event: `/v1/batch`, gzip, Basic auth) to a Segment-compatible receiver,
   `actions-1flow serve --no-worker` (its own process and store: every 200 means the events are on its disk).
   Events per second from the first recorded outcome to the last; the receiver's store is counted afterwards.

Run: `.venv/bin/python benchmarks/forward_bench.py [--events N] [--batch-size N]` (or `make bench-forward`).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.helpers.pipeline import ServerProcess  # noqa: E402
from tests.helpers.process import cpu_seconds, free_port  # noqa: E402

from pipeline_bench import bench_delivery, deliver_prefilled, prefill, running  # noqa: E402

GOAL = 20_000
RECEIVER_KEY = "wk_receiver"
FORWARDER = """\
storage: sqlite:///{db}
pipeline: {{batch_size: {batch_size}}}
sources:
  - {{name: bench, write_key: wk_bench}}
destinations:
  - name: segment
    type: segment
    mode: cloud
    sources: [bench]
    settings: {{source_write_key: {key}, apiBaseUrl: "{api_url}"}}
"""
RECEIVER = """\
storage: sqlite:///{db}
sources:
  - {{name: upstream, write_key: {key}}}
"""


def bench_forward(total: int, work: Path, batch_size: int) -> dict[str, float]:
    receiver_config = work / "receiver.yaml"
    receiver_config.write_text(RECEIVER.format(db=work / "receiver.db", key=RECEIVER_KEY), encoding="utf-8")
    with running(ServerProcess(receiver_config, free_port(), work / "receiver.log", worker=False).wait_ready()) as rx:
        config = work / "forward.yaml"
        text = FORWARDER.format(db=work / "forward.db", batch_size=batch_size, key=RECEIVER_KEY, api_url=rx.url + "/v1")
        config.write_text(text, encoding="utf-8")
        prefill(work / "forward.db", total, "segment")
        result = deliver_prefilled(config, work, work / "forward.db", "segment", total)
        receiver_cpu = cpu_seconds(rx.process.pid)
    received = sqlite3.connect(work / "receiver.db").execute("SELECT count(*) FROM events").fetchone()[0]
    assert received == total, (received, total)
    return {**result, "receiver_cpu_s": receiver_cpu, "batch_size": batch_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=500, help="pipeline.batch_size of both workers")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="forward-bench-") as tmp:
        for name, run in (("1flow", bench_delivery), ("forward", bench_forward)):
            work = Path(tmp) / name
            work.mkdir()
            results[name] = run(args.events, work, args.batch_size)
            shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in results[name].items()}
            print(name, json.dumps(shown), flush=True)
    forward, reference = results["forward"]["events_per_s"], results["1flow"]["events_per_s"]
    print(f"forwarder {forward:,.0f} events/s, {forward / reference:.2f}x the 1Flow delivery ({reference:,.0f}/s)")
    print(f"goal >= {GOAL:,} events/s: {'met' if forward >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
