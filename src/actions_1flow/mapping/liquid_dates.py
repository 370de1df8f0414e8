"""liquidjs's `date` filter: its date parsing (numbers, "now", text as JS `new Date()` reads it) and its strftime.

Like liquidjs without a configured time zone, dates are shown in the server's local time zone; month and day
names are English (liquidjs formats them with the en-US locale).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import jsdate
from ..jsvalues import MISSING, as_double, to_string

DEFAULT_FORMAT = "%A, %B %-e, %Y at %-l:%M %P %z"
"""liquidjs's `dateFormat` default, used when no format is given."""

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def parse_date(v: Any) -> float | None:
    """liquidjs `parseDate`: epoch milliseconds, or None when the input is not a valid date."""
    t = type(v)
    if v is None or v is MISSING:
        return None
    if t is str and v in ("now", "today"):
        ms: float | None = time.time() * 1000
    elif t in (int, float):
        ms = as_double(v) * 1000
    elif t is bool:
        ms = 1.0 if v else 0.0
    elif t is str and v.isascii() and v.isdigit():
        ms = int(v) * 1000
    elif t is str:
        ms = jsdate.parse(v)
    else:
        return None
    if ms is None or ms != ms or abs(ms) > jsdate.MAX_TIME_MS:
        return None
    return float(math.trunc(ms)) if math.isfinite(ms) else None  # JS TimeClip truncates toward zero


_UTC_ALIASES = {"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu", "Etc/GMT", "GMT"}


