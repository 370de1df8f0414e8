"""The sandbox's memory: registered keys and their regions, the call log, queued faults and the rate window."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..destinations.oneflow.regions import DEFAULT_REGION
from ..secrets import mask_secret

CHANNEL_HTTP = "http"
CHANNEL_SDK = "sdk"


@dataclass(frozen=True)
class SandboxKey:
    """A Project API Key the sandbox knows, and the regions its (fake) 1Flow plan includes."""

    key: str
    regions: frozenset[str] = frozenset({DEFAULT_REGION})

    @classmethod
    def parse(cls, spec: str) -> SandboxKey:
        """`KEY` (US only) or `KEY:us,eu`."""
        key, sep, tail = spec.rpartition(":")
        if sep and key and tail and all(part.strip().isalpha() for part in tail.split(",")):
            return cls(key, frozenset(part.strip().lower() for part in tail.split(",")))
        return cls(spec)

    def __repr__(self) -> str:
        return f"SandboxKey({mask_secret(self.key)!r}, regions={sorted(self.regions)})"


FAULT_KEYS = frozenset({"count", "duration", "status", "delay", "drop", "retry_after", "body", "key", "path"})


@dataclass
class Fault:
    """What to do to the next matching API request instead of (or before) handling it.

    `key` and `path` narrow which requests it applies to (one Project API Key, one path such as `/v1/batch`), so
    one destination can be down while another, with its own key, stays healthy. `duration` makes it apply to every
    matching request for that many seconds instead of to the next `count`.
    """

    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    retry_after: str | None = None
    body: Any = None
    key: str | None = None
    path: str | None = None
    duration: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> tuple[Fault, int]:
        """A fault and how many requests it applies to, from `POST /_sandbox/faults`; raises ValueError."""
        unknown = set(data) - FAULT_KEYS
        if unknown:
            raise ValueError(
                f"unknown fault keys: {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(FAULT_KEYS))})"
            )
        count = data.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        duration = data.get("duration")
        if duration is not None:
            if not _seconds(duration) or duration <= 0:
                raise ValueError("duration must be a positive number of seconds")
            if "count" in data:
                raise ValueError("give count or duration, not both")
            duration = float(duration)
        status = data.get("status")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599):
            raise ValueError("status must be an HTTP status code")
        delay = data.get("delay", 0)
        if not _seconds(delay) or delay < 0:
            raise ValueError("delay must be a non-negative number of seconds")
        drop = data.get("drop", False)
        if not isinstance(drop, bool):
            raise ValueError("drop must be true or false")
        retry_after = data.get("retry_after")
        if retry_after is not None:
            retry_after = str(retry_after)
        for name in ("key", "path"):
            if data.get(name) is not None and (not isinstance(data[name], str) or not data[name]):
                raise ValueError(f"{name} must be a non-empty string")
        path = data.get("path")
        if path is not None and not path.startswith("/"):
            raise ValueError("path must start with / (e.g. /v1/batch)")
        if status is None and not drop and not delay:
            raise ValueError("a fault needs status, drop or delay")
        fault = cls(status, float(delay), drop, retry_after, data.get("body"), data.get("key"), path, duration)
        return fault, count

    def applies_to(self, key: str | None, path: str) -> bool:
        return (self.key is None or self.key == key) and (self.path is None or self.path == path)

    def describe(self) -> dict[str, Any]:
        shown = {k: v for k, v in vars(self).items() if v not in (None, False, 0.0)}
        if "key" in shown:
            shown["key"] = mask_secret(shown["key"])
        return shown


@dataclass
class _Armed:
    """A queued fault and what is left of it: a number of requests, or a deadline."""

    fault: Fault
    remaining: int
    until: float | None = None

    def live(self, now: float) -> bool:
        return self.remaining > 0 if self.until is None else now < self.until


def _seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class RateWindow:
    """At most `rate` API requests in any one-second window; answers how long to wait when over."""

    rate: float
    _times: deque[float] = field(default_factory=deque)

    def admit(self, now: float | None = None) -> float | None:
        """None when the request is admitted, else the seconds until it would be."""
        now = time.monotonic() if now is None else now
        while self._times and now - self._times[0] >= 1.0:
            self._times.popleft()
        if len(self._times) >= self.rate:
            return max(0.0, 1.0 - (now - self._times[0]))
        self._times.append(now)
        return None


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1 (the delta-seconds form of `Retry-After`)."""
    return str(max(1, math.ceil(seconds)))


class SandboxState:
    """Everything one sandbox instance remembers; reset by `POST /_sandbox/reset` (keys and rate stay)."""

    def __init__(self, keys: list[SandboxKey] | None = None, rate: float | None = None) -> None:
        self.keys: dict[str, SandboxKey] = {k.key: k for k in keys or []}
        self.rate = rate
        self.calls: list[dict[str, Any]] = []
        self.faults: list[_Armed] = []
        self.window = RateWindow(rate) if rate else None
        self.arrivals: list[float] = []
        """When each API request arrived (wall clock), for `rate_report`."""
        self._seq = 0

    def reset(self) -> None:
        self.calls.clear()
        self.faults.clear()
        self.arrivals.clear()
        self.window = RateWindow(self.rate) if self.rate else None

    def add_faults(self, fault: Fault, count: int) -> int:
        """Queue `fault` for the next `count` matching requests (or for its `duration`); returns faults queued."""
        until = time.monotonic() + fault.duration if fault.duration is not None else None
        self.faults.append(_Armed(fault, count, until))
        return sum(a.remaining if a.until is None else 1 for a in self.faults)

    def next_fault(self, key: str | None = None, path: str = "") -> Fault | None:
        """The first queued fault that applies to a request with this key and path (used up as it applies)."""
        now = time.monotonic()
        self.faults = [a for a in self.faults if a.live(now)]
        for armed in self.faults:
            if armed.fault.applies_to(key, path):
                if armed.until is None:
                    armed.remaining -= 1
                return armed.fault
        return None

    def key_status(self, key: str | None, region: str) -> tuple[int, str] | None:
        """None when `key` may use `region`; else the 1Flow status and reason (401 unknown, 404 region)."""
        if not key:
            return 401, "missing api_key header"
        known = self.keys.get(key)
        if known is None:
            return 401, "invalid api_key"
        if region not in known.regions:
            return 404, f"no project for this api_key in region {region!r}"
        return None

    def record(self, channel: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Append a call to the log (the key masked), in arrival order, and return it."""
        self._seq += 1
        if "api_key" in entry:
            entry["api_key"] = mask_secret(entry["api_key"]) if entry["api_key"] else None
        call = {
            "seq": self._seq,
            "channel": channel,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            **entry,
        }
        self.calls.append(call)
        return call


def rate_report(arrivals: list[float]) -> dict[str, Any]:
    """How fast API requests arrived: per wall-clock second (`[second, n]`, seconds without requests left out), the
    busiest of those seconds, and the most in any one-second window (sliding: the strictest reading of a rate)."""
    per_second: dict[int, int] = {}
    for t in arrivals:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    times = sorted(arrivals)
    most = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return {
        "requests": len(times),
        "per_second": sorted(per_second.items()),
        "max_per_second": max(per_second.values(), default=0),
        "max_in_any_second": most,
    }
