"""The delivery worker's assembly: the configuration's store, retry policy and pacing, a worker for its
cloud-mode destinations, and the server's replaceable worker slot (a reload swaps the worker)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ..actions import Client
from ..config import Config, DestinationConfig
from ..pipeline import RetryPolicy, Store, stores
from ..pipeline.options import DeliveryOptions
from ..pipeline.suppression import SuppressionList
from ..pipeline.worker import Worker
from ..service.state import ServerState

log = logging.getLogger("actions_1flow.server")


def open_store(config: Config) -> Store:
    """The configuration's store (`storage: sqlite:///PATH` or `postgresql://…`)."""
    return stores.open_store(config.storage, partitions=config.pipeline.partitions)


def retry_policy(config: Config) -> RetryPolicy:
    p = config.pipeline
    return RetryPolicy(base=p.retry_base, cap=p.retry_cap, window=p.retry_window)


def delivery_options(config: Config) -> DeliveryOptions:
    """The worker's pacing as the configuration's `pipeline:` section sets it."""
    p = config.pipeline
    return DeliveryOptions(
        batch_size=p.batch_size,
        batch_age=p.batch_age,
        poll_interval=p.poll_interval,
        dedup_window=p.dedup_window,
        source_dedup_windows={
            s.name: s.kept_for_dedup(p.dedup_window)
            for s in config.sources
            if s.kept_for_dedup(p.dedup_window) > p.dedup_window
        },
        log_retention=p.log_retention,
        lease_ttl=p.lease_ttl,
        retention=p.retention or 0.0,
        rates={
            d.name: d.spec.max_requests_per_second
            for d in config.cloud_destinations()
            if d.spec.max_requests_per_second is not None
        },
    )


def build_worker(
    config: Config,
    store: Store,
    *,
    client_factory: Callable[[DestinationConfig], Client] | None = None,
    suppressions: SuppressionList | None = None,
) -> Worker:
    """A worker for every cloud-mode destination of the configuration."""
    destinations = [(d, config.sources_of(d)) for d in config.cloud_destinations()]
    return Worker(
        store,
        destinations,
        retry_policy(config),
        delivery_options(config),
        client_factory=client_factory,
        suppressions=suppressions,
    )


async def refresh_suppressions(suppressions: SuppressionList) -> None:
    """Read the suppression list again every few seconds (one suppressed anywhere is dropped here from then on)."""
    failing = False
    while True:
        await asyncio.sleep(suppressions.refresh_interval)
        try:
            await asyncio.to_thread(suppressions.load)
        except Exception as exc:  # the store is down: keep the list as it was
            if not failing:
                log.warning("cannot refresh the suppression list (keeping the one read before): %s", exc)
            failing = True
        else:
            failing = False


class WorkerSlot:
    """The server's delivery worker, replaceable on reload: the old one finishes its round and stops, a new one
    for the new configuration starts from the recorded cursors."""

    def __init__(self, state: ServerState, client_factory: Callable[[DestinationConfig], Client] | None) -> None:
        self.state = state
        self.client_factory = client_factory
        self.worker: Worker | None = None

    async def start(self, config: Config) -> None:
        worker = build_worker(
            config, self.state.store, client_factory=self.client_factory, suppressions=self.state.suppressions
        )
        self.state.on_stored.append(worker.wake)
        await worker.start()
        self.worker = self.state.delivery = worker

    async def stop(self) -> None:
        worker, self.worker = self.worker, None
        self.state.delivery = None
        if worker is not None:
            with contextlib.suppress(ValueError):
                self.state.on_stored.remove(worker.wake)
            await worker.stop()

    async def restart(self, config: Config) -> None:
        for dest in config.cloud_destinations():
            await asyncio.wrap_future(self.state.store.ensure_cursor(dest.name))
        await self.stop()
        await self.start(config)
