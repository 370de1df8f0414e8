"""The task that delivers one partition of one cloud-mode destination's log (the only one, on SQLite).

A round takes due retries first, then new events: up to `batch_size` of them, or fewer once the oldest has waited
`batch_age` (the 500 KB limit of one request is kept by the client, which packs the batch into as many requests as
it needs). The round is judged by `rounds` (in a thread), sent through the destination's client, and recorded with
the cursor moved past its events in one transaction, so a crash re-sends at most the batch in flight
(at-least-once: a destination's API may have no idempotency key, 1Flow's has none). A destination answering with a
retryable failure is paused (exponential backoff, never sooner than `Retry-After`) and sends nothing more until the
pause ends; its new events wait on disk, not in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .. import telemetry
from ..actions import Client, Outcome, OutcomeKind
from .options import DeliveryOptions
from .records import DeliveryRecord, Lease, LeaseLost, StoredEvent, StoreUnavailable
from .retry import RetryPolicy
from .rounds import CloudDestination, Pending, Round, Rules, decide_all
from .store import DeliveryLedger
from .suppression import SuppressionList

log = logging.getLogger("actions_1flow.worker")
T = TypeVar("T")

MAX_PAUSE_CHECK_S = 60.0
"""A paused destination still looks at least this often whether it should stop."""
FAILURE_BACKOFF_S = 0.5
"""The wait after a round failed on an error (not a destination's answer); it doubles with each failure in a row."""
MAX_FAILURE_BACKOFF_S = 30.0
FAILURE_SUMMARY_S = 60.0
"""While rounds keep failing, one summary line per this many seconds (the first failure has the traceback)."""


@dataclass(slots=True)
class Pacing:
    """What the tasks of all of one destination's partitions in one process share: the pause after retryable
    failures (1Flow being down is one fact, not one per partition), and the one round in flight. A process sends
    one round at a time per destination, as with a single partition, so a killed worker repeats at most one batch,
    and more throughput comes from more workers, each with its own share of the partitions."""

    paused_until: float = 0.0
    failures: int = 0
    pause_reason: str | None = None
    """Why the destination was last paused (the retryable answer)."""
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)
    rate: float | None = None
    """Requests a second this process may send the destination (its share of `max_requests_per_second`)."""
    next_send_at: float = 0.0
    """(monotonic) When the next request may go, the rate allowing."""

    async def throttle(self) -> None:
        """Wait until the rate allows the next request."""
        wait = self.next_send_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def spent(self, requests: int) -> None:
        """`requests` went out back to back and have been answered: the next may go `requests / rate` seconds
        after the last answer (after it, not after the request left: the destination can never see two requests
        closer together than the rate allows, however long each took)."""
        if self.rate and requests:
            self.next_send_at = time.monotonic() + requests / self.rate


class FailureStreak:
    """Rounds failing one after another on the same error (a damaged store fails every round): the first failure
    is logged with its traceback, then a one-line summary at most every `FAILURE_SUMMARY_S`, and the task waits
    longer after each (doubling from `FAILURE_BACKOFF_S` up to `MAX_FAILURE_BACKOFF_S`) instead of retrying at once."""

    def __init__(self, what: str, clock: Callable[[], float]) -> None:
        self.what = what
        self.clock = clock
        self.count = 0
        self._since = 0.0
        self._summarised = 0.0
        self._summarised_count = 0

    def failed(self) -> float:
        """Log the failure being handled (once in full, then in summaries); the seconds to wait before the next try."""
        now = self.clock()
        self.count += 1
        if self.count == 1:
            self._since = self._summarised = now
            log.exception("%s: delivery round failed; retrying with a growing pause", self.what)
        elif now - self._summarised >= FAILURE_SUMMARY_S:
            log.error(
                "%s: still failing, %d failed rounds since %.0fs ago (last: %s)",
                self.what,
                self.count - self._summarised_count,
                now - self._since,
                _last_error(),
            )
            self._summarised, self._summarised_count = now, self.count
        return min(MAX_FAILURE_BACKOFF_S, FAILURE_BACKOFF_S * 2 ** min(self.count - 1, 16))

    def ended(self) -> None:
        if self.count:
            log.warning("%s: delivery works again after %d failed rounds", self.what, self.count)
            self.count = 0


def _last_error() -> str:
    exc = sys.exc_info()[1]
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown"


class LeaseExpired(Exception):
    """This task's lease may have lapsed: it stops without sending or recording."""


