"""The delivery worker: every cloud-mode destination of a configuration delivered concurrently and independently
(one task per leased partition, `partition.DestinationWorker`), and the store's periodic clean-up.

The worker holds leases on partitions of the destinations' logs (all of them on SQLite, a fair share among the live
workers on PostgreSQL), runs one task per leased partition, and, periodically, the store's clean-up (dedup window,
log retention). A task stops, without sending or recording anything more, as soon as its lease may have lapsed:
the worker renews leases every third of `lease_ttl`, and a lease counts as held only until `lease_ttl` after the
last renewal was *asked for* (so a worker frozen or cut off from the database stops before anyone else can take
over).
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..actions import Client
from .options import DeliveryOptions
from .partition import DestinationWorker, Pacing
from .retry import RetryPolicy
from .rounds import CloudDestination
from .store import DeliveryLedger, Housekeeping, Lease, Leases, PrivacyStore, StoreUnavailable
from .suppression import SuppressionList

log = logging.getLogger("actions_1flow.worker")


class WorkerStore(DeliveryLedger, Leases, Housekeeping, PrivacyStore, Protocol):
    """The worker's part of the store contract: its partitions' ledgers, the leases, the clean-up, and the
    suppression list its tasks share."""


@dataclass(frozen=True)
class DeliveryState:
    """What one destination's delivery is doing in this process, for operators (the console's destinations page)."""

    state: Literal["idle", "delivering", "backing-off"]
    until: float | None = None
    """When a pause after retryable failures ends."""
    reason: str | None = None
    """Why it pauses (the retryable answer)."""


class Worker:
    """All cloud-mode destinations of a configuration, delivered concurrently and independently, plus the store's
    periodic clean-up (events past the dedup window and the retention, dead letters past the log retention).

    The worker delivers the partitions it holds leases on, one task each, sharing each destination's HTTP client and
    `Pacing` (its pause, and one round in flight at a time). On SQLite the lease is the store's delivery lock: one
    process delivers, another stands by and takes over when it ends. On PostgreSQL every live worker gets a fair
    share of the partitions.
    """

    def __init__(
        self,
        store: WorkerStore,
        destinations: Sequence[tuple[CloudDestination, list[str]]],
        policy: RetryPolicy,
        options: DeliveryOptions | None = None,
        *,
        client_factory: Callable[[Any], Client] | None = None,
        suppressions: SuppressionList | None = None,
        worker_id: str | None = None,
    ) -> None:
        """`client_factory(destination)` makes a destination's client (its own `create_client()` by default);
        `suppressions` is shared with the server in its process (the worker reads its own from the store by
        default)."""
        self.store = store
        self.destinations = {dest.name: (dest, sources) for dest, sources in destinations}
        self.policy = policy
        self.options = options or DeliveryOptions()
        self.lease_ttl = self.options.lease_ttl
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = self.options.clock
        self._client_factory = client_factory
        self.suppressions = suppressions if suppressions is not None else SuppressionList(store)
        """The suppressed users, shared by every partition's task (and with the server, in its process)."""
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

    def delivery_state(self, destination: str) -> DeliveryState:
        """What this process does for `destination` now: backing off after retryable failures (until when, and
        why), delivering some of its partitions, or idle (none of them leased here)."""
        pacing = self._pacing.get(destination)
        if pacing is not None and pacing.paused_until > self.clock():
            return DeliveryState("backing-off", pacing.paused_until, pacing.pause_reason)
        if any(w.name == destination for w in self.workers):
            return DeliveryState("delivering")
        return DeliveryState("idle")

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
        for name, rate in self.options.rates.items():  # this worker's share of a destination's rate
            if name in self._pacing:
                leased = sum(1 for dest, _ in self.tasks if dest == name)
                self._pacing[name].rate = rate * leased / self.store.partitions
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
            self.options,
            partition=lease.partition,
            lease=lease,
            holds=functools.partial(self.holds, lease),
            client=self._clients[dest.name],
            pacing=self._pacing[dest.name],
            suppressions=self.suppressions,
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
        horizon = now - max(self.options.dedup_window, self.options.retention)
        kept = {  # sources whose events must be kept longer (their own dedup window)
            source: now - window
            for source, window in self.options.source_dedup_windows.items()
            if now - window < horizon
        }
        removed = 0
        after: int | None = 0
        while after is not None:
            n, after = await asyncio.wrap_future(
                self.store.prune(horizon, now - self.options.log_retention, names, after, kept)
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
                log.exception("pruning the store failed; trying again in %.0fs", self.options.prune_interval)
            if await self._stopped_within(self.options.prune_interval):
                return
