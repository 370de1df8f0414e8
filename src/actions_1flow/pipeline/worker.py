"""The delivery worker: reads each cloud destination's events from the store, runs them through the destination's
subscriptions, sends the resulting 1Flow messages in batches, and records every outcome.

One asyncio task per destination, each with its own HTTP client and its own pause, so a destination that is down
or slow never delays another. A destination answering with retryable failures is paused (exponential backoff, never
sooner than `Retry-After`); while paused, its new events wait on disk rather than in memory. The cursor of a
destination advances in the same transaction that records the outcomes of the events it passes, so a crash
re-sends at most the batch that was in flight (at-least-once; 1Flow's API has no idempotency key).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..actions import Status, SubscriptionResult, run_subscription
from ..config import DestinationConfig
from ..destinations.oneflow.client import OneFlowClient, Outcome, OutcomeKind
from ..destinations.oneflow.delivery import client_for
from .retry import RetryPolicy
from .store import DeliveryRecord, Store, StoredEvent

log = logging.getLogger("actions_1flow.worker")

PAGE_EVENTS = 1_000
"""Events read from the store per round; bounds memory and the size of one recorded transaction."""

POLL_INTERVAL_S = 0.2
"""How long an idle worker waits before looking for new events (also the age at which a small batch is sent)."""

NO_MATCH = ""
"""The subscription name of the single `filtered` row recorded for an event that matched none of them."""

MAX_SUMMARY_CHARS = 500


@dataclass
class _Pending:
    """One (event, subscription) whose outcome is being decided in this round."""

    item: StoredEvent
    subscription: str
    attempts: int
    first_attempt_at: float | None
    retry: bool = False
    """A retry or a replay (as opposed to a new event)."""
    result: SubscriptionResult | None = None
    outcomes: list[Outcome] | None = None


class DestinationWorker:
    """Delivers one cloud-mode destination's events; `run()` until `stop` is set."""

    def __init__(
        self,
        store: Store,
        destination: DestinationConfig,
        sources: list[str],
        policy: RetryPolicy,
        *,
        client_factory: Callable[[DestinationConfig], OneFlowClient] = client_for,
        clock: Callable[[], float] = time.time,
        page: int = PAGE_EVENTS,
        poll_interval: float = POLL_INTERVAL_S,
    ) -> None:
        self.store = store
        self.destination = destination
        self.sources = sources
        self.policy = policy
        self.client = client_factory(destination)
        self.clock = clock
        self.page = page
        self.poll_interval = poll_interval
        self.paused_until = 0.0
        self._failures = 0
        self._settings = destination.settings.model_dump()
        self._by_name = {c.name: c for c in destination.compiled}
        self._wake = asyncio.Event()

    @property
    def name(self) -> str:
        return self.destination.name

    def wake(self) -> None:
        """New events were stored: look now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.wrap_future(self.store.ensure_cursor(self.name))
        try:
            while not stop.is_set():
                try:
                    worked = await self.step()
                except Exception:  # a bug must not end delivery for good: log it and try again later
                    log.exception("delivery round failed for destination %s", self.name)
                    worked = False
                if not worked:
                    await self._idle(stop)
        finally:
            await self.client.aclose()

    async def _idle(self, stop: asyncio.Event) -> None:
        now = self.clock()
        delay = self.poll_interval if self.paused_until <= now else min(self.paused_until - now, 60.0)
        self._wake.clear()
        waiters = [asyncio.ensure_future(stop.wait())]
        if self.paused_until <= now:
            waiters.append(asyncio.ensure_future(self._wake.wait()))
        done, pending = await asyncio.wait(waiters, timeout=max(delay, 0.0), return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def step(self) -> bool:
        """One round: due retries first, then new events. Returns whether there was anything to do."""
        now = self.clock()
        if now < self.paused_until:
            return False
        due = await asyncio.to_thread(self.store.due, self.name, now, self.page)
        if due:
            pending = [_Pending(d.event, d.subscription, d.attempts, d.first_attempt_at, retry=True) for d in due]
            await self._deliver(pending, cursor=None)
            return True
        cursor = await asyncio.to_thread(self.store.cursor, self.name)
        events = await asyncio.to_thread(self.store.read_after, cursor, self.sources, self.page)
        if not events:
            return False
        pending = [_Pending(item, name, 0, None) for item in events for name in self._by_name]
        await self._deliver(pending, cursor=events[-1].seq, events=events)
        return True

    async def _deliver(self, pending: list[_Pending], cursor: int | None, events: list[StoredEvent] | None = None) -> None:
        records = await asyncio.to_thread(self._evaluate, pending)
        sendable = [p for p in pending if p.result is not None and p.result.status is Status.READY]
        if sendable:
            await self._send(sendable)
        now = self.clock()
        records.extend(self._decide(p, now) for p in sendable)
        if events is not None:
            records.extend(self._unmatched(pending, events))
        await asyncio.wrap_future(self.store.record(self.name, records, cursor))

    def _evaluate(self, pending: list[_Pending]) -> list[DeliveryRecord]:
        """Run each (event, subscription); record the ones settled without sending (filtered, invalid)."""
        records = []
        for p in pending:
            compiled = self._by_name.get(p.subscription)
            if compiled is None:  # the subscription was removed from the configuration since
                records.append(self._record(p, "dead", error=f"subscription {p.subscription!r} no longer exists"))
                continue
            p.result = result = run_subscription(self.destination.definition, compiled, p.item.event, self._settings)
            if result.status is Status.FILTERED:
                records.append(self._record(p, "filtered", error=result.reason))
            elif p.retry and not result.matched:  # the trigger changed or the subscription was disabled since
                records.append(self._record(p, "filtered", error=result.reason))
            elif result.failed:
                records.append(self._record(p, "dead", error=result.reason, hint="fix the mapping or the trigger, then replay"))
        return records

    async def _send(self, sendable: list[_Pending]) -> None:
        owner: dict[int, _Pending] = {}
        messages = []
        for p in sendable:
            p.outcomes = []
            for message in p.result.messages:  # type: ignore[union-attr]
                owner[id(message)] = p
                messages.append(message)
        outcomes = await self.client.send_batch(messages)
        for outcome in outcomes:
            for message in outcome.messages:
                owner[id(message)].outcomes.append(outcome)  # type: ignore[union-attr]
        retryable = [o for o in outcomes if o.kind is OutcomeKind.RETRYABLE]
        if retryable:
            self._failures += 1
            retry_after = max((o.retry_after or 0.0) for o in retryable)
            self.paused_until = self.clock() + self.policy.delay(self._failures, retry_after)
            log.warning("destination %s paused for %.1fs: %s", self.name, self.paused_until - self.clock(), retryable[0].summary())
        elif any(o.delivered for o in outcomes):
            self._failures = 0

    def _decide(self, p: _Pending, now: float) -> DeliveryRecord:
        outcomes = p.outcomes or []
        attempts = p.attempts + 1
        first = p.first_attempt_at or now
        worst = next((o for o in outcomes if o.kind is OutcomeKind.PERMANENT), None) or next(
            (o for o in outcomes if o.kind is OutcomeKind.RETRYABLE), None
        )
        summary = _summaries(worst or (outcomes[0] if outcomes else None))
        if worst is None:
            return self._record(p, "delivered", attempts=attempts, first=first, summary=summary)
        if worst.kind is OutcomeKind.PERMANENT:
            return self._record(p, "dead", attempts=attempts, first=first, error=worst.reason, hint=worst.hint, summary=summary)
        next_at = self.policy.next_attempt(attempts, first, now, worst.retry_after)
        next_at = None if next_at is None else max(next_at, self.paused_until)
        if next_at is None:
            error = f"gave up after {attempts} attempts over {now - first:.0f}s: {worst.reason}"
            return self._record(p, "dead", attempts=attempts, first=first, error=error, hint=worst.hint, summary=summary)
        return self._record(
            p, "retrying", attempts=attempts, first=first, next_at=next_at, error=worst.reason, hint=worst.hint, summary=summary
        )

    def _unmatched(self, pending: list[_Pending], events: list[StoredEvent]) -> list[DeliveryRecord]:
        """One `filtered` row for each new event that no subscription matched (so `status` can count it)."""
        matched = {p.item.seq for p in pending if p.result is not None and p.result.matched}
        return [
            DeliveryRecord(e.seq, NO_MATCH, "filtered", error="matched no subscription")
            for e in events
            if e.seq not in matched
        ]

    @staticmethod
    def _record(
        p: _Pending,
        status: str,
        *,
        attempts: int | None = None,
        first: float | None = None,
        next_at: float | None = None,
        error: str | None = None,
        hint: str | None = None,
        summary: tuple[str | None, str | None] = (None, None),
    ) -> DeliveryRecord:
        return DeliveryRecord(
            p.item.seq, p.subscription, status,  # type: ignore[arg-type]
            attempts=p.attempts if attempts is None else attempts,
            first_attempt_at=first if first is not None else p.first_attempt_at,
            next_attempt_at=next_at,
            error=error, hint=hint, request=summary[0], response=summary[1],
        )


def _summaries(outcome: Outcome | None) -> tuple[str | None, str | None]:
    """Short request/response lines for the delivery log (the key is already masked by the client)."""
    if outcome is None or outcome.exchange is None:
        return (None, outcome.reason if outcome else None)
    ex = outcome.exchange
    request = f"{ex.method} {ex.url} ({len(outcome.messages)} message(s), {len(ex.request_body)} chars)"
    if ex.status is None:
        response = ex.error or outcome.reason
    else:
        response = f"{ex.status} {ex.response_body}"
    return request[:MAX_SUMMARY_CHARS], (response or "")[:MAX_SUMMARY_CHARS]


class Worker:
    """All cloud-mode destinations of a configuration, delivered concurrently and independently."""

    def __init__(self, store: Store, destinations: list[tuple[DestinationConfig, list[str]]], policy: RetryPolicy, **options: Any) -> None:
        self.workers = [DestinationWorker(store, dest, sources, policy, **options) for dest, sources in destinations]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        for worker in self.workers:
            worker.wake()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(w.run(self._stop), name=f"deliver:{w.name}") for w in self.workers]

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
