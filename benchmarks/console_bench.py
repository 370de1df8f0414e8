"""Console queries at 1,000,000 events (issue 11), on SQLite and PostgreSQL, measured on this machine in one run.

A store of each backend is filled with 1,000,000 events over the last 7 days (two sources, 10,000 users) and a
delivery-log row for each but the newest 1,000 (still pending): 95.5 % delivered, 3.5 % filtered (consent,
suppressed, no matching subscription), 0.5 % retrying, 0.5 % dead-lettered, one recorded 1Flow exchange per 50
deliveries. The fill is SQL through the store's own write transaction (`submit`), which the store does not count
(it counts its own writes), so the kept counts are then recounted from the rows (timed: what a store of a layout
before the kept counts costs once when opened).

Then, 50 calls each (after 3 warm-up calls), p50 and p95 in milliseconds:
- `counts()` (what `status` and the overview's funnel read), and beside it the queries it ran before this change
  (counting the rows: 5 calls),
- `activity()` for 1h / 24h / 7d at the overview's steps (60 s, 900 s, 3600 s),
- the first page of the delivery log, `log(50)`, all and `failed_only`,
- and, through the ASGI app in-process (httpx.ASGITransport, the admin token as Bearer), GET
  `/admin/api/v1/overview?range=1h|24h|7d` and `/admin/api/v1/events?limit=50`.

Goal (issue 11): p95 < 200 ms for the overview and the first page of events.

Run: `.venv/bin/python benchmarks/console_bench.py` (after `make setup`), or `make bench-console`; `--events N` for
another size, `--backend sqlite|postgresql` for one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.postgres import PostgresCluster  # noqa: E402
from tests.helpers.sandbox import US_KEY  # noqa: E402
from tests.pipeline.test_store_counts import reference  # noqa: E402 — the queries counts() ran before

from actions_1flow.config import load_config  # noqa: E402
from actions_1flow.pipeline import queries  # noqa: E402
from actions_1flow.pipeline.store import Store  # noqa: E402
from actions_1flow.pipeline.stores import postgres_schema, sqlite_schema  # noqa: E402
from actions_1flow.pipeline.stores.postgres import PostgresStore  # noqa: E402
from actions_1flow.pipeline.stores.sqlite import SQLiteStore  # noqa: E402

CALLS = 50
WARMUP = 3
CHUNK = 100_000
PENDING = 1_000
GOAL_MS = 200.0
TOKEN = "bench-admin-token-0123456789abcdef"
DESTINATIONS = {"oneflow": ["web", "app"]}
RANGES = {"1h": (3600, 60), "24h": (86_400, 900), "7d": (7 * 86_400, 3600)}

# Outcome by `seq % 1000`: 0-4 retrying, 5-9 dead, 10-19 consent, 20-24 suppressed, 25-44 no match, else delivered.
STATUS_SQL = (
    "CASE WHEN seq % 1000 < 5 THEN 'retrying' WHEN seq % 1000 < 10 THEN 'dead' WHEN seq % 1000 < 45 THEN 'filtered' "
    "ELSE 'delivered' END"
)
REASON_SQL = (
    "CASE WHEN seq % 1000 < 10 THEN NULL WHEN seq % 1000 < 20 THEN 'consent' WHEN seq % 1000 < 25 THEN 'suppressed' "
    "WHEN seq % 1000 < 45 THEN 'no_match' END"
)
ERROR_SQL = (
    "CASE WHEN seq % 1000 < 5 THEN '503 Service Unavailable from 1Flow' WHEN seq % 1000 < 10 THEN "
    "'400 Bad Request from 1Flow: invalid user_id' WHEN seq % 1000 < 20 THEN 'consent: Advertising not granted' "
    "WHEN seq % 1000 < 25 THEN 'suppressed: userId' WHEN seq % 1000 < 45 THEN 'no subscription matched' END"
)
REQUEST = "POST https://api.1flow.app/v1/2021-06-15/track (key 1f_…) " + "x" * 200
RESPONSE = '200 OK {"success":true} ' + "y" * 100


def fill_sqlite(store: SQLiteStore, total: int, now: float) -> None:
    span = 7 * 86_400 / total
    start = now - 7 * 86_400
    done = total - PENDING
    for low in range(1, total + 1, CHUNK):
        high = min(low + CHUNK - 1, total)

        def chunk(conn: Any, low: int = low, high: int = high) -> None:
            series = "WITH RECURSIVE g(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM g WHERE x < ?) "
            conn.execute(
                series + "INSERT INTO events (seq, source, message_id, received_at, body) SELECT x, "
                "CASE WHEN x % 5 = 0 THEN 'app' ELSE 'web' END, 'm' || x, ? + x * ?, CAST(json_object('type', 'track', "
                "'event', 'Order Completed', 'userId', 'u' || (x % 10000), 'messageId', 'm' || x, "
                "'properties', json_object('n', x, 'plan', 'pro')) AS BLOB) FROM g",
                (low, high, start, span),
            )
            conn.execute(
                series
                + "INSERT OR IGNORE INTO exchanges (id, at, request, response) SELECT x, ? + x * 50 * ?, ?, ? FROM g "
                "WHERE x <= ?",
                (low // 50 + 1, high // 50 + 1, start, span, REQUEST, RESPONSE, done // 50 + 1),
            )
            conn.execute(
                "INSERT INTO deliveries (event_seq, destination, subscription, status, attempts, first_attempt_at, "
                "next_attempt_at, updated_at, error, exchange_id, reason) "
                f"SELECT seq, 'oneflow', 'Track Event', {STATUS_SQL}, 1, received_at + 1, "
                f"CASE WHEN seq % 1000 < 5 THEN ? END, received_at + 2, {ERROR_SQL}, seq / 50 + 1, {REASON_SQL} "
                "FROM events WHERE seq BETWEEN ? AND ? AND seq <= ?",
                (now + 3600, low, high, done),
            )

        store.submit(chunk).result()
    store.submit(lambda conn: conn.execute("INSERT INTO cursors VALUES ('oneflow', ?)", (done,))).result()


def recount(store: SQLiteStore | PostgresStore) -> float:
    """Recount the kept counts from the rows the fill wrote (the store counts only its own writes); the seconds it
    took."""
    counts = type(store).kept_counts()
    minute = sqlite_schema.MINUTE if isinstance(store, SQLiteStore) else postgres_schema.MINUTE

    def recount(conn: Any) -> None:
        counts.rebuild_totals(conn)
        counts.backfill_minutes(conn, minute)

    t0 = time.perf_counter()
    store.submit(recount).result()
    return time.perf_counter() - t0


def _pg(conn: Any) -> Callable[[str, tuple[Any, ...]], Any]:
    """`conn.execute` with SQL's modulo operator (`x % n`, as the shared fragments write it) escaped for psycopg."""
    return lambda sql, args: conn.execute(sql.replace("% ", "%% "), args)


