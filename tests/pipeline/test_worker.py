"""The delivery worker against the in-process sandbox: batching by size, bytes and age; pause and Retry-After;
retry window; dead letters; at-least-once across a failed commit; isolation between destinations; the delivery
lock; pruning by the dedup window."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from actions_1flow.config import parse_config
from actions_1flow.pipeline import RetryPolicy, SQLiteStore, StoreUnavailable
from actions_1flow.pipeline.options import DeliveryOptions
from actions_1flow.pipeline.partition import DestinationWorker
from actions_1flow.pipeline.worker import Worker
from actions_1flow.sandbox.state import rate_report
from tests.helpers.sandbox import EU_KEY, US_KEY, InProcessSandbox

from .conftest import log, seq_of, set_cursor

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def load(tmp_path, sandbox: InProcessSandbox, destinations: dict[str, str], subscriptions: str = "presets"):
    dests = "".join(
        f"""
  - name: {name}
    mode: cloud
    sources: [web]
    settings: {{projectApiKey: "{key}", apiBaseUrl: "{sandbox.api_url()}"}}
    subscriptions: {subscriptions}"""
        for name, key in destinations.items()
    )
    text = (
        f"storage: sqlite:///{tmp_path}/db.sqlite\nsources:\n  - {{name: web, write_key: wk}}\ndestinations:{dests}\n"
    )
    return parse_config(text, "test.yaml")


def worker_for(store, config, sandbox, name="a", *, clock=None, policy=None, **options) -> DestinationWorker:
    [dest] = [d for d in config.destinations if d.name == name]
    options.setdefault("batch_age", 0.0)
    return DestinationWorker(
        store,
        dest,
        ["web"],
        policy or RetryPolicy(base=10, cap=300, window=4 * 3600),
        DeliveryOptions(clock=clock or Clock(), **options),
        client_factory=lambda d: d.create_client(transport=sandbox.transport()),
    )


@contextlib.asynccontextmanager
async def running(w: DestinationWorker) -> AsyncIterator[asyncio.Task[None]]:
    """`w` delivering in a task of its own, stopped (and awaited) on the way out."""
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await task


async def passed(store, destination: str, events: int) -> None:
    """Wait (at most ~4 s) until the destination's cursor has passed `events` events."""
    for _ in range(200):
        if seq_of(store.cursor(destination)) == events:
            return
        await asyncio.sleep(0.02)


def track(n: int, **properties) -> dict:
    return {
        "type": "track",
        "event": "E",
        "userId": f"u{n}",
        "messageId": f"m{n}",
        "properties": {"n": n, **properties},
    }


def sent(sandbox) -> list[list[int]]:
    """The event numbers of each request 1Flow answered 200, in order."""
    return [[i["properties"]["n"] for i in c["body"]["batch"]] for c in sandbox.calls("http") if c["status"] == 200]


def rows(store) -> dict[str, tuple]:
    return {e.message_id: (e.status, e.attempts) for e in log(store, 10_000)}


async def test_batches_by_size_then_by_age(tmp_path, store):
    sandbox = InProcessSandbox()
    clock = Clock()
    w = worker_for(store, load(tmp_path, sandbox, {"a": US_KEY}), sandbox, clock=clock, batch_size=4, batch_age=0.5)
    await w.load_cursor()
    store.append("web", [track(n) for n in range(10)], clock.now).result()
    assert await w.step() and await w.step()
    assert sent(sandbox) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert not await w.step()  # two left, younger than batch_age: wait for a fuller batch
    clock.now += 0.3
    store.append("web", [track(10)], clock.now).result()
    assert not await w.step()
    clock.now += 0.25  # the oldest waiting event is now 0.55 s old
    assert await w.step()
    assert sent(sandbox)[-1] == [8, 9, 10]
    assert seq_of(store.cursor("a")) == 11 and all(v == ("delivered", 1) for v in rows(store).values())


async def test_a_round_is_split_into_requests_of_at_most_500_kb(tmp_path, store):
    sandbox = InProcessSandbox()
    w = worker_for(store, load(tmp_path, sandbox, {"a": US_KEY}), sandbox, batch_size=30)
    await w.load_cursor()
    store.append("web", [track(n, blob="x" * 25_000) for n in range(30)], w.clock()).result()
    assert await w.step()
    calls = sandbox.calls("http")
    assert len(calls) == 2 and all(c["bytes"] <= 500 * 1024 for c in calls)
    assert [n for batch in sent(sandbox) for n in batch] == list(range(30))


