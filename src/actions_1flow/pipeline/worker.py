"""The delivery worker: reads each cloud destination's events from the store, runs them through the destination's
subscriptions, sends the resulting messages in batches through the destination's client (the kit's `Client`), and
records every outcome.

One asyncio task per destination, each with its own HTTP client, cursor and pause, so a destination that is down
or slow never delays another. A round takes due retries first, then new events: up to `batch_size` of them, or
fewer once the oldest has waited `batch_age` (the 500 KB limit of one request is kept by the client, which packs
the batch into as many requests as it needs). A destination answering with a retryable failure is paused
(exponential backoff, never sooner than `Retry-After`) and sends nothing more until the pause ends; its new events
wait on disk, not in memory. The cursor advances in the same transaction that records the outcomes of the events
it passes, so a crash re-sends at most the batch in flight (at-least-once: a destination's API may have no idempotency key, 1Flow's has none).

`Worker` runs every destination's task and, periodically, the store's clean-up (dedup window, log retention).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .. import fql
from ..actions import Client, CompiledSubscription, Outcome, OutcomeKind, Status, SubscriptionResult, run_subscription, worst
from ..config import DestinationConfig
from .retry import RetryPolicy
from .store import DeliveryRecord, DueDelivery, Store, StoredEvent
from .store import Status as RecordStatus

log = logging.getLogger("actions_1flow.worker")
T = TypeVar("T")

BATCH_SIZE = 500
"""Events per round (see `PipelineConfig.batch_size`)."""

BATCH_AGE_S = 0.5
"""The longest new events wait for a fuller batch."""

POLL_INTERVAL_S = 0.2
"""How often an idle worker looks for new events and due retries when nobody wakes it."""

MAX_PAUSE_CHECK_S = 60.0
"""A paused destination still looks at least this often whether it should stop."""

PRUNE_INTERVAL_S = 60.0
"""How often the store's clean-up runs."""

STANDBY_CHECK_S = 1.0
"""How often a worker standing by (another process delivers from the store) checks whether it can take over."""

DEDUP_WINDOW_S = 24 * 3600.0
LOG_RETENTION_S = 7 * 86400.0

_NOT_MATCHED = frozenset({Status.NOT_SUBSCRIBED, Status.DISABLED})

NO_MATCH = ""
"""The subscription name of the single `filtered` row recorded for an event that matched none of them."""

MAX_SUMMARY_CHARS = 500


@dataclass(slots=True)
class _Pending:
    """One (event, subscription) whose outcome is being decided in this round."""

    item: StoredEvent
    subscription: str
    attempts: int
    first_attempt_at: float | None
    result: SubscriptionResult | None = None
    outcomes: list[Outcome] | None = None


@dataclass(slots=True)
class _Round:
    """What one round sends and records: evaluated (event, subscription) pairs and the rows already settled."""

    pending: list[_Pending]
    """Ready to send."""
    settled: list[DeliveryRecord]
    events: list[StoredEvent] | None = None
    """New events (recording the round moves the cursor past them); None for a round of due retries."""


