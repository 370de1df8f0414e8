"""When to try a failed delivery again, and when to give up.

Exponential backoff with full jitter above a floor: attempt n waits a random time between `base` and
min(cap, base · 2ⁿ⁻¹), never less than the destination's `Retry-After`. After `window` seconds since the first
attempt the delivery is dead-lettered (Segment keeps trying for 4 h).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_BASE_S = 10.0
DEFAULT_CAP_S = 300.0
DEFAULT_WINDOW_S = 4 * 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff and give-up rules for retryable outcomes (408, 423, 429, 5xx except 501, timeouts, resets)."""

    base: float = DEFAULT_BASE_S
    cap: float = DEFAULT_CAP_S
    window: float = DEFAULT_WINDOW_S

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** max(attempt - 1, 0))
        floor = min(self.base, ceiling)
        wait = (rng or random).uniform(floor, ceiling)
        return max(wait, retry_after or 0.0)

    def next_attempt(
        self,
        attempt: int,
        first_attempt_at: float,
        now: float,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """When to try again, or None when the retry window has run out (dead-letter it).

        The last attempt is made at the window's end rather than given up early, unless `Retry-After` forbids it.
        """
        deadline = first_attempt_at + self.window
        if now >= deadline:
            return None
        at = now + self.delay(attempt, retry_after, rng)
        if at <= deadline:
            return at
        if retry_after is not None and now + retry_after > deadline:
            return None
        return deadline