async def test_retryable_answer_pauses_the_destination_until_retry_after(tmp_path, store):
    sandbox = InProcessSandbox()
    clock = Clock()
    w = worker_for(store, load(tmp_path, sandbox, {"a": US_KEY}), sandbox, clock=clock, batch_size=2)
    await w.load_cursor()
    sandbox.fault(status=429, retry_after="30")
    store.append("web", [track(0), track(1), track(2), track(3)], clock.now).result()
    assert await w.step()
    assert w.paused_until >= clock.now + 30
    due = {d.event.event["messageId"]: d for d in store.due("a", 1e12, 10)}
    assert set(due) == {"m0", "m1"}
    assert all(e.next_attempt_at >= clock.now + 30 and e.hint for e in log(store, 10) if e.status == "retrying")
    clock.now += 29.9
    assert not await w.step() and len(sandbox.calls("http")) == 1  # paused: nothing at all goes out
    clock.now = w.paused_until + 0.01
    assert await w.step()  # the due retries first …
    assert await w.step()  # … then the events that waited on disk
    assert sent(sandbox) == [[0, 1], [2, 3]]
    assert rows(store) == {
        "m0": ("delivered", 2),
        "m1": ("delivered", 2),
        "m2": ("delivered", 1),
        "m3": ("delivered", 1),
    }


async def test_nothing_more_is_sent_in_a_round_after_a_retryable_answer(tmp_path, store):
    sandbox = InProcessSandbox()
    w = worker_for(store, load(tmp_path, sandbox, {"a": US_KEY}), sandbox, batch_size=30)
    await w.load_cursor()
    sandbox.fault(status=503, retry_after="5")
    store.append("web", [track(n, blob="x" * 25_000) for n in range(30)], w.clock()).result()
    await w.step()
    assert [c["status"] for c in sandbox.calls("http")] == [503]  # the second request of the round was held back
    assert {status for status, _ in rows(store).values()} == {"retrying"}
    held = [e for e in log(store, 100) if e.request is None]
    assert held and all("not sent" in e.error and e.next_attempt_at >= w.clock() + 5 for e in held)


async def test_retries_give_up_after_the_window(tmp_path, store):
    sandbox = InProcessSandbox()
    clock = Clock()
    policy = RetryPolicy(base=10, cap=20, window=60)
    w = worker_for(store, load(tmp_path, sandbox, {"a": US_KEY}), sandbox, clock=clock, policy=policy)
    await w.load_cursor()
    sandbox.fault(count=100, status=500)
    store.append("web", [track(0)], clock.now).result()
    for _ in range(20):
        clock.now = max(clock.now, w.paused_until, store.next_due_at("a") or 0) + 0.01
        await w.step()
        if rows(store)["m0"][0] == "dead":
            break
    [entry] = log(store, 1)
    assert entry.status == "dead" and entry.error.startswith("gave up after") and "500" in entry.error
    assert entry.hint == "1Flow or the network failed temporarily; retry later"
    assert 3 <= entry.attempts <= 7


async def test_invalid_payload_is_dead_lettered_without_a_request(tmp_path, store):
    sandbox = InProcessSandbox()
    subs = (
        '[{name: Named, subscribe: "type = \\"track\\"", partnerAction: trackEvent, '
        'mapping: {event_name: {"@path": "$.properties.title"}, userId: {"@path": "$.userId"}}}]'
    )
    w = worker_for(store, load(tmp_path, sandbox, {"a": US_KEY}, subs), sandbox)
    await w.load_cursor()
    store.append("web", [track(0, title="ok"), track(1)], w.clock()).result()
    await w.step()
    rows = {e.message_id: e for e in log(store, 10)}
    assert rows["m0"].status == "delivered"
    assert rows["m1"].status == "dead" and "event_name" in rows["m1"].error and "fix the mapping" in rows["m1"].hint
    [call] = sandbox.calls("http")
    assert [(i["event"], i["user_id"]) for i in call["body"]["batch"]] == [("ok", "u0")]


async def test_a_failed_commit_resends_the_batch_at_least_once(tmp_path, store, monkeypatch):
    sandbox = InProcessSandbox()
    config = load(tmp_path, sandbox, {"a": US_KEY})
    w = worker_for(store, config, sandbox, clock=time.time, batch_size=5, batch_age=0, poll_interval=0.01)
    real_record, failures = store.record, []

    def record_failing_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise OSError("disk I/O error")  # 1Flow has the batch; our commit fails (or the process dies here)
        return real_record(*args, **kwargs)

    monkeypatch.setattr(store, "record", record_failing_once)
    store.ensure_cursor("a").result()
    store.append("web", [track(n) for n in range(5)], time.time()).result()
    async with running(w):
        await passed(store, "a", 5)
    assert sent(sandbox) == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]  # at-least-once: sent again, not lost
    assert all(v == ("delivered", 1) for v in rows(store).values()) and len(rows(store)) == 5


