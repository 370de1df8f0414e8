"""Group appends: the events of concurrent requests go to the store in one write per source.

While a source's write is in flight, requests accepted meanwhile wait together for the next one, the way a group
commit works: the first request of a quiet server is written at once, and under load one write (one thread
hand-off, one future) acknowledges many requests. Each request still learns its own outcome; the requests of one
write succeed or fail together.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from .store import EventLog

log = logging.getLogger("actions_1flow.server")

MAX_GROUP_EVENTS = 10_000
"""Events in one write at most (four full batches); more wait for the next write."""

_Waiter = tuple[list[dict[str, Any]], asyncio.Future[None]]


class GroupAppender:
    """`await append(source, events)` returns once the events are durable (or raises what the store raised)."""

    def __init__(self, store: EventLog, on_stored: Callable[[], None]) -> None:
        self.store = store
        self._on_stored = on_stored
        self._waiting: dict[str, list[_Waiter]] = {}
        self._writing: set[str] = set()

    async def append(self, source: str, events: list[dict[str, Any]]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(source, []).append((events, done))
        if source not in self._writing:
            self._write(source)
        await done

    def _write(self, source: str) -> None:
        waiting = self._waiting.pop(source, [])
        group: list[Any] = []
        count = 0
        while waiting and (not group or count + len(waiting[0][0]) <= MAX_GROUP_EVENTS):
            events, done = waiting.pop(0)
            group.append((events, done))
            count += len(events)
        if waiting:
            self._waiting[source] = waiting
        if not group:
            return
        loop = asyncio.get_running_loop()
        try:
            written = self.store.append(source, [e for events, _ in group for e in events], time.time())
        except Exception as exc:  # the store refused synchronously (closed)
            self._finish(source, group, exc)
            return
        self._writing.add(source)
        written.add_done_callback(lambda f: loop.call_soon_threadsafe(self._written, source, group, f))

    def _written(self, source: str, group: list[_Waiter], written: Future[Any]) -> None:
        self._writing.discard(source)
        self._finish(source, group, written.exception())
        if self._waiting.get(source):
            self._write(source)

    def _finish(self, source: str, group: list[_Waiter], error: BaseException | None) -> None:
        if error is not None:
            log.error("could not store %d request(s) from source %s: %s", len(group), source, error)
        for _, done in group:
            if not done.done():
                done.set_exception(error) if error is not None else done.set_result(None)
        if error is None:
            self._on_stored()
