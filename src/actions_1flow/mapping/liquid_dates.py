"""liquidjs's `date` filter: JS date parsing (numbers, "now", ISO 8601 text) and liquidjs's strftime.

Like liquidjs without a configured time zone, dates are shown in the server's local time zone; month and day
names are English (liquidjs formats them with the en-US locale). Text that is not ISO 8601 is left as it is
(liquidjs would hand it to `new Date()`, which also reads several legacy formats).
"""

from __future__ import annotations

import math
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..jsvalues import MISSING, as_double, to_string

MAX_TIME_MS = 8.64e15
"""JS dates are valid up to ±8.64e15 ms from the epoch."""

DEFAULT_FORMAT = "%A, %B %-e, %Y at %-l:%M %P %z"
"""liquidjs's `dateFormat` default, used when no format is given."""

_ISO = re.compile(
    r"([+-]\d{6}|\d{4})(?:-(\d\d)(?:-(\d\d))?)?"
    r"(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?"
    r"(Z|[+-]\d\d:?\d\d)?"
)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, for any year (JS dates span ±271,821 years)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


_DAY_MS = 86_400_000
_PYTHON_RANGE_S = (-62_104_060_800, 253_370_764_800)  # years 2 to 9998: where Python knows the local offset


def local_offset(ms: float) -> float:
    """JS `getTimezoneOffset()` at `ms`: minutes the local zone is *behind* UTC (clamped to Python's years)."""
    seconds = min(max(ms / 1000, _PYTHON_RANGE_S[0]), _PYTHON_RANGE_S[1])
    local = datetime.fromtimestamp(seconds, timezone.utc).astimezone()
    return -local.utcoffset().total_seconds() / 60  # type: ignore[union-attr]


def _parse_iso(text: str) -> float | None:
    """Milliseconds since the epoch for ECMAScript's date-time text format, or None."""
    m = _ISO.fullmatch(text)
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    mo, d, h, mi, sec = int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0)
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 24 and mi <= 59 and sec <= 59) or (
            h == 24 and (mi or sec or millis)):
        return None
    # V8 rolls day overflow into the next month (Feb 30 is Mar 2) and 24:00 into the next day.
    wall = (_days_from_civil(int(year), mo, 1) + d - 1) * _DAY_MS + ((h * 60 + mi) * 60 + sec) * 1000 + millis
    if zone is None and hour is None:
        zone = "Z"  # date-only forms are UTC, date-time forms without an offset are local time
    if zone is None:
        return wall + local_offset(wall + local_offset(wall) * 60_000) * 60_000
    if zone == "Z":
        return float(wall)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return float(wall - sign * (int(digits[:2]) * 60 + int(digits[2:])) * 60_000)


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
        ms = _parse_iso(v.strip())
    else:
        return None
    if ms is None or ms != ms or abs(ms) > MAX_TIME_MS:
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
            offset_minutes = local_offset(ms)
            self.zone_name = _local_zone_name()
        else:
            self.zone_name = ""
        self.ms = ms
        self.offset = offset_minutes  # JS getTimezoneOffset(): minutes *behind* UTC
        wall = int(ms - offset_minutes * 60_000)
        self.days, in_day = divmod(wall, _DAY_MS)
        self.year, self.month, self.day = _civil_from_days(self.days)
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
_PAD_WIDTHS = {"C": 2, "d": 2, "e": 2, "H": 2, "I": 2, "j": 3, "k": 2, "l": 2, "L": 3, "m": 2, "M": 2, "S": 2,
               "U": 2, "W": 2, "y": 2, "Y": 4}
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
