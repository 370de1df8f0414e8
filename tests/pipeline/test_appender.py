"""Group appends: requests arriving while a write is in flight share the next write; everyone learns the outcome."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future

import pytest

from actions_1flow.pipeline.appender import MAX_GROUP_EVENTS, GroupAppender
from actions_1flow.pipeline.store import AppendResult, StoreError


class SlowStore:
    """Completes each append from another thread after `delay`, like the SQLite writer; can fail on demand."""

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.writes: list[tuple[str, list[dict]]] = []
        self.fail_next = False

    def append(self, source, events, received_at):
        self.writes.append((source, list(events)))
        future: Future = Future()
        fail, self.fail_next = self.fail_next, False

        def finish():
            time.sleep(self.delay)
            future.set_exception(OSError("disk full")) if fail else future.set_result(AppendResult(len(events), 0))

        threading.Thread(target=finish).start()
        return future


@pytest.mark.anyio
async def test_concurrent_requests_share_writes_and_all_are_stored():
    store, notified = SlowStore(), []
    appender = GroupAppender(store, lambda: notified.append(1))
    requests = [(("a", "b")[i % 2], [{"n": i}, {"n": i + 1000}]) for i in range(60)]
    await asyncio.gather(*(appender.append(source, events) for source, events in requests))
    written = {(source, e["n"]) for source, events in store.writes for e in events}
    assert written == {(source, e["n"]) for source, events in requests for e in events}
    assert len(store.writes) < 10  # 60 requests, a handful of writes: the first alone, then groups
    assert len(notified) == len(store.writes)


@pytest.mark.anyio
async def test_a_failed_write_fails_its_requests_only():
    store = SlowStore()
    appender = GroupAppender(store, lambda: None)
    store.fail_next = True
    first = asyncio.ensure_future(appender.append("a", [{"n": 0}]))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(appender.append("a", [{"n": i}])) for i in range(1, 5)]
    with pytest.raises(OSError):
        await first
    await asyncio.gather(*rest)  # the next write (carrying the four others) succeeds
    assert [len(events) for _, events in store.writes] == [1, 4]


@pytest.mark.anyio
async def test_groups_are_capped():
    store = SlowStore()
    appender = GroupAppender(store, lambda: None)
    big = [{"n": i} for i in range(MAX_GROUP_EVENTS // 2 + 1)]
    await asyncio.gather(*(appender.append("a", big) for _ in range(5)))
    assert max(len(events) for _, events in store.writes) <= MAX_GROUP_EVENTS
    assert sum(len(events) for _, events in store.writes) == 5 * len(big)


@pytest.mark.anyio
async def test_a_closed_store_refuses_at_once():
    class Closed:
        def append(self, *args):
            raise StoreError("the store is closed")

    with pytest.raises(StoreError):
        await GroupAppender(Closed(), lambda: None).append("a", [{"n": 1}])
