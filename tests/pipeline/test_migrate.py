"""`migrate` from SQLite into a real PostgreSQL: an SQLite store with a history made by the real worker (delivered,
pending, retrying and dead-lettered deliveries, two destinations at different cursors, device-mode reports) is
copied, then a `Worker` on the PostgreSQL store delivers what was pending exactly once and nothing delivered again."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import psycopg
import pytest
from click.testing import CliRunner

from actions_1flow.cli import main
from actions_1flow.config import parse_config
from actions_1flow.pipeline import DeviceEvent, RetryPolicy, SQLiteStore, migrate, open_store
from actions_1flow.pipeline.migrate import Migration, MigrationError
from actions_1flow.pipeline.options import DeliveryOptions
from actions_1flow.pipeline.partition import DestinationWorker
from actions_1flow.pipeline.stores.postgres import split_position
from actions_1flow.pipeline.worker import Worker
from tests.helpers.sandbox import EU_KEY, US_KEY, InProcessSandbox

from .conftest import log

pytestmark = pytest.mark.anyio

PARTITIONS = 4
KEYS = {"a": US_KEY, "b": EU_KEY}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def load(sandbox: InProcessSandbox, storage: str):
    dests = "".join(
        f"""
  - name: {name}
    mode: cloud
    sources: [web]
    settings: {{projectApiKey: "{key}", apiBaseUrl: "{sandbox.api_url()}"}}
    subscriptions: presets"""
        for name, key in KEYS.items()
    )
    return parse_config(
        f"storage: {storage}\nsources:\n  - {{name: web, write_key: wk}}\ndestinations:{dests}\n", "t.yaml"
    )


def track(n: int) -> dict:
    return {"type": "track", "event": "E", "userId": f"u{n % 7}", "messageId": f"m{n}", "properties": {"n": n}}


def delivered(sandbox: InProcessSandbox) -> Counter[tuple[str, int]]:
    """(destination, event number) → how many times 1Flow accepted it."""
    by_key = {key[-4:]: name for name, key in KEYS.items()}  # the sandbox logs keys masked but for their end
    return Counter(
        (by_key[c["api_key"][-4:]], item["properties"]["n"])
        for c in sandbox.calls("http")
        if c["status"] == 200
        for item in c["body"]["batch"]
    )


def comparable(counts) -> list[tuple]:
    return [(c.destination, c.received, c.pending, c.by_status, c.oldest_pending_at) for c in counts]


@pytest.fixture
def history(tmp_path):
    """An SQLite store after real deliveries (closed again, as after stopping `serve`): 20 events; destination a
    delivered m2–m4, m0 dead (a 400), m1 retrying (a 500; due now), m5–m19 pending; destination b delivered m0–m6,
    m7–m19 pending; two device-mode reports. Returns (sqlite URL, sandbox, counts, the config)."""
    sandbox = InProcessSandbox()
    url = f"sqlite:///{tmp_path}/db.sqlite"
    config = load(sandbox, url)
    store = SQLiteStore(tmp_path / "db.sqlite")
    clock = Clock(time.time() - 3600)  # an hour ago: m1's retry is due by now

    def worker(name: str, batch_size: int) -> DestinationWorker:
        [dest] = [d for d in config.destinations if d.name == name]
        return DestinationWorker(
            store,
            dest,
            ["web"],
            RetryPolicy(base=10, cap=300, window=4 * 3600),
            DeliveryOptions(clock=clock, batch_size=batch_size, batch_age=0.0),
            client_factory=lambda d: d.create_client(transport=sandbox.transport()),
        )

    async def build() -> None:
        a, b = worker("a", 1), worker("b", 7)
        await a.load_cursor()
        await b.load_cursor()
        store.append("web", [track(n) for n in range(20)], clock.now).result()
        sandbox.fault(status=400, key=US_KEY)
        assert await a.step()  # m0: dead
        sandbox.fault(status=500, key=US_KEY)
        assert await a.step()  # m1: retrying
        a = worker("a", 3)  # a fresh task (as after a restart): not paused
        await a.load_cursor()
        assert await a.step()  # m2–m4 (m1 is not due yet on this clock)
        assert await b.step()  # m0–m6

    asyncio.run(build())
    for kind in ("sdk-load", "mapping"):
        store.record_device_event(DeviceEvent(clock.now, "web", "a", kind, f"{kind} failed", message_id="m3")).result()
    store.suppress("userId", "erased", clock.now).result()
    store.count_suppressed({("userId", "erased"): 4}).result()
    store.submit(lambda conn: conn.execute("INSERT INTO imported VALUES ('web', 'imported-before')")).result()
    statuses = {(e.destination, e.message_id): e.status for e in log(store, 100)}
    assert statuses[("a", "m0")] == "dead" and statuses[("a", "m1")] == "retrying"
    assert store.cursor("a") == 5 and store.cursor("b") == 7
    counts = store.counts({"a": ["web"], "b": ["web"]})
    store.close()
    assert delivered(sandbox) == Counter({("a", n): 1 for n in (2, 3, 4)} | {("b", n): 1 for n in range(7)})
    return url, sandbox, counts, config


@pytest.mark.parametrize("chunk", [3, migrate.CHUNK])
async def test_after_migrating_the_pending_events_are_delivered_once_and_the_delivered_never_again(
    history, pg_url, chunk, monkeypatch
):
    url, sandbox, counts_before, config = history
    monkeypatch.setattr(migrate, "CHUNK", chunk)  # 3: many chunks, each event chunk followed by its log rows
    with Migration(url, pg_url, partitions=PARTITIONS) as migration:
        assert (
            migration.total == 20 + 12 + 4 + 2 + 1 + 1
        )  # events, log rows (a: 5, b: 7), exchanges (one per request), reports, suppressions, import keys
        report = migration.run()
    assert report.suppressions == 1
    assert report.events == 20 and report.cursors == {"a": 5, "b": 7} and report.pending == {"a": 15, "b": 13}
    assert report.deliveries == {"dead": 1, "retrying": 1, "delivered": 10} and report.device_events == 2

    store = open_store(pg_url)
    try:
        assert store.partitions == PARTITIONS
        assert comparable(store.counts({"a": ["web"], "b": ["web"]})) == comparable(counts_before)
        assert [d.message_id for d in store.device_events(10)] == ["m3", "m3"]
        assert [(s.kind, s.value, s.dropped) for s in store.suppressions()] == [("userId", "erased", 4)]
        for part in range(PARTITIONS):  # each partition holds its users' events in SQLite's order
            numbers = [e.event["properties"]["n"] for e in store.read_after(0, ["web"], 100, part)]
            assert numbers == sorted(numbers)
        assert len({split_position(store.cursor(d, p))[0] for d in KEYS for p in range(PARTITIONS)}) == 1  # one xid
        assert store.append("web", [track(3)], time.time()).result().duplicates == 1  # the dedup key survived

        worker = Worker(
            store,
            [(d, ["web"]) for d in config.destinations],
            RetryPolicy(base=10, cap=300, window=4 * 3600),
            DeliveryOptions(batch_size=5, batch_age=0, poll_interval=0.01, lease_ttl=2),
            client_factory=lambda d: d.create_client(transport=sandbox.transport()),
        )
        expected = Counter({("a", n): 1 for n in range(1, 20)} | {("b", n): 1 for n in range(20)})
        await worker.start()
        try:
            await wait_until(lambda: delivered(sandbox) == expected)
            assert ("a", 0) not in delivered(sandbox)  # still dead …
            assert (await asyncio.wrap_future(store.requeue(0, time.time() + 1, "a", time.time()))).moved == 1
            worker.wake()
            await wait_until(lambda: delivered(sandbox)[("a", 0)] == 1)  # … and replayable
            await asyncio.sleep(0.3)  # a little longer: nothing else goes out
        finally:
            await worker.stop()
        assert delivered(sandbox) == expected + Counter({("a", 0): 1})
        [a, b] = store.counts({"a": ["web"], "b": ["web"]})
        assert a.pending == b.pending == 0
        assert a.by_status == {"delivered": 20} and b.by_status == {"delivered": 20}
        rows = {(e.destination, e.message_id): e for e in log(store, 100)}
        assert rows[("a", "m1")].attempts == 2 and rows[("a", "m0")].replays == 1  # the retry went on where it was
    finally:
        store.close()


async def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_a_non_empty_target_is_refused_unless_told(history, pg_url):
    url, _, _, _ = history
    with Migration(url, pg_url, partitions=PARTITIONS) as migration:
        migration.run()
    with pytest.raises(MigrationError, match=r"is not empty \(20 events, 8 cursors\).*--into-non-empty"):
        Migration(url, pg_url, partitions=PARTITIONS)
    with Migration(url, pg_url, partitions=PARTITIONS, into_non_empty=True) as migration:
        again = migration.run()
    assert again.events == 0 and again.duplicates == 20 and again.kept_cursors == ["a", "b"]
    assert again.skipped_deliveries == 12  # the events were not copied again, nor their log rows
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM actions_1flow.deliveries").fetchone() == (12,)


def test_a_missing_or_busy_source_is_refused_before_the_target_is_touched(history, tmp_path, pg_url):
    url, _, _, _ = history
    with pytest.raises(MigrationError, match=r"no SQLite store at .*nothing to migrate"):
        Migration(f"sqlite:///{tmp_path}/nope.sqlite", pg_url, partitions=PARTITIONS)
    assert not (tmp_path / "nope.sqlite").exists()
    worker_store = SQLiteStore(tmp_path / "db.sqlite")  # a worker still delivering from it
    try:
        assert worker_store.acquire_delivery_lock() is None
        with pytest.raises(MigrationError, match=r"a worker is delivering from .*stop `serve` and `worker`"):
            Migration(url, pg_url, partitions=PARTITIONS)
    finally:
        worker_store.close()
    with psycopg.connect(pg_url) as conn:  # not even the schema was created
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'actions_1flow'").fetchone() == (0,)


def test_the_command_shows_a_summary_and_refuses_in_one_line(history, pg_url):
    url, _, _, _ = history
    runner = CliRunner()
    result = runner.invoke(main, ["migrate", "--from", url, "--to", pg_url, "--partitions", str(PARTITIONS)])
    assert result.exit_code == 0, result.output
    assert f"({PARTITIONS} partitions)" in result.stdout
    assert "events: 20\n" in result.stdout
    assert "a: cursor at event 5, 15 events pending" in result.stdout
    assert "b: cursor at event 7, 13 events pending" in result.stdout
    assert "delivery log: 10 delivered, 0 filtered, 1 retrying, 1 dead" in result.stdout
    assert "exchanges: 4, device-mode reports: 2" in result.stdout
    assert "import keys: 1" in result.stdout  # a file imported before the move stays imported after it
    moved = open_store(pg_url)
    try:
        again = moved.append_imported("web", [{"type": "track", "userId": "u", "messageId": "imported-before"}], 0)
        assert again.result().accepted == 0
    finally:
        moved.close()
    refused = runner.invoke(main, ["migrate", "--from", url, "--to", pg_url])
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and "is not empty" in refused.stderr
    wrong = runner.invoke(main, ["migrate", "--from", pg_url, "--to", url])
    assert wrong.exit_code == 2 and "--from must be an SQLite store" in wrong.stderr
