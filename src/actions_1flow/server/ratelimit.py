"""Per-source rate limits for the tracking API: one token bucket per source, in this process.

A source's `rate_limit: {events_per_second, burst}` lets it send `burst` events at once and `events_per_second` on
average. A request costs one token per event. So that a batch larger than `burst` is not refused for ever, a request
is admitted when the bucket holds `min(events, burst)` tokens and may leave it in debt, which the following requests
wait out. A refused request gets `429` with `Retry-After` (whole seconds, what Segment's libraries read) and stores
nothing. The bucket lives in the server process: with several servers behind a balancer each enforces its own.

A token bucket is a few lines of arithmetic; the libraries that offer one add storage back-ends we do not need.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import SourceConfig

log = logging.getLogger("actions_1flow.server")

WARN_EVERY = 60.0
"""Seconds between two warnings about the same source being limited (the first refusal is logged at once)."""


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `burst`; starts full."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, cost: int, now: float) -> float:
        """Take `cost` tokens and return 0, or take nothing and return the seconds until the request would pass."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        needed = min(cost, self.burst)
        if self.tokens >= needed:
            self.tokens -= cost
            return 0.0
        return (needed - self.tokens) / self.rate


class RateLimiter:
    """The buckets of every limited source, and how many requests and events each had refused."""

    def __init__(self, limits: dict[str, tuple[float, int]], clock: Callable[[], float] = time.monotonic) -> None:
        now = clock()
        self._clock = clock
        self._buckets = {name: TokenBucket(rate, burst, burst, now) for name, (rate, burst) in limits.items()}
        self.refused_requests: Counter[str] = Counter()
        self.refused_events: Counter[str] = Counter()
        self._warned_at: dict[str, float] = {}

    @classmethod
    def for_sources(cls, sources: Iterable[SourceConfig]) -> RateLimiter:
        """The buckets of the sources that have a `rate_limit`."""
        return cls({s.name: s.rate_limit.bucket() for s in sources if s.rate_limit is not None})

    def admit(self, source: str, events: int) -> int:
        """0 when the source may store `events` now, else the `Retry-After` seconds (≥ 1) for a 429."""
        bucket = self._buckets.get(source)
        if bucket is None:
            return 0
        now = self._clock()
        wait = bucket.take(events, now)
        if wait == 0.0:
            return 0
        self.refused_requests[source] += 1
        self.refused_events[source] += events
        last = self._warned_at.get(source)
        if last is None or now - last >= WARN_EVERY:
            self._warned_at[source] = now
            log.warning(
                "source %s is over its rate limit (%g events/s, burst %d): "
                "%d request(s), %d event(s) refused with 429 so far",
                source,
                bucket.rate,
                bucket.burst,
                self.refused_requests[source],
                self.refused_events[source],
            )
        return max(1, math.ceil(wait))