class DestinationWorker:
    """Delivers one cloud-mode destination's events; `run()` until `stop` is set.

    While a round is being sent and recorded, the next batch of new events is read and evaluated (in a thread), so
    the engine's work overlaps the destination's answer and the commit. Only one batch is ever sent and not yet recorded.
    """

    def __init__(
        self,
        store: Store,
        destination: DestinationConfig,
        sources: list[str],
        policy: RetryPolicy,
        *,
        client_factory: Callable[[DestinationConfig], Client] | None = None,
        clock: Callable[[], float] = time.time,
        batch_size: int = BATCH_SIZE,
        batch_age: float = BATCH_AGE_S,
        poll_interval: float = POLL_INTERVAL_S,
    ) -> None:
        self.store = store
        self.destination = destination
        self.sources = sources
        self.policy = policy
        self.client = client_factory(destination) if client_factory is not None else destination.create_client()
        self.clock = clock
        self.batch_size = batch_size
        self.batch_age = batch_age
        self.poll_interval = poll_interval
        self.paused_until = 0.0
        self._failures = 0
        self._cursor = 0
        """The destination's cursor as last recorded."""
        self._taken = 0
        """The newest event already put into a round (ahead of `_cursor` while a round is in flight)."""
        self._buffer: list[StoredEvent] = []
        """New events read but not put into a round yet (a batch still filling up); at most `batch_size`."""
        self._send_at: float | None = None
        self._ahead: asyncio.Future[_Round | None] | None = None
        self._settings = destination.setting_values()
        self._by_name = {c.name: c for c in destination.compiled}
        self._enabled = [c for c in destination.compiled if c.spec.enabled]
        self._triggers = fql.SubscriptionSet(c.trigger for c in self._enabled)
        self._wake = asyncio.Event()
        self.executor: Executor | None = None
        """Threads for store reads and the engine (the loop's default pool when None)."""

    @property
    def name(self) -> str:
        return self.destination.name

    def _thread(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args))

    def wake(self) -> None:
        """New events were stored: look now instead of at the next poll."""
        self._wake.set()

    async def load_cursor(self) -> int:
        """Start from the destination's recorded cursor (created at the end of the log for a new destination)."""
        self._cursor = self._taken = await asyncio.wrap_future(self.store.ensure_cursor(self.name))
        self._buffer = []
        return self._cursor

    async def run(self, stop: asyncio.Event) -> None:
        loaded = False
        try:
            while not stop.is_set():
                try:
                    if not loaded:
                        await self.load_cursor()
                        loaded = True
                    worked = await self.step()
                except Exception:  # a bug or a storage hiccup must not end delivery for good: log, try again later
                    log.exception("delivery round failed for destination %s", self.name)
                    await self._discard_ahead()
                    loaded = False  # start again from what the store recorded
                    worked = False
                if not worked:
                    await self._idle(stop)
        finally:
            await self._discard_ahead()
            await self.client.aclose()

    async def _idle(self, stop: asyncio.Event) -> None:
        now = self.clock()
        if self.paused_until > now:
            delay, wakeable = min(self.paused_until - now, MAX_PAUSE_CHECK_S), False
        else:
            delay, wakeable = self.poll_interval, True
            if self._send_at is not None:
                delay = min(delay, max(self._send_at - now, 0.0))
        self._wake.clear()
        waiters = [asyncio.ensure_future(stop.wait())]
        if wakeable:
            waiters.append(asyncio.ensure_future(self._wake.wait()))
        _, pending = await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def step(self) -> bool:
        """One round: due retries first, then new events. Returns whether it sent or recorded anything."""
        if self.clock() < self.paused_until:
            return False
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            current = await ahead
        else:
            current = await self._thread(self._prepare, True)
            if current is not None and current.events is not None:
                # Prepare the next batch of new events meanwhile. Not after another prepared-ahead round, so that
                # due retries are looked at every other round at least; and never after a round of retries, whose
                # rows would still look due.
                self._ahead = self._thread(self._prepare, False)
        if current is None:
            return False
        try:
            await self._complete(current)
        except BaseException:
            await self._discard_ahead()
            raise
        if current.events is not None:
            self._cursor = current.events[-1].seq
        if self.clock() < self.paused_until:  # it failed: what was prepared ahead waits for the pause to end
            await self._discard_ahead()
        return True

    def _prepare(self, include_due: bool) -> _Round | None:
        """(In a thread.) The next round, evaluated: due retries, else a batch of new events once it is full or
        its oldest event has waited `batch_age`; None when there is nothing to send yet."""
        now = self.clock()
        if include_due:
            due = self.store.due(self.name, now, self.batch_size)
            if due:
                return self._evaluate_due(due)
        room = self.batch_size - len(self._buffer)
        if room > 0:
            after = self._buffer[-1].seq if self._buffer else self._taken
            self._buffer.extend(self.store.read_after(after, self.sources, room))
        self._send_at = None
        if not self._buffer:
            return None
        if len(self._buffer) < self.batch_size and now - self._buffer[0].received_at < self.batch_age:
            self._send_at = self._buffer[0].received_at + self.batch_age  # wait a little for a fuller batch
            return None
        events, self._buffer = self._buffer, []
        self._taken = events[-1].seq
        return self._evaluate_new(events)

    async def _discard_ahead(self) -> None:
        """Drop the round prepared ahead (its events are read again later)."""
        if self._ahead is None:
            return
        ahead, self._ahead = self._ahead, None
        if await ahead is not None:
            self._rewind()

    def _rewind(self) -> None:
        self._taken = self._cursor
        self._buffer = []

    async def _complete(self, current: _Round) -> None:
        """Send what is ready, decide every outcome, record them (and move the cursor) in one transaction."""
        sendable = current.pending
        summaries: dict[int, tuple[str | None, str | None]] = {}
        if sendable:
            await self._send(sendable)
        now = self.clock()
        records = current.settled
        records.extend(self._decide(p, now, summaries) for p in sendable)
        dead = [r for r in records if r.status == "dead"]
        if dead:
            log.warning(
                "destination %s: %d deliveries dead-lettered: %s (%s)", self.name, len(dead), dead[0].error, dead[0].hint
            )
        cursor = current.events[-1].seq if current.events else None
        await asyncio.wrap_future(self.store.record(self.name, records, cursor))

    def _evaluate_new(self, events: list[StoredEvent]) -> _Round:
        """New events through every enabled subscription whose trigger matches (all triggers judged in one call
        per event); one `filtered` row for each event that none matched, so `status` can count it."""
        pending: list[_Pending] = []
        settled: list[DeliveryRecord] = []
        for item in events:
            try:
                hits = self._triggers.matches(item.event)
            except Exception:
                hits = (True,) * len(self._enabled)
            matched = False
            for compiled, hit in zip(self._enabled, hits):
                if hit:
                    matched = True
                    self._settle(_Pending(item, compiled.name, 0, None), compiled, pending, settled)
            if not matched:
                settled.append(DeliveryRecord(item.seq, NO_MATCH, "filtered", error="matched no subscription"))
        return _Round(pending, settled, events)

    def _evaluate_due(self, due: list[DueDelivery]) -> _Round:
        """Retries (and replays) through their subscription as it is configured now."""
        pending: list[_Pending] = []
        settled: list[DeliveryRecord] = []
        for d in due:
            p = _Pending(d.event, d.subscription, d.attempts, d.first_attempt_at)
            compiled = self._by_name.get(d.subscription)
            if compiled is None:  # the subscription was removed from the configuration since
                settled.append(self._record(p, "dead", error=f"subscription {d.subscription!r} no longer exists"))
            else:
                self._settle(p, compiled, pending, settled)
        return _Round(pending, settled)

    def _settle(
        self, p: _Pending, compiled: CompiledSubscription, pending: list[_Pending], settled: list[DeliveryRecord]
    ) -> None:
        """Run one (event, subscription): ready to send goes to `pending`; decided without sending (filtered,
        no longer matching, invalid) goes to `settled`."""
        p.result = result = run_subscription(self.destination.definition, compiled, p.item.event, self._settings)
        status = result.status
        if status is Status.READY:
            pending.append(p)
        elif status is Status.FILTERED or status in _NOT_MATCHED:  # not matching: the trigger changed since
            settled.append(self._record(p, "filtered", error=result.reason))
        else:
            settled.append(self._record(p, "dead", error=result.reason, hint="fix the mapping or the trigger, then replay"))

    async def _send(self, sendable: list[_Pending]) -> None:
        owner: dict[int, _Pending] = {}
        messages = []
        for p in sendable:
            p.outcomes = []
            for message in p.result.messages:  # type: ignore[union-attr]
                owner[id(message)] = p
                messages.append(message)
        outcomes = await self.client.send_batch(messages, stop_on_retryable=True)
        for outcome in outcomes:
            for message in outcome.messages:
                owner[id(message)].outcomes.append(outcome)  # type: ignore[union-attr]
        retryable = [o for o in outcomes if o.kind is OutcomeKind.RETRYABLE]
        if retryable:
            self._failures += 1
            retry_after = max((o.retry_after or 0.0) for o in retryable)
            self.paused_until = self.clock() + self.policy.delay(self._failures, retry_after)
            log.warning(
                "destination %s paused for %.1fs: %s", self.name, self.paused_until - self.clock(), retryable[0].summary()
            )
        elif any(o.delivered for o in outcomes):
            self._failures = 0

    def _decide(self, p: _Pending, now: float, summaries: dict[int, tuple[str | None, str | None]]) -> DeliveryRecord:
        outcomes = p.outcomes or []
        attempts = p.attempts + 1
        first = p.first_attempt_at or now
        decisive = worst(outcomes)
        shown = decisive or (outcomes[0] if outcomes else None)
        summary = summaries.get(id(shown))
        if summary is None:
            summary = summaries[id(shown)] = _summaries(shown)
        if decisive is None:
            return self._record(p, "delivered", attempts=attempts, first=first, summary=summary)
        if decisive.kind is OutcomeKind.PERMANENT:
            return self._record(p, "dead", attempts=attempts, first=first, error=decisive.reason, hint=decisive.hint, summary=summary)
        next_at = self.policy.next_attempt(attempts, first, now, decisive.retry_after)
        if next_at is None:
            error = f"gave up after {attempts} attempts over {now - first:.0f}s: {decisive.reason}"
            return self._record(p, "dead", attempts=attempts, first=first, error=error, hint=decisive.hint, summary=summary)
        next_at = max(next_at, self.paused_until)
        return self._record(
            p, "retrying", attempts=attempts, first=first, next_at=next_at, error=decisive.reason, hint=decisive.hint, summary=summary
        )

    @staticmethod
    def _record(
        p: _Pending,
        status: RecordStatus,
        *,
        attempts: int | None = None,
        first: float | None = None,
        next_at: float | None = None,
        error: str | None = None,
        hint: str | None = None,
        summary: tuple[str | None, str | None] = (None, None),
    ) -> DeliveryRecord:
        return DeliveryRecord(
            p.item.seq, p.subscription, status,
            attempts=p.attempts if attempts is None else attempts,
            first_attempt_at=first if first is not None else p.first_attempt_at,
            next_attempt_at=next_at,
            error=error, hint=hint, request=summary[0], response=summary[1],
        )