def fill_postgres(store: PostgresStore, total: int, now: float) -> None:
    span = 7 * 86_400 / total
    start = now - 7 * 86_400
    done = total - PENDING
    parts = store.partitions
    for low in range(1, total + 1, CHUNK):
        high = min(low + CHUNK - 1, total)

        def chunk(conn: Any, low: int = low, high: int = high) -> None:
            execute = _pg(conn)
            execute(
                "INSERT INTO events (seq, part, source, message_id, received_at, body) OVERRIDING SYSTEM VALUE "
                "SELECT x, (x % 10000) % %s, CASE WHEN x % 5 = 0 THEN 'app' ELSE 'web' END, 'm' || x, %s + x * %s, "
                "convert_to(json_build_object('type', 'track', 'event', 'Order Completed', "
                "'userId', 'u' || (x % 10000), "
                "'messageId', 'm' || x, 'properties', json_build_object('n', x, 'plan', 'pro'))::text, 'UTF8') "
                "FROM generate_series(%s::bigint, %s::bigint) x",
                (parts, start, span, low, high),
            )
            execute(
                "INSERT INTO exchanges (id, at, request, response) OVERRIDING SYSTEM VALUE "
                "SELECT x, %s + x * 50 * %s, %s, %s FROM generate_series(%s::bigint, %s::bigint) x "
                "WHERE x <= %s ON CONFLICT DO NOTHING",
                (start, span, REQUEST, RESPONSE, low // 50 + 1, high // 50 + 1, done // 50 + 1),
            )
            execute(
                "INSERT INTO deliveries (event_seq, destination, part, subscription, status, attempts, "
                "first_attempt_at, next_attempt_at, updated_at, error, exchange_id, reason) "
                f"SELECT seq, 'oneflow', part, 'Track Event', {STATUS_SQL}, 1, received_at + 1, "
                f"CASE WHEN seq % 1000 < 5 THEN %s END, received_at + 2, {ERROR_SQL}, seq / 50 + 1, {REASON_SQL} "
                "FROM events WHERE seq BETWEEN %s AND %s AND seq <= %s",
                (now + 3600, low, high, done),
            )

        store.submit(chunk).result()

    def finish(conn: Any) -> None:
        for table in ("events", "exchanges", "deliveries"):  # identities go on after the rows filled in
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{'seq' if table == 'events' else 'id'}'), "
                f"(SELECT max({'seq' if table == 'events' else 'id'}) FROM {table}))"
            )
        conn.execute(
            "INSERT INTO cursors (destination, part, xid, seq) SELECT DISTINCT ON (part) 'oneflow', part, xid, seq "
            "FROM events WHERE seq <= %s ORDER BY part, xid DESC, seq DESC",
            (done,),
        )

    store.submit(finish).result()


