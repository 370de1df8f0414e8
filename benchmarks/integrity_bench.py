"""What the start-up integrity check costs: `PRAGMA quick_check` on stores of growing size, and so how large a store
the default 10 s budget (`pipeline.stores.sqlite_integrity.QUICK_CHECK_BUDGET_S`) covers on this machine.

Each store is filled with events of ~330 bytes (as in docs/performance.md), closed (WAL checkpointed), its pages
dropped from nothing but the SQLite cache (the OS page cache stays warm, as after a restart), then opened the way
`serve` opens it: connect, quick_check, schema. Prints MB, seconds and MB/s per size.

Run: `.venv/bin/python benchmarks/integrity_bench.py [--events 100000 300000]`.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from actions_1flow.pipeline import SQLiteStore
from actions_1flow.pipeline.stores.sqlite_integrity import quick_check


def fill(path: Path, n: int) -> None:
    store = SQLiteStore(path)
    body = "x" * 200
    for start in range(0, n, 2000):
        events = [
            {
                "type": "track",
                "event": "Order Completed",
                "userId": f"u{i}",
                "messageId": f"m{i}",
                "properties": {"note": body},
            }
            for i in range(start, min(n, start + 2000))
        ]
        store.append("web", events, time.time()).result()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 300_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.events:
            path = Path(tmp) / f"store-{n}.db"
            fill(path, n)
            size_mb = path.stat().st_size / 1e6
            conn = sqlite3.connect(path)
            started = time.perf_counter()
            quick_check(conn, path, budget=3600)
            check_s = time.perf_counter() - started
            conn.close()
            started = time.perf_counter()
            SQLiteStore(path).close()
            open_s = time.perf_counter() - started
            print(
                f"{n:>9,} events  {size_mb:7.1f} MB  quick_check {check_s:6.2f} s ({size_mb / check_s:6.0f} MB/s)"
                f"  full open {open_s:6.2f} s"
            )


if __name__ == "__main__":
    main()
