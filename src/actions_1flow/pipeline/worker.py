"""The delivery worker: reads each cloud destination's events from the store, runs them through the destination's
subscriptions, sends the resulting messages in batches through the destination's client (the kit's `Client`), and
records every outcome.

One asyncio task per destination, each with its own HTTP client, cursor and pause, so a destination that is down
or slow never delays another. A round takes due retries first, then new events: up to `batch_size` of them, or
fewer once the oldest has waited `batch_age` (the 500 KB limit of one request is kept by the client, which packs
the batch into as many requests as it needs). A destination answering with a retryable failure is paused
(exponential backoff, never sooner than `Retry-After`) and sends nothing more until the pause ends; its new events
wait on disk, not in memory. The cursor advances in the same transaction that records the outcomes of the events
it passes, so a crash re-sends at most the batch in flight (at-least-once: a destination's API may have no
idempotency key, 1Flow's has none).

`Worker` holds leases on partitions of the destinations' logs (all of them on SQLite, a fair share among the live
workers on PostgreSQL), runs one such task per leased partition, and, periodically, the store's clean-up (dedup
window, log retention). A task stops, without sending or recording anything more, as soon as its lease may have
lapsed: the worker renews leases every third of `lease_ttl`, and a lease counts as held only until `lease_ttl`
after the last renewal was *asked for* (so a worker frozen or cut off from the database stops before anyone else
can take over).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .. import fql, privacy, telemetry
from ..actions import (
    Client,
    CompiledSubscription,
    Outcome,
    OutcomeKind,
    Status,
    SubscriptionResult,
    run_subscription,
    worst,
)
from ..actions.delivery import Target
from ..privacy import ConsentRule, FieldRule
from .retry import RetryPolicy
from .store import DeliveryRecord, DueDelivery, FilterReason, Lease, LeaseLost, Store, StoredEvent, StoreUnavailable
from .store import Status as RecordStatus
from .suppression import SUPPRESSED, SuppressionList

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

LEASE_TTL_S = 10.0
"""How long a lease lasts without renewal (see `PipelineConfig.lease_ttl`); renewed every third of it."""

DEDUP_WINDOW_S = 24 * 3600.0
LOG_RETENTION_S = 7 * 86400.0

_NOT_MATCHED = frozenset({Status.NOT_SUBSCRIBED, Status.DISABLED})

NO_MATCH = ""
"""The subscription name of the single `filtered` row recorded for an event that matched none of them."""

MAX_SUMMARY_CHARS = 500


@dataclass(slots=True)
class Pacing:
    """What the tasks of all of one destination's partitions in one process share: the pause after retryable
    failures (1Flow being down is one fact, not one per partition), and the one round in flight. A process sends
    one round at a time per destination, as with a single partition, so a killed worker repeats at most one batch,
    and more throughput comes from more workers, each with its own share of the partitions."""

    paused_until: float = 0.0
    failures: int = 0
    pause_reason: str | None = None
    """Why the destination was last paused (the retryable answer), for the console's destinations page."""
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)


class DestinationConfig(Target, Protocol):
    """A cloud-mode destination as the worker needs it (the configuration's `DestinationConfig` is one): the
    kit's target, its privacy rules, and its client."""

    @property
    def consent(self) -> ConsentRule | None: ...

    @property
    def privacy(self) -> FieldRule: ...

    def create_client(self) -> Client: ...