def timed(fn: Callable[[], Any], calls: int = CALLS, warmup: int = WARMUP) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return summary(samples)


async def timed_async(fn: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(WARMUP):
        await fn()
    samples = []
    for _ in range(CALLS):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return summary(samples)


def summary(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        return {"p50": samples[0], "p95": samples[0], "max": samples[0]}
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": statistics.median(samples), "p95": q[94], "max": max(samples)}


def store_queries(store: Store) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    results["counts()"] = timed(lambda: store.counts(DESTINATIONS))
    results["  before: counting the rows (5 calls)"] = timed(lambda: reference(store, DESTINATIONS), calls=5, warmup=1)
    for name, (span, step) in RANGES.items():
        results[f"activity({name}, {step} s)"] = timed(
            lambda span=span, step=step: store.activity(list(DESTINATIONS), time.time() - span, step)
        )
    results["log(50)"] = timed(lambda: queries.recent_log(store, 50))
    results["log(50, failed_only)"] = timed(lambda: queries.recent_log(store, 50, failed_only=True))
    return results


def write_config(directory: Path, storage: str) -> Path:
    config = {
        "storage": storage,
        "admin": {"token": TOKEN},
        "sources": [{"name": "web", "write_key": "wk_bench_web"}, {"name": "app", "write_key": "wk_bench_app"}],
        "destinations": [
            {
                "name": "oneflow",
                "mode": "cloud",
                "sources": ["web", "app"],
                "settings": {"projectApiKey": US_KEY, "apiBaseUrl": "http://127.0.0.1:9/"},
                "subscriptions": [
                    {
                        "name": "Track Event",
                        "subscribe": 'type = "track"',
                        "partnerAction": "trackEvent",
                        "mapping": {"event_name": {"@path": "$.event"}, "userId": {"@path": "$.userId"}},
                    }
                ],
            }
        ],
    }
    path = directory / "server.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


async def api_queries(store: Store, config_path: Path) -> dict[str, dict[str, float]]:
    from actions_1flow.app import create_app

    app = create_app(load_config(config_path), store=store, run_worker=False)
    results: dict[str, dict[str, float]] = {}
    async with app.router.lifespan_context(app):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers
        ) as client:
            probe = await client.get("/admin/api/v1/overview?range=1h")
            if probe.status_code != 200:
                print(f"  (admin API not answering: {probe.status_code} {probe.text[:120]}; skipped)", flush=True)
                return results

            async def get(path: str) -> None:
                r = await client.get(path)
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")

            for name in RANGES:
                results[f"GET overview?range={name}"] = await timed_async(
                    lambda name=name: get(f"/admin/api/v1/overview?range={name}")
                )
            results["GET events?limit=50"] = await timed_async(lambda: get("/admin/api/v1/events?limit=50"))
            results["GET events?status=dead&limit=50"] = await timed_async(
                lambda: get("/admin/api/v1/events?status=dead&limit=50")
            )
    return results


def check_counts(store: Store, total: int) -> None:
    (c,) = store.counts(DESTINATIONS)
    done = total - PENDING
    assert c.received == total, c
    assert sum(c.by_status.values()) == done, c
    assert c.pending == PENDING + c.by_status.get("retrying", 0), c


def run(backend: str, store: Store, storage: str, work: Path, total: int) -> dict[str, dict[str, float]]:
    now = time.time()
    t0 = time.perf_counter()
    if isinstance(store, SQLiteStore):
        fill_sqlite(store, total, now)
    else:
        fill_postgres(store, total, now)  # type: ignore[arg-type]
    print(
        f"{backend}: filled {total:,} events and {total - PENDING:,} deliveries in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    print(f"  counts recounted from the rows: {recount(store):.1f} s", flush=True)  # type: ignore[arg-type]
    if not isinstance(store, SQLiteStore):
        store.submit(lambda conn: conn.execute("ANALYZE")).result()  # fresh statistics, as autovacuum gathers them
    try:
        check_counts(store, total)
        results = store_queries(store)
        results.update(asyncio.run(api_queries(store, write_config(work, storage))))
    finally:
        if isinstance(store, SQLiteStore):
            store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    table: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        work = Path(tmp)
        if args.backend in ("sqlite", "both"):
            path = work / "events.db"
            table["SQLite"] = run("SQLite", SQLiteStore(path), f"sqlite:///{path}", work, args.events)
            print(f"  file: {os.path.getsize(path) / 2**20:.0f} MiB", flush=True)
        if args.backend in ("postgresql", "both"):
            cluster = PostgresCluster().start()
            try:
                url = cluster.create_database()
                store: Store = PostgresStore(url)
                try:
                    table["PostgreSQL"] = run("PostgreSQL", store, url, work, args.events)
                finally:
                    store.close()
            finally:
                cluster.kill()
    backends = list(table)
    rows = list(dict.fromkeys(k for b in backends for k in table[b]))
    print()
    print(
        f"{'query (ms, ' + str(CALLS) + ' calls)':<36}" + "".join(f"{b + ' p50':>16}{b + ' p95':>16}" for b in backends)
    )
    failed = []
    for row in rows:
        line = f"{row:<36}"
        for b in backends:
            r = table[b].get(row)
            line += f"{r['p50']:>16.1f}{r['p95']:>16.1f}" if r else f"{'—':>16}{'—':>16}"
            if (
                r
                and not row.startswith(" ")
                and (
                    row.startswith("GET")
                    or row.startswith("counts")
                    or row.startswith("activity")
                    or row.startswith("log(50)")
                )
                and r["p95"] >= GOAL_MS
            ):
                failed.append(f"{b} {row}: p95 {r['p95']:.0f} ms")
        print(line)
    print()
    print(f"goal: p95 < {GOAL_MS:.0f} ms — " + ("met" if not failed else "NOT met: " + "; ".join(failed)))


if __name__ == "__main__":
    main()
