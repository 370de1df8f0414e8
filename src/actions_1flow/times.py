"""Durations and moments as people type them, and the one way the product writes a moment.

`parse_duration` reads the configuration's durations (`500ms`, `10s`, `5m`, `4h`, `1d`); `parse_moment` reads the
`--since`/`--until` of `replay` and the admin API's replay (a duration ago, or ISO-8601); `iso` is how every
operator-facing output (the CLI's JSON, the admin API, the console) writes a moment: UTC, milliseconds. No project
imports: every layer may use it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or text such as `500ms`, `10s`, `5m`, `4h`, `1d`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10s, 5m or 4h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 10s, 5m, 4h or a number of seconds")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_moment(text: str, now: float) -> float:
    """A point in time from `2h`/`30m`/`1d` (that long ago) or ISO-8601 (`2024-05-01`, `2024-05-01T09:00:00Z`;
    without an offset it is local time). ValueError otherwise."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text[:80]!r} is neither a duration ago (30m, 2h, 1d) nor an ISO-8601 time (2024-05-01T09:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time, as people type it
    return moment.timestamp()


def iso(moment: float | None) -> str | None:
    """A Unix time as ISO-8601 in UTC with milliseconds (`2024-05-01T09:00:00.000+00:00`); None stays None."""
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
