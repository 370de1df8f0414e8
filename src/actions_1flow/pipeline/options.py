"""How the delivery worker paces itself: one typed set of options, filled from the configuration's `pipeline:`
section by the composition root (`app.delivery`), or given by a test."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

BATCH_SIZE = 500
"""Events per round (see `PipelineConfig.batch_size`)."""

BATCH_AGE_S = 0.5
"""The longest new events wait for a fuller batch."""

POLL_INTERVAL_S = 0.2
"""How often an idle worker looks for new events and due retries when nobody wakes it."""

PRUNE_INTERVAL_S = 60.0
"""How often the store's clean-up runs."""

LEASE_TTL_S = 10.0
"""How long a lease lasts without renewal (see `PipelineConfig.lease_ttl`); renewed every third of it."""

DEDUP_WINDOW_S = 24 * 3600.0
LOG_RETENTION_S = 7 * 86400.0


@dataclass(frozen=True)
class DeliveryOptions:
    """Batching, polling, clean-up and leases of a worker (each as `PipelineConfig` documents it)."""

    batch_size: int = BATCH_SIZE
    batch_age: float = BATCH_AGE_S
    poll_interval: float = POLL_INTERVAL_S
    dedup_window: float = DEDUP_WINDOW_S
    source_dedup_windows: Mapping[str, float] = field(default_factory=dict)
    """Sources whose dedup window is longer than `dedup_window` (a webhook source whose sender retries for days)."""
    log_retention: float = LOG_RETENTION_S
    prune_interval: float = PRUNE_INTERVAL_S
    lease_ttl: float = LEASE_TTL_S
    retention: float = 0.0
    """How long delivered and filtered events are kept (for replay); the dedup window when that is longer."""
    rates: dict[str, float] = field(default_factory=dict)
    """Destination → the most requests a second all workers together send it (`max_requests_per_second`)."""
    clock: Callable[[], float] = field(default=time.time, compare=False)
    """The wall clock the worker judges due retries and batch ages by (a test's own, to step time)."""