class LeaseExpired(Exception):
    """This task's lease may have lapsed: it stops without sending or recording."""


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
    """Delivers one partition (the only one, on SQLite) of one cloud-mode destination's log; `run()` until `stop`
    is set or its lease is gone.

    While a round is being sent and recorded, the next batch of new events is read and evaluated (in a thread), so
    the engine's work overlaps the destination's answer and the commit. Only one batch is ever sent and not yet
    recorded.
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
        partition: int = 0,
        lease: Lease | None = None,
        holds: Callable[[], bool] | None = None,
        client: Client | None = None,
        pacing: Pacing | None = None,
        suppressions: SuppressionList | None = None,
    ) -> None:
        """`lease` fences the store writes; `holds()` says whether it may still be held (checked before every send
        and record). `client`, `pacing` and `suppressions` may be shared with the destination's other partitions
        (then the owner closes the client)."""
        self.store = store
        self.destination = destination
        self.sources = sources
        self.policy = policy
        self._owns_client = client is None
        if client is None:
            client = client_factory(destination) if client_factory is not None else destination.create_client()
        self.client = client
        self.clock = clock
        self.batch_size = batch_size
        self.batch_age = batch_age
        self.poll_interval = poll_interval
        self.partition = partition
        self.lease = lease
        self.holds = holds or (lambda: True)
        self.pacing = pacing or Pacing()
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
        self._consent = destination.consent
        self._drop = destination.privacy.drop
        self.suppressions = suppressions if suppressions is not None else SuppressionList(store)
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
        try:
            while not stop.is_set():
                try:
                    if not loaded:
                        await self.load_cursor()
                        loaded = True
                    worked = await self.step()
                    unavailable = False
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
                except Exception:  # a bug or a storage hiccup must not end delivery for good: log, try again later
                    log.exception("delivery round failed for destination %s", self.name)
                    await self._discard_ahead()
                    loaded = False  # start again from what the store recorded
                    worked = False
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

    def _prepare(self, include_due: bool) -> _Round | None:
        """(In a thread.) The next round, evaluated: due retries, else a batch of new events once it is full or
        its oldest event has waited `batch_age`; None when there is nothing to send yet."""
        now = self.clock()
        self.suppressions.refresh_if_due()
        if include_due:
            due = self.store.due(self.name, now, self.batch_size, self.partition)
            if due:
                return self._evaluate_due(due)
        room = self.batch_size - len(self._buffer)
        if room > 0:
            after = self._buffer[-1].position if self._buffer else self._taken
            self._buffer.extend(self.store.read_after(after, self.sources, room, self.partition))
        self._send_at = None
        if not self._buffer:
            return None
        if len(self._buffer) < self.batch_size and now - self._buffer[0].received_at < self.batch_age:
            self._send_at = self._buffer[0].received_at + self.batch_age  # wait a little for a fuller batch
            return None
        events, self._buffer = self._buffer, []
        self._taken = events[-1].position
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

    async def _complete(self, current: _Round) -> bool:
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

    async def _send_and_record(self, current: _Round) -> None:
        sendable = current.pending
        summaries: dict[int, tuple[str | None, str | None]] = {}
        if not self.holds():
            raise LeaseExpired(f"the lease on partition {self.partition} was not renewed in time")
        if sendable:
            await self._send(sendable)
        now = self.clock()
        records = current.settled
        records.extend(self._decide(p, now, summaries) for p in sendable)
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
        await asyncio.wrap_future(self.store.record(self.name, records, cursor, self.partition, self.lease))
        _count_records(self.name, records)

    def _privacy(self, item: StoredEvent) -> tuple[StoredEvent, tuple[FilterReason, str] | None]:
        """The event as this destination may see it (its `privacy.drop` paths removed), or why it may not see it
        at all: its user is suppressed, or the visitor's consent stamp lacks a category (judged on the event as
        received: dropping paths never changes the consent decision)."""
        if self.suppressions.matches(item.event) is not None:
            return item, (FilterReason.SUPPRESSED, SUPPRESSED)
        refused = privacy.consent_verdict(item.event, self._consent)
        if refused is not None:
            return item, (FilterReason.CONSENT, refused)
        if self._drop:
            item = item._replace(event=privacy.drop_paths(item.event, self._drop))
        return item, None

    def _evaluate_new(self, events: list[StoredEvent]) -> _Round:
        """New events through every enabled subscription whose trigger matches (all triggers judged in one call
        per event); one `filtered` row for each event that none matched, or that privacy keeps from this
        destination (consent, suppression: the reason in its error), so `status` can count it."""
        pending: list[_Pending] = []
        settled: list[DeliveryRecord] = []
        for item in events:
            item, refused = self._privacy(item)
            if refused is not None:
                settled.append(DeliveryRecord(item.seq, NO_MATCH, "filtered", error=refused[1], reason=refused[0]))
                continue
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
                settled.append(
                    DeliveryRecord(
                        item.seq, NO_MATCH, "filtered", error="matched no subscription", reason=FilterReason.NO_MATCH
                    )
                )
        return _Round(pending, settled, events)

    def _evaluate_due(self, due: list[DueDelivery]) -> _Round:
        """Retries (and replays) through their subscription and the privacy rules as configured now."""
        pending: list[_Pending] = []
        settled: list[DeliveryRecord] = []
        for d in due:
            item, refused = self._privacy(d.event)
            p = _Pending(item, d.subscription, d.attempts, d.first_attempt_at)
            compiled = self._by_name.get(d.subscription)
            if refused is not None:  # consent or suppression, as configured or recorded since
                settled.append(self._record(p, "filtered", error=refused[1], reason=refused[0]))
            elif compiled is None:  # the subscription was removed from the configuration since
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
        elif status is Status.FILTERED:  # the action chose not to send it
            settled.append(self._record(p, "filtered", error=result.reason, reason=FilterReason.REFUSED))
        elif status in _NOT_MATCHED:  # a retry no longer matching: the trigger changed since
            settled.append(self._record(p, "filtered", error=result.reason, reason=FilterReason.NO_MATCH))
        else:
            settled.append(
                self._record(p, "dead", error=result.reason, hint="fix the mapping or the trigger, then replay")
            )

    async def _send(self, sendable: list[_Pending]) -> None:
        owner: dict[int, _Pending] = {}
        messages = []
        for p in sendable:
            p.outcomes = []
            for message in p.result.messages:  # type: ignore[union-attr]
                owner[id(message)] = p
                messages.append(message)
        outcomes = await self.client.send_batch(messages, stop_on_retryable=True)
        _count_exchanges(self.name, outcomes)
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
            return self._record(
                p, "dead", attempts=attempts, first=first, error=decisive.reason, hint=decisive.hint, summary=summary
            )
        next_at = self.policy.next_attempt(attempts, first, now, decisive.retry_after)
        if next_at is None:
            error = f"gave up after {attempts} attempts over {now - first:.0f}s: {decisive.reason}"
            return self._record(
                p, "dead", attempts=attempts, first=first, error=error, hint=decisive.hint, summary=summary
            )
        next_at = max(next_at, self.paused_until)
        return self._record(
            p,
            "retrying",
            attempts=attempts,
            first=first,
            next_at=next_at,
            error=decisive.reason,
            hint=decisive.hint,
            summary=summary,
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
        reason: FilterReason | None = None,
    ) -> DeliveryRecord:
        return DeliveryRecord(
            p.item.seq,
            p.subscription,
            status,
            attempts=p.attempts if attempts is None else attempts,
            first_attempt_at=first if first is not None else p.first_attempt_at,
            next_attempt_at=next_at,
            error=error,
            hint=hint,
            request=summary[0],
            response=summary[1],
            reason=reason,
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


def _count_exchanges(destination: str, outcomes: list[Outcome]) -> None:
    """Each request's answer code and duration, for `/metrics` (an exchange shared by several outcomes once)."""
    seen: set[int] = set()
    for outcome in outcomes:
        ex = outcome.exchange
        if ex is None or id(ex) in seen:
            continue
        seen.add(id(ex))
        telemetry.API_RESPONSES.labels(destination, str(ex.status) if ex.status is not None else "error").inc()
        if ex.elapsed_ms is not None:
            telemetry.DELIVERY_SECONDS.labels(destination).observe(ex.elapsed_ms / 1000.0)