class DestinationWorker:
    """Delivers one partition (the only one, on SQLite) of one cloud-mode destination's log; `run()` until `stop`
    is set or its lease is gone.

    While a round is being sent and recorded, the next batch of new events is read and evaluated (in a thread), so
    the engine's work overlaps the destination's answer and the commit. Only one batch is ever sent and not yet
    recorded.
    """

    def __init__(
        self,
        store: DeliveryLedger,
        destination: CloudDestination,
        sources: list[str],
        policy: RetryPolicy,
        options: DeliveryOptions | None = None,
        *,
        partition: int = 0,
        lease: Lease | None = None,
        holds: Callable[[], bool] | None = None,
        client: Client | None = None,
        client_factory: Callable[[Any], Client] | None = None,
        pacing: Pacing | None = None,
        suppressions: SuppressionList | None = None,
    ) -> None:
        """`lease` fences the store writes; `holds()` says whether it may still be held (checked before every send
        and record). `client`, `pacing` and `suppressions` may be shared with the destination's other partitions
        (then the owner closes the client); without `suppressions`, nobody is suppressed."""
        self.store = store
        self.destination = destination
        self.sources = sources
        self.policy = policy
        self.options = options = options or DeliveryOptions()
        self.clock = options.clock
        self._owns_client = client is None
        if client is None:
            client = client_factory(destination) if client_factory is not None else destination.create_client()
        self.client = client
        self.partition = partition
        self.lease = lease
        self.holds = holds or (lambda: True)
        self.pacing = pacing or Pacing()
        self.suppressions = suppressions
        self.rules = Rules(destination, suppressions.matches if suppressions is not None else lambda event: None)
        self._cursor = 0
        """The destination's cursor as last recorded."""
        self._taken = 0
        """The newest event already put into a round (ahead of `_cursor` while a round is in flight)."""
        self._buffer: list[StoredEvent] = []
        """New events read but not put into a round yet (a batch still filling up); at most `batch_size`."""
        self._send_at: float | None = None
        self._ahead: asyncio.Future[Round | None] | None = None
        self._wake = asyncio.Event()
        self.executor: Executor | None = None
        """Threads for store reads and the engine (the loop's default pool when None)."""

    @property
    def name(self) -> str:
        return self.destination.name

    @property
    def paused_until(self) -> float:
        return self.pacing.paused_until

    @paused_until.setter
    def paused_until(self, value: float) -> None:
        self.pacing.paused_until = value

    def _thread(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args))

    def wake(self) -> None:
        """New events were stored: look now instead of at the next poll."""
        self._wake.set()

    async def load_cursor(self) -> int:
        """Start from the destination's recorded cursor (created at the end of the log for a new destination)."""
        self._cursor = self._taken = await asyncio.wrap_future(self.store.ensure_cursor(self.name, self.partition))
        self._buffer = []
        return self._cursor

    async def run(self, stop: asyncio.Event) -> None:
        loaded = False
        unavailable = False
        failing = FailureStreak(f"destination {self.name} partition {self.partition}", self.clock)
        try:
            while not stop.is_set():
                try:
                    if not loaded:
                        await self.load_cursor()
                        loaded = True
                    worked = await self.step()
                    unavailable = False
                    failing.ended()
                except (LeaseExpired, LeaseLost) as exc:  # another worker delivers this partition now
                    log.warning(
                        "destination %s partition %d: stopping, %s", self.name, self.partition, exc or "lease lapsed"
                    )
                    return
                except StoreUnavailable as exc:  # the database is down: wait, then start again from what it recorded
                    if not unavailable:
                        log.warning("destination %s: pausing, %s", self.name, exc)
                    unavailable = True
                    await self._discard_ahead()
                    loaded = False
                    worked = False
                except Exception:  # a bug or a damaged store must not end delivery for good: log, try again later
                    await self._discard_ahead()
                    loaded = False  # start again from what the store recorded
                    with contextlib.suppress(TimeoutError):  # a backoff no new event cuts short
                        await asyncio.wait_for(stop.wait(), failing.failed())
                    continue
                if not worked:
                    await self._idle(stop)
        finally:
            await self._discard_ahead()
            if self._owns_client:
                await self.client.aclose()

    async def _idle(self, stop: asyncio.Event) -> None:
        now = self.clock()
        if self.paused_until > now:
            delay, wakeable = min(self.paused_until - now, MAX_PAUSE_CHECK_S), False
        else:
            delay, wakeable = self.options.poll_interval, True
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
        if self._ahead is None:
            self._ahead = self._thread(self._prepare_new)
        # Due retries are looked at every round, after the last one was recorded (its retries' rows would still
        # look due before), while the new events are read and evaluated in another thread.
        current = await self._thread(self._prepare_due)
        if current is None:
            ahead, self._ahead = self._ahead, None
            current = await ahead
            if current is not None:  # the next batch is read and evaluated while this one is sent and recorded
                self._ahead = self._thread(self._prepare_new)
        if current is None:
            return False
        try:
            sent = await self._complete(current)
        except BaseException:
            await self._discard_ahead()
            raise
        if not sent:  # paused meanwhile by another partition's round, or the store is down: read it all again later
            await self._discard_ahead()
            self._rewind()
            return False
        if current.events is not None:
            self._cursor = current.events[-1].position
        if self.clock() < self.paused_until:  # it failed: what was prepared ahead waits for the pause to end
            await self._discard_ahead()
        return True

    def _prepare_due(self) -> Round | None:
        """(In a thread.) Due retries (and replays), evaluated; None when none is due."""
        if self.suppressions is not None:
            self.suppressions.refresh_if_due()
        due = self.store.due(self.name, self.clock(), self.options.batch_size, self.partition)
        return self.rules.evaluate_due(due) if due else None

    def _prepare_new(self) -> Round | None:
        """(In a thread.) The next batch of new events, evaluated, once it is full or its oldest event has waited
        `batch_age`; None when there is nothing to send yet."""
        if self.suppressions is not None:
            self.suppressions.refresh_if_due()
        now = self.clock()
        batch_size = self.options.batch_size
        room = batch_size - len(self._buffer)
        if room > 0:
            after = self._buffer[-1].position if self._buffer else self._taken
            self._buffer.extend(self.store.read_after(after, self.sources, room, self.partition))
        self._send_at = None
        if not self._buffer:
            return None
        if len(self._buffer) < batch_size and now - self._buffer[0].received_at < self.options.batch_age:
            self._send_at = self._buffer[0].received_at + self.options.batch_age  # wait a little for a fuller batch
            return None
        events, self._buffer = self._buffer, []
        self._taken = events[-1].position
        return self.rules.evaluate_new(events)

    async def _discard_ahead(self) -> None:
        """Drop the round prepared ahead; its events are read again later, from the cursor. One that failed is
        dropped with its error: the round that failed beside it (the store down, say) is the one reported."""
        if self._ahead is None:
            return
        ahead, self._ahead = self._ahead, None
        try:
            await ahead
        except Exception as exc:
            log.debug("destination %s: the round read ahead failed too: %s", self.name, exc)
        self._rewind()

    def _rewind(self) -> None:
        self._taken = self._cursor
        self._buffer = []

    async def _complete(self, current: Round) -> bool:
        """Send what is ready, decide every outcome, record them (and move the cursor) in one transaction; the
        destination's one round in flight in this process. False when it sent nothing: paused meanwhile, or the
        store is unreachable."""
        async with self.pacing.sending:
            # Paused by another partition's round, or the store is down (its outcome could not be recorded, and a
            # round sent now would be sent again): send nothing, read the round again later.
            if self.clock() < self.paused_until or self.store.unavailable is not None:
                return False
            await self._send_and_record(current)
            return True

    async def _send_and_record(self, current: Round) -> None:
        sendable = current.pending
        if not self.holds():
            raise LeaseExpired(f"the lease on partition {self.partition} was not renewed in time")
        if sendable:
            await self._send(sendable)
        now = self.clock()
        records = current.settled
        records.extend(decide_all(sendable, now, self.policy, self.paused_until))
        dead = [r for r in records if r.status == "dead"]
        if dead:
            log.warning(
                "destination %s: %d deliveries dead-lettered: %s (%s)",
                self.name,
                len(dead),
                dead[0].error,
                dead[0].hint,
            )
        cursor = current.events[-1].position if current.events else None
        # Recorded even if the lease lapsed meanwhile: the store's fence decides, and a recorded round is one the
        # next holder does not send again.
        await asyncio.wrap_future(
            self.store.record(self.name, records, cursor, self.partition, self.lease, current.replaced)
        )
        _count_records(self.name, records)

    async def _send(self, sendable: list[Pending]) -> None:
        owner: dict[int, Pending] = {}
        messages = []
        for p in sendable:
            p.outcomes = []
            for message in p.result.messages:  # type: ignore[union-attr]
                owner[id(message)] = p
                messages.append(message)
        await self.pacing.throttle()
        outcomes = await self.client.send_batch(messages, stop_on_retryable=True)
        self.pacing.spent(_count_exchanges(self.name, outcomes))
        for outcome in outcomes:
            for message in outcome.messages:
                owner[id(message)].outcomes.append(outcome)  # type: ignore[union-attr]
        retryable = [o for o in outcomes if o.kind is OutcomeKind.RETRYABLE]
        if retryable:
            self.pacing.failures += 1
            retry_after = max((o.retry_after or 0.0) for o in retryable)
            self.paused_until = self.clock() + self.policy.delay(self.pacing.failures, retry_after)
            self.pacing.pause_reason = retryable[0].summary()
            log.warning(
                "destination %s paused for %.1fs: %s",
                self.name,
                self.paused_until - self.clock(),
                retryable[0].summary(),
            )
        elif any(o.delivered for o in outcomes):
            self.pacing.failures = 0


def _count_exchanges(destination: str, outcomes: list[Outcome]) -> int:
    """Each request's answer code and duration, for `/metrics` (an exchange shared by several outcomes once);
    returns how many requests there were."""
    seen: set[int] = set()
    for outcome in outcomes:
        ex = outcome.exchange
        if ex is None or id(ex) in seen:
            continue
        seen.add(id(ex))
        telemetry.API_RESPONSES.labels(destination, str(ex.status) if ex.status is not None else "error").inc()
        if ex.elapsed_ms is not None:
            telemetry.DELIVERY_SECONDS.labels(destination).observe(ex.elapsed_ms / 1000.0)
    return len(seen)


def _count_records(destination: str, records: list[DeliveryRecord]) -> None:
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    for status, n in by_status.items():
        telemetry.DELIVERIES.labels(destination, status).inc(n)