async def test_a_store_failing_under_both_reads_of_a_round_pauses_delivery_then_it_resumes(
    tmp_path, store, monkeypatch
):
    # The due retries and the next batch are read at once, in two threads: when the store fails under both (the
    # database down), delivery waits and starts again from the cursor; nothing is lost, nothing sent twice.
    sandbox = InProcessSandbox()
    config = load(tmp_path, sandbox, {"a": US_KEY})
    w = worker_for(store, config, sandbox, clock=time.time, batch_size=5, batch_age=0, poll_interval=0.01)
    real_due, real_read, down = store.due, store.read_after, [True]

    def failing(real):
        def read(*args, **kwargs):
            if down[0]:
                time.sleep(0.05)  # both reads are under way when they fail
                raise StoreUnavailable("the database is down (test)")
            return real(*args, **kwargs)

        return read

    monkeypatch.setattr(store, "due", failing(real_due))
    monkeypatch.setattr(store, "read_after", failing(real_read))
    store.ensure_cursor("a").result()
    store.append("web", [track(n) for n in range(5)], time.time()).result()
    async with running(w) as task:
        await asyncio.sleep(0.3)
        assert not task.done() and sent(sandbox) == []
        down[0] = False
        await passed(store, "a", 5)
    assert sent(sandbox) == [[0, 1, 2, 3, 4]]


async def test_a_slow_destination_never_delays_another(tmp_path, store):
    sandbox = InProcessSandbox()
    config = load(tmp_path, sandbox, {"slow": US_KEY, "fast": EU_KEY})
    sandbox.fault(duration=30, delay=3.0, key=US_KEY)  # every request with the slow key hangs for 3 s
    worker = Worker(
        store,
        [(d, ["web"]) for d in config.destinations],
        RetryPolicy(),
        DeliveryOptions(batch_size=10, batch_age=0, poll_interval=0.01),
        client_factory=lambda d: d.create_client(transport=sandbox.transport()),
    )
    await worker.start()
    try:
        await asyncio.wait_for(worker.delivering.wait(), 5)
        for first in range(0, 50, 10):
            store.append("web", [track(n) for n in range(first, first + 10)], time.time()).result()
            worker.wake()
            await asyncio.sleep(0.05)
        for _ in range(100):
            if seq_of(store.cursor("fast")) == 50:
                break
            await asyncio.sleep(0.02)
        assert seq_of(store.cursor("fast")) == 50  # all of it, while the slow destination's first request still hangs
        assert seq_of(store.cursor("slow")) == 0
        assert [c["api_key"][-4:] for c in sandbox.calls("http")] == ["Po4z"] * len(sandbox.calls("http"))
    finally:
        await worker.stop()


async def test_only_one_worker_delivers_from_an_sqlite_store_the_other_stands_by(tmp_path):
    sandbox = InProcessSandbox()
    config = load(tmp_path, sandbox, {"a": US_KEY})
    store = SQLiteStore(tmp_path / "db.sqlite")
    other_store = SQLiteStore(tmp_path / "db.sqlite")  # as a second process would open it
    options = DeliveryOptions(batch_age=0, poll_interval=0.01, lease_ttl=0.15)
    factory = lambda d: d.create_client(transport=sandbox.transport())  # noqa: E731
    first = Worker(store, [(config.destinations[0], ["web"])], RetryPolicy(), options, client_factory=factory)
    second = Worker(other_store, [(config.destinations[0], ["web"])], RetryPolicy(), options, client_factory=factory)
    await first.start()
    await asyncio.wait_for(first.delivering.wait(), 5)
    await second.start()
    try:
        store.append("web", [track(n) for n in range(3)], time.time()).result()
        for _ in range(100):
            if seq_of(store.cursor("a")) == 3:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert not second.delivering.is_set() and sent(sandbox) == [[0, 1, 2]]
        await first.stop()
        await asyncio.wait_for(second.delivering.wait(), 5)  # takes over once the first is gone
        store.append("web", [track(3)], time.time()).result()
        for _ in range(100):
            if len(sent(sandbox)) == 2:
                break
            await asyncio.sleep(0.02)
        assert sent(sandbox) == [[0, 1, 2], [3]]
    finally:
        await second.stop()
        other_store.close()
        store.close()