def _local_zone_name() -> str:
    """The IANA name Intl reports for the local zone (TZ, else /etc/localtime's target; UTC's aliases as UTC)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = str(Path("/etc/localtime").resolve())
        except OSError:
            target = ""
        name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"
    return "UTC" if name in _UTC_ALIASES else name


class _Shown:
    """A date as liquidjs shows it: wall-clock fields in a zone given by its offset in minutes."""

    def __init__(self, ms: float, offset_minutes: float | None) -> None:
        if offset_minutes is None:
            offset_minutes = jsdate.local_offset(ms)
            self.zone_name = _local_zone_name()
        else:
            self.zone_name = ""
        self.ms = ms
        self.offset = offset_minutes  # JS getTimezoneOffset(): minutes *behind* UTC
        wall = int(ms - offset_minutes * 60_000)
        self.days, in_day = divmod(wall, jsdate.DAY_MS)
        self.year, self.month, self.day = jsdate.civil_from_days(self.days)
        self.hour, rest = divmod(in_day, 3_600_000)
        self.minute, rest = divmod(rest, 60_000)
        self.second, self.millisecond = divmod(rest, 1000)

    def day_of_year(self) -> int:
        """liquidjs `getDayOfYear`, with its leap-year test (which takes the year 0 for a common year)."""
        y = self.year
        leap = y % 4 == 0 and (math.fmod(y, 100) != 0 or (math.fmod(y, 400) == 0 and y != 0))
        months = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return sum(months[: self.month - 1]) + self.day

    def weekday(self) -> int:
        return (self.days + 4) % 7  # 1970-01-01 was a Thursday; Sunday = 0

    def hours12(self) -> str:
        return str(self.hour % 12 or 12)

    def week(self, start: int) -> str:
        since = (self.weekday() - start + 7) % 7
        return str((self.day_of_year() - 1 - since + 7) // 7)

    def zone(self, colon: bool) -> str:
        n = abs(self.offset)
        sign = "-" if self.offset > 0 else "+"
        return f"{sign}{int(n // 60):02d}{':' if colon else ''}{int(n % 60):02d}"

    def ordinal(self) -> str:
        day = self.day
        if day in (11, 12, 13):
            return "th"
        return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")

    def locale_date(self) -> str:
        """en-US `toLocaleDateString()`: years before 1 are counted as eras do (the year 0 is 1 BC, shown 1)."""
        return f"{self.month}/{self.day}/{self.year if self.year > 0 else 1 - self.year}"

    def locale_time(self) -> str:
        return f"{self.hours12()}:{self.minute:02d}:{self.second:02d} {'AM' if self.hour < 12 else 'PM'}"


_CODES: dict[str, Callable[[_Shown, dict], Any]] = {
    "a": lambda s, o: _DAYS[s.weekday()][:3],
    "A": lambda s, o: _DAYS[s.weekday()],
    "b": lambda s, o: _MONTHS[s.month - 1][:3],
    "h": lambda s, o: _MONTHS[s.month - 1][:3],
    "B": lambda s, o: _MONTHS[s.month - 1],
    "c": lambda s, o: f"{s.locale_date()}, {s.locale_time()}",
    "C": lambda s, o: s.year // 100,
    "d": lambda s, o: s.day,
    "e": lambda s, o: s.day,
    "H": lambda s, o: s.hour,
    "I": lambda s, o: s.hours12(),
    "j": lambda s, o: s.day_of_year(),
    "k": lambda s, o: s.hour,
    "l": lambda s, o: s.hours12(),
    "L": lambda s, o: s.millisecond,
    "m": lambda s, o: s.month,
    "M": lambda s, o: s.minute,
    "N": lambda s, o: f"{s.millisecond:03d}"[: int(o["width"] or 9)].ljust(int(o["width"] or 9), "0"),
    "p": lambda s, o: "AM" if s.hour < 12 else "PM",
    "P": lambda s, o: "am" if s.hour < 12 else "pm",
    "q": lambda s, o: s.ordinal(),
    "s": lambda s, o: math.floor(s.ms / 1000),
    "S": lambda s, o: s.second,
    "u": lambda s, o: s.weekday() or 7,
    "U": lambda s, o: s.week(0),
    "w": lambda s, o: s.weekday(),
    "W": lambda s, o: s.week(1),
    "x": lambda s, o: s.locale_date(),
    "X": lambda s, o: s.locale_time(),
    "y": lambda s, o: s.year % 100,
    "Y": lambda s, o: s.year,
    "z": lambda s, o: s.zone(":" in o["flags"]),
    "Z": lambda s, o: s.zone_name or s.zone(":" in o["flags"]),
    "t": lambda s, o: "\t",
    "n": lambda s, o: "\n",
    "%": lambda s, o: "%",
}
_PAD_WIDTHS = {
    "C": 2,
    "d": 2,
    "e": 2,
    "H": 2,
    "I": 2,
    "j": 3,
    "k": 2,
    "l": 2,
    "L": 3,
    "m": 2,
    "M": 2,
    "S": 2,
    "U": 2,
    "W": 2,
    "y": 2,
    "Y": 4,
}
_PAD_SPACES = set("aAbBceklpP")
_SPEC = re.compile(r"%([-_0^#:]+)?(\d+)?([EO])?(.)", re.DOTALL)


def _swap_case(s: str) -> str:
    """liquidjs `changeCase` (the `#` flag): upper-case if there is an ASCII lower-case letter, else lower."""
    return s.upper() if any("a" <= c <= "z" for c in s) else s.lower()


def _format_one(shown: _Shown, m: re.Match) -> str:
    flags, width, _modifier, code = m.group(1) or "", m.group(2), m.group(3), m.group(4)
    convert = _CODES.get(code)
    if convert is None:
        return m.group(0)
    out = to_string(convert(shown, {"flags": flags, "width": width}))
    pad = " " if code in _PAD_SPACES else "0"
    pad_width = int(width) if width and int(width) else _PAD_WIDTHS.get(code, 0)
    if "^" in flags:
        out = out.upper()
    elif "#" in flags:
        out = _swap_case(out)
    if "_" in flags:
        pad = " "
    elif "0" in flags:
        pad = "0"
    if "-" in flags:
        pad_width = 0
    if pad == "0" and out.startswith("-"):
        return "-" + out[1:].rjust(pad_width - 1, pad)
    return out.rjust(pad_width, pad)


def strftime(ms: float, fmt: str, offset_minutes: float | None = None) -> str:
    """liquidjs `strftime` of the date at `ms` (local zone unless an offset in minutes is given)."""
    shown = _Shown(ms, offset_minutes)
    return _SPEC.sub(lambda m: _format_one(shown, m), fmt)