def _count_records(destination: str, records: list[DeliveryRecord]) -> None:
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    for status, n in by_status.items():
        telemetry.DELIVERIES.labels(destination, status).inc(n)


class Worker:
    """All cloud-mode destinations of a configuration, delivered concurrently and independently, plus the store's
    periodic clean-up (events past the dedup window, dead letters past the log retention).

    The worker delivers the partitions it holds leases on, one task each, sharing each destination's HTTP client and
    `Pacing` (its pause, and one round in flight at a time). On SQLite the lease is the store's delivery lock: one
    process delivers, another stands by and takes over when it ends. On PostgreSQL every live worker gets a fair
    share of the partitions.
    """

    def __init__(
        self,
        store: Store,
        destinations: Sequence[tuple[DestinationConfig, list[str]]],
        policy: RetryPolicy,
        *,
        dedup_window: float = DEDUP_WINDOW_S,
        log_retention: float = LOG_RETENTION_S,
        prune_interval: float = PRUNE_INTERVAL_S,
        lease_ttl: float = LEASE_TTL_S,
        worker_id: str | None = None,
        **options: Any,
    ) -> None:
        self.store = store
        self.destinations = {dest.name: (dest, sources) for dest, sources in destinations}
        self.policy = policy
        self.dedup_window = dedup_window
        self.log_retention = log_retention
        self.prune_interval = prune_interval
        self.lease_ttl = lease_ttl
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock: Callable[[], float] = options.get("clock", time.time)
        self._client_factory: Callable[[DestinationConfig], Client] | None = options.pop("client_factory", None)
        self.suppressions: SuppressionList = options.pop("suppressions", None) or SuppressionList(store)
        """The suppressed users, shared by every partition's task (and with the server, in its process)."""
        self._options = options
        self._clients: dict[str, Client] = {}
        self._pacing: dict[str, Pacing] = {}
        self.tasks: dict[tuple[str, int], tuple[DestinationWorker, asyncio.Task[None]]] = {}
        """The partitions being delivered: (destination, partition) → its worker and task."""
        self.delivering = asyncio.Event()
        """Set once this worker holds at least one lease and delivers."""
        self._valid_until: dict[Lease, float] = {}
        """(monotonic) Until when each lease surely lasts: `lease_ttl` after the heartbeat that last renewed it
        was asked for. Per lease, not per worker: a heartbeat that renews some leases says nothing of the others
        (a lease that lapsed and is taken again comes back with another epoch, as another `Lease`)."""
        self._lapses = True
        """(monotonic) Until when the leases of the last successful heartbeat surely last."""
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stops: dict[asyncio.Task[None], asyncio.Event] = {}

    @property
    def workers(self) -> list[DestinationWorker]:
        """The partitions' workers running now."""
        return [worker for worker, _ in self.tasks.values()]

    def wake(self) -> None:
        for worker in self.workers:
            worker.wake()

    def holds(self, lease: Lease) -> bool:
        """Whether `lease` may still be held: less than `lease_ttl` since its last renewal was asked for (or the
        store's leases do not lapse)."""
        return not self._lapses or time.monotonic() < self._valid_until.get(lease, 0.0)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="worker")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _supervise(self) -> None:
        # Threads for store reads and the engine: one per partition task would be many; the work is short.
        self._executor = ThreadPoolExecutor(
            max_workers=min(32, len(self.destinations) * 4 + 2), thread_name_prefix="deliver"
        )
        prune = asyncio.create_task(self._prune_loop(), name="prune")
        try:
            await self._lease_loop()
        except Exception:
            log.exception("the delivery worker stopped on an error: cloud-mode events are not being delivered")
            raise
        finally:
            held = [w.lease for w in self.workers if w.lease is not None]
            await self._stop_tasks(list(self.tasks))
            prune.cancel()
            await asyncio.gather(prune, return_exceptions=True)
            try:
                await asyncio.to_thread(self.store.release, self.id, held)
            except Exception as exc:  # the database is down: the leases expire by themselves
                log.warning("could not hand back leases (%s); they expire within %.0fs", exc, self.lease_ttl)
            for client in self._clients.values():
                await client.aclose()
            self._executor.shutdown(wait=True)

    async def _lease_loop(self) -> None:
        names = list(self.destinations)
        others_seen: str | None = ""
        unavailable = False
        while not self._stop.is_set():
            asked = time.monotonic()
            try:
                state = await asyncio.to_thread(self.store.heartbeat, self.id, names, self.lease_ttl)
            except StoreUnavailable as exc:
                if not unavailable:
                    log.warning("cannot renew delivery leases: %s", exc)
                unavailable = True
            else:
                if unavailable:
                    log.warning("the event store is reachable again: delivery resumes")
                unavailable = False
                self._lapses = state.lapses
                self._valid_until = {lease: asked + self.lease_ttl for lease in state.held + state.surplus}
                if not state.held and state.others and state.others != others_seen:
                    log.warning("another worker delivers from this store (%s); standing by to take over", state.others)
                elif state.held and others_seen and not self.tasks and self.store.partitions == 1:
                    log.warning("the other worker is gone: taking over delivery")
                others_seen = state.others
                await self._apply(state.held, state.surplus)
            if await self._stopped_within(self.lease_ttl / 3):
                return

    async def _apply(self, held: list[Lease], surplus: list[Lease]) -> None:
        """Run a task for every lease held (a new epoch means a new task, reading the cursor afresh), stop the
        others, and hand back the surplus once its tasks have stopped."""
        wanted = {(x.destination, x.partition): x for x in held}
        gone = [key for key, (worker, task) in self.tasks.items() if task.done() or wanted.get(key) != worker.lease]
        gone += [
            key for key in ((x.destination, x.partition) for x in surplus) if key in self.tasks and key not in gone
        ]
        await self._stop_tasks(gone)
        if surplus:
            await asyncio.to_thread(self.store.release, self.id, surplus)
        for key, lease in wanted.items():
            if key not in self.tasks:
                self._start_task(lease)
        if self.tasks:
            self.delivering.set()

    def _start_task(self, lease: Lease) -> None:
        dest, sources = self.destinations[lease.destination]
        if dest.name not in self._clients:
            factory = self._client_factory
            self._clients[dest.name] = factory(dest) if factory is not None else dest.create_client()
            self._pacing[dest.name] = Pacing()
        worker = DestinationWorker(
            self.store,
            dest,
            sources,
            self.policy,
            partition=lease.partition,
            lease=lease,
            holds=functools.partial(self.holds, lease),
            client=self._clients[dest.name],
            pacing=self._pacing[dest.name],
            suppressions=self.suppressions,
            **self._options,
        )
        worker.executor = self._executor
        stop = asyncio.Event()  # set by `_stop_tasks`, also when the whole worker stops
        task = asyncio.create_task(worker.run(stop), name=f"deliver:{dest.name}:{lease.partition}")
        self.tasks[(lease.destination, lease.partition)] = (worker, task)
        self._stops[task] = stop

    async def _stop_tasks(self, keys: list[tuple[str, int]]) -> None:
        """Let these partitions' tasks finish the round in flight (recording it), then forget them."""
        stopping = []
        for key in keys:
            _, task = self.tasks.pop(key)
            self._stops.pop(task).set()
            stopping.append(task)
        if stopping:
            await asyncio.gather(*stopping, return_exceptions=True)

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def prune(self) -> int:
        """Run the clean-up now, one short transaction per chunk; returns the rows removed."""
        now = self.clock()
        names = list(self.destinations)
        removed = 0
        after: int | None = 0
        while after is not None:
            n, after = await asyncio.wrap_future(
                self.store.prune(now - self.dedup_window, now - self.log_retention, names, after)
            )
            removed += n
        return removed

    async def _prune_loop(self) -> None:
        await self.delivering.wait()  # only a worker that delivers cleans up (on PostgreSQL one at a time)
        while not self._stop.is_set():
            try:
                removed = await self.prune()
                if removed:
                    log.info("pruned %d rows past the dedup window / log retention", removed)
            except Exception:
                log.exception("pruning the store failed; trying again in %.0fs", self.prune_interval)
            if await self._stopped_within(self.prune_interval):
                return
