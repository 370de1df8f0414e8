"""`import` on SQLite and PostgreSQL in one run: events stored per second from a gzipped Segment archive, against
the reference of the same run, the store's own `append` (what the tracking API's group commit stores) of the same
events already parsed; a second import of the same archive (every line a duplicate); and the disk a million events
kept for replay cost (`pipeline.retention`): the event, its delivered row, the exchange its batch shared, and its
import key.

Run: `.venv/bin/python benchmarks/import_bench.py [--events 200000]` (`make bench-import`).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.archive import segment_call  # noqa: E402
from tests.helpers.postgres import PostgresCluster  # noqa: E402

from actions_1flow.pipeline import DeliveryRecord, Store, open_store  # noqa: E402
from actions_1flow.pipeline.backfill import Importer  # noqa: E402
from actions_1flow.pipeline.stores.sqlite import SQLiteStore  # noqa: E402

BATCH = 500
"""Events per delivered round when the rows are written (the worker's default batch)."""


def call(i: int) -> dict[str, Any]:
    """One archived call (~600 bytes of JSON)."""
    return segment_call(i, datetime(2026, 9, 1, tzinfo=UTC) + timedelta(seconds=i), 5000)


def write_archive(path: Path, n: int) -> None:
    with gzip.open(path, "wb", compresslevel=6) as f:
        for i in range(n):
            f.write(orjson.dumps(call(i)) + b"\n")


def reference(store: Store, n: int) -> float:
    """Events a second `append` stores, in batches of 1,000 already parsed (another source: no dedup hits)."""
    events = [call(i) for i in range(n)]
    started = time.perf_counter()
    for i in range(0, n, 1000):
        store.append("reference", events[i : i + 1000], time.time()).result()
    return n / (time.perf_counter() - started)


def imported(store: Store, archive: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    report = Importer(store, "history", {}, max_lag=None).run([archive])
    return report.lines / (time.perf_counter() - started), report.stored, report.duplicates


def deliver(store: Store, first: int, n: int) -> None:
    """Delivered rows for events `first`…, one round of `BATCH` sharing an exchange, as the worker records them."""
    request = "POST https://api.1flow.app/v1/batch [api_key: ****abcd] (500 message(s), 61234 bytes)"
    for start in range(first, first + n, BATCH):
        rows = [
            DeliveryRecord(seq, "Track Event", "delivered", attempts=1, first_attempt_at=time.time(), request=request)
            for seq in range(start, min(first + n, start + BATCH))
        ]
        for r in rows:
            r.response = '200 {"success":true}'
        store.record("1flow", rows).result()


def run(label: str, url: str, archive: Path, n: int, size: Any) -> None:
    store = open_store(url, partitions=16)
    try:
        ref = reference(store, n)
        rate, stored, _ = imported(store, archive)
        again, _, duplicates = imported(store, archive)
        assert stored == n and duplicates == n, (stored, duplicates)
        before = size(store)
        first = store.find_event("hist-0", ["history"])
        assert first is not None
        deliver(store, first.seq, n)
        after = size(store)
    finally:
        store.close()
    print(
        f"{label:<10} append (reference) {ref:>8,.0f} events/s · import {rate:>8,.0f} events/s "
        f"({rate / ref:.2f}× the reference) · again (all duplicates) {again:>8,.0f} lines/s"
    )
    per_million = {k: v / n * 1e6 / 1e6 for k, v in after.items()}
    rows = {k: (after[k] - before.get(k, 0)) / n * 1e6 / 1e6 for k in after}
    print(
        f"{'':<10} disk per million events kept (MB): "
        + ", ".join(f"{k} {v:,.0f}" for k, v in per_million.items())
        + " · of which the delivered rows and exchanges: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in rows.items() if v > 0.5)
    )


def sqlite_size(path: Path):
    def size(store: Store) -> dict[str, float]:
        assert isinstance(store, SQLiteStore)
        store.submit(lambda conn: None).result()
        conn = store._reader()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = dict(
            conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        )  # tables and their indexes, by name
        by_table = {"events": 0.0, "deliveries": 0.0, "exchanges": 0.0, "imported": 0.0}
        for name, n in pages.items():
            for table in by_table:
                if name == table or name.startswith(f"sqlite_autoindex_{table}_") or name.startswith(table + "_"):
                    by_table[table] += n
        # the reference source's events are half of `events`: count the imported half
        by_table["events"] /= 2
        by_table["total"] = sum(by_table.values())
        return by_table

    return size


def postgres_size(store: Store) -> dict[str, float]:
    out: dict[str, float] = {}
    with store._reading() as conn:  # type: ignore[attr-defined]
        for table in ("events", "deliveries", "exchanges", "imported"):
            conn.execute(f"VACUUM ANALYZE actions_1flow.{table}")
            out[table] = float(conn.execute(f"SELECT pg_total_relation_size('actions_1flow.{table}')").fetchone()[0])
    out["events"] /= 2
    out["total"] = sum(out.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive.gz"
        write_archive(archive, n)
        print(f"archive: {n:,} events, {archive.stat().st_size / 1e6:.1f} MB gzipped")
        path = Path(tmp) / "bench.db"
        run("SQLite", f"sqlite:///{path}", archive, n, sqlite_size(path))
        cluster = PostgresCluster().start()
        try:
            run("PostgreSQL", cluster.create_database(), archive, n, postgres_size)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