async def test_prune_forgets_message_ids_after_the_dedup_window(tmp_path, store):
    sandbox = InProcessSandbox()
    config = load(tmp_path, sandbox, {"a": US_KEY})
    worker = Worker(
        store,
        [(config.destinations[0], ["web"])],
        RetryPolicy(),
        DeliveryOptions(batch_age=0, poll_interval=0.01, dedup_window=2.0, prune_interval=3600),
        client_factory=lambda d: d.create_client(transport=sandbox.transport()),
    )
    await worker.start()
    try:
        await asyncio.wait_for(worker.delivering.wait(), 5)
        received = time.time()
        assert store.append("web", [track(0)], received).result().accepted == 1
        for _ in range(100):
            if seq_of(store.cursor("a")) == 1:
                break
            await asyncio.sleep(0.02)
        assert time.time() - received < 1.5, "delivered too late to see the window (a loaded machine)"
        assert await worker.prune() == 0  # within the window: kept, so a repeat is still a duplicate
        assert store.append("web", [track(0)], time.time()).result().duplicates == 1
        await asyncio.sleep(max(0.0, received + 2.05 - time.time()))
        assert await worker.prune() >= 1
        assert store.append("web", [track(0)], time.time()).result().accepted == 1  # past the window: new
    finally:
        await worker.stop()


async def test_a_retry_after_the_ordinary_dedup_window_is_still_a_duplicate_for_a_source_with_a_longer_one(
    tmp_path, store
):
    """1Flow sends an unanswered webhook again hourly for 3 days: a `1flow-survey` source keeps its messageIds for
    4 days (`app.delivery_options`), while the other sources' go after `pipeline.dedup_window`."""
    from actions_1flow.app.delivery import delivery_options

    text = f"""
storage: sqlite:///{tmp_path}/db.sqlite
sources:
  - {{name: web, write_key: wk}}
  - {{name: survey, write_key: wk_survey, webhook: {{preset: 1flow-survey}}}}
destinations:
  - {{name: a, mode: cloud, sources: [web, survey], settings: {{projectApiKey: "{US_KEY}"}}}}
"""
    config = parse_config(text, "test.yaml")
    options = delivery_options(config)
    assert options.dedup_window == 86400 and options.source_dedup_windows == {"survey": 4 * 86400}
    clock = Clock(time.time())
    worker = Worker(
        store,
        [(config.destinations[0], ["web", "survey"])],
        RetryPolicy(),
        DeliveryOptions(
            dedup_window=options.dedup_window, source_dedup_windows=options.source_dedup_windows, clock=clock
        ),
    )
    two_days_ago = clock.now - 2 * 86400
    store.append("survey", [track(0) | {"messageId": "1flow-al"}], two_days_ago).result()
    store.append("web", [track(1)], two_days_ago).result()
    set_cursor(store, "a", store.last_seq())
    assert await worker.prune() == 1  # the web event only
    assert store.append("survey", [track(0) | {"messageId": "1flow-al"}], clock.now).result().duplicates == 1
    assert store.append("web", [track(1)], clock.now).result().accepted == 1
    clock.now += 2 * 86400 + 1  # four days after the response: past 1Flow's retries, forgotten
    set_cursor(store, "a", store.last_seq())
    assert await worker.prune() >= 1
    assert store.append("survey", [track(0) | {"messageId": "1flow-al"}], clock.now).result().accepted == 1


async def test_a_destination_receives_no_more_requests_a_second_than_its_rate(tmp_path, store):
    sandbox = InProcessSandbox()
    config = load(tmp_path, sandbox, {"a": US_KEY})
    store.append("web", [track(n) for n in range(200)], time.time()).result()
    worker = Worker(
        store,
        [(config.destinations[0], ["web"])],
        RetryPolicy(base=10, cap=300, window=4 * 3600),
        DeliveryOptions(batch_size=5, batch_age=0, poll_interval=0.01, rates={"a": 20.0}),
        client_factory=lambda d: d.create_client(transport=sandbox.transport()),
    )
    await asyncio.wrap_future(store.ensure_cursor("a"))
    set_cursor(store, "a", 0)  # from the start of the log: the 200 events are history
    started = time.monotonic()
    await worker.start()
    try:
        while sum(len(numbers) for numbers in sent(sandbox)) < 200:
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    took = time.monotonic() - started
    report = rate_report(sandbox.state.arrivals)
    assert report["requests"] == 40 and report["max_in_any_second"] <= 20, report
    assert took >= 39 / 20  # 40 requests, each at least 1/20 s after the answer to the one before