def _summaries(outcome: Outcome | None) -> tuple[str | None, str | None]:
    """Short request/response lines for the delivery log. The key is shown masked, as the client recorded it."""
    if outcome is None or outcome.exchange is None:
        return (None, outcome.reason if outcome else None)
    ex = outcome.exchange
    keys = ", ".join(f"{name}: {value}" for name, value in ex.request_headers.items() if "key" in name.lower())
    request = f"{ex.method} {ex.url} [{keys}] ({len(outcome.messages)} message(s), {len(ex.request_body)} bytes)"
    if ex.status is None:
        response = ex.error or outcome.reason
    else:
        response = f"{ex.status} {ex.response_body}"
    return request[:MAX_SUMMARY_CHARS], (response or "")[:MAX_SUMMARY_CHARS]


class Worker:
    """All cloud-mode destinations of a configuration, delivered concurrently and independently, plus the store's
    periodic clean-up (events past the dedup window, dead letters past the log retention).

    Only one process delivers from a store: a worker that finds the store's delivery lock taken (a `serve` with its
    worker and a separate `worker`, say) stands by and takes over when the other process ends.
    """

    def __init__(
        self,
        store: Store,
        destinations: list[tuple[DestinationConfig, list[str]]],
        policy: RetryPolicy,
        *,
        dedup_window: float = DEDUP_WINDOW_S,
        log_retention: float = LOG_RETENTION_S,
        prune_interval: float = PRUNE_INTERVAL_S,
        **options: Any,
    ) -> None:
        self.store = store
        self.workers = [DestinationWorker(store, dest, sources, policy, **options) for dest, sources in destinations]
        self.dedup_window = dedup_window
        self.log_retention = log_retention
        self.prune_interval = prune_interval
        self.clock: Callable[[], float] = options.get("clock", time.time)
        self.delivering = asyncio.Event()
        """Set once this worker holds the delivery lock and runs."""
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        for worker in self.workers:
            worker.wake()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="worker")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _supervise(self) -> None:
        try:
            await self._deliver_when_allowed()
        except Exception:
            log.exception("the delivery worker stopped on an error: cloud-mode events are not being delivered")
            raise

    async def _deliver_when_allowed(self) -> None:
        holder = await asyncio.to_thread(self.store.acquire_delivery_lock)
        if holder is not None:
            log.warning("another worker delivers from this store (%s); standing by to take over", holder)
        while holder is not None:
            if await self._stopped_within(STANDBY_CHECK_S):
                return
            holder = await asyncio.to_thread(self.store.acquire_delivery_lock)
            if holder is None:
                log.warning("the other worker is gone: taking over delivery")
        # One thread per destination plus one: a destination busy reading or evaluating never waits for another's.
        executor = ThreadPoolExecutor(max_workers=len(self.workers) + 1, thread_name_prefix="deliver")
        for worker in self.workers:
            worker.executor = executor
        self.delivering.set()
        try:
            tasks = [asyncio.create_task(w.run(self._stop), name=f"deliver:{w.name}") for w in self.workers]
            tasks.append(asyncio.create_task(self._prune_loop(), name="prune"))
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            executor.shutdown(wait=True)
            self.store.release_delivery_lock()

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def prune(self) -> int:
        """Run the clean-up now, one short transaction per chunk; returns the rows removed."""
        now = self.clock()
        names = [w.name for w in self.workers]
        removed = 0
        after: int | None = 0
        while after is not None:
            n, after = await asyncio.wrap_future(
                self.store.prune(now - self.dedup_window, now - self.log_retention, names, after)
            )
            removed += n
        return removed

    async def _prune_loop(self) -> None:
        while not self._stop.is_set():
            try:
                removed = await self.prune()
                if removed:
                    log.info("pruned %d rows past the dedup window / log retention", removed)
            except Exception:
                log.exception("pruning the store failed; trying again in %.0fs", self.prune_interval)
            if await self._stopped_within(self.prune_interval):
                return
