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
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from .jsvalues import MISSING, js_number, js_string

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


def _parse_iso(text: str) -> float | None:
    """Milliseconds since the epoch for ECMAScript's date-time text format, or None."""
    m = _ISO.fullmatch(text)
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    fields = [int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0)]
    if not (1 <= fields[0] <= 12 and 1 <= fields[1] <= 31 and fields[2] <= 24 and fields[3] <= 59
            and fields[4] <= 59) or (fields[2] == 24 and (fields[3] or fields[4] or int(fraction or 0))):
        return None
    try:  # V8 rolls day overflow into the next month (Feb 30 is Mar 2) and 24:00 into the next day
        local = datetime(int(year), fields[0], 1) + timedelta(
            days=fields[1] - 1, hours=fields[2], minutes=fields[3], seconds=fields[4],
            milliseconds=int((fraction or "0")[:3].ljust(3, "0")))
    except (ValueError, OverflowError):
        return None
    if zone is None and hour is None:
        zone = "Z"  # date-only forms are UTC, date-time forms without an offset are local time
    if zone is None:
        return local.astimezone().timestamp() * 1000
    if zone == "Z":
        offset = timedelta(0)
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return local.replace(tzinfo=timezone(offset)).timestamp() * 1000


def parse_date(v: Any) -> float | None:
    """liquidjs `parseDate`: epoch milliseconds, or None when the input is not a valid date."""
    t = type(v)
    if v is None or v is MISSING:
        return None
    if t is str and v in ("now", "today"):
        ms: float | None = time.time() * 1000
    elif t in (int, float):
        ms = js_number(v) * 1000
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
        utc = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
        if offset_minutes is None:
            local = utc.astimezone()
            offset_minutes = -local.utcoffset().total_seconds() / 60  # type: ignore[union-attr]
            self.zone_name = _local_zone_name()
        else:
            self.zone_name = ""
        self.ms = ms
        self.offset = offset_minutes  # JS getTimezoneOffset(): minutes *behind* UTC
        self.d = (utc - timedelta(minutes=offset_minutes)).replace(tzinfo=None)

    def day_of_year(self) -> int:
        return self.d.timetuple().tm_yday

    def weekday(self) -> int:
        return (self.d.weekday() + 1) % 7  # Sunday = 0

    def hours12(self) -> str:
        return str(self.d.hour % 12 or 12)

    def week(self, start: int) -> str:
        since = (self.weekday() - start + 7) % 7
        return str((self.day_of_year() - 1 - since + 7) // 7)

    def zone(self, colon: bool) -> str:
        n = abs(self.offset)
        sign = "-" if self.offset > 0 else "+"
        return f"{sign}{int(n // 60):02d}{':' if colon else ''}{int(n % 60):02d}"

    def ordinal(self) -> str:
        day = self.d.day
        if day in (11, 12, 13):
            return "th"
        return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")

    def locale_date(self) -> str:
        return f"{self.d.month}/{self.d.day}/{self.d.year}"

    def locale_time(self) -> str:
        return f"{self.hours12()}:{self.d.minute:02d}:{self.d.second:02d} {'AM' if self.d.hour < 12 else 'PM'}"


_CODES: dict[str, Callable[[_Shown, dict], Any]] = {
    "a": lambda s, o: _DAYS[s.weekday()][:3],
    "A": lambda s, o: _DAYS[s.weekday()],
    "b": lambda s, o: _MONTHS[s.d.month - 1][:3],
    "h": lambda s, o: _MONTHS[s.d.month - 1][:3],
    "B": lambda s, o: _MONTHS[s.d.month - 1],
    "c": lambda s, o: f"{s.locale_date()}, {s.locale_time()}",
    "C": lambda s, o: s.d.year // 100,
    "d": lambda s, o: s.d.day,
    "e": lambda s, o: s.d.day,
    "H": lambda s, o: s.d.hour,
    "I": lambda s, o: s.hours12(),
    "j": lambda s, o: s.day_of_year(),
    "k": lambda s, o: s.d.hour,
    "l": lambda s, o: s.hours12(),
    "L": lambda s, o: s.d.microsecond // 1000,
    "m": lambda s, o: s.d.month,
    "M": lambda s, o: s.d.minute,
    "N": lambda s, o: f"{s.d.microsecond // 1000:03d}"[: int(o["width"] or 9)].ljust(int(o["width"] or 9), "0"),
    "p": lambda s, o: "AM" if s.d.hour < 12 else "PM",
    "P": lambda s, o: "am" if s.d.hour < 12 else "pm",
    "q": lambda s, o: s.ordinal(),
    "s": lambda s, o: math.floor(s.ms / 1000),
    "S": lambda s, o: s.d.second,
    "u": lambda s, o: s.weekday() or 7,
    "U": lambda s, o: s.week(0),
    "w": lambda s, o: s.weekday(),
    "W": lambda s, o: s.week(1),
    "x": lambda s, o: s.locale_date(),
    "X": lambda s, o: s.locale_time(),
    "y": lambda s, o: s.d.year % 100,
    "Y": lambda s, o: s.d.year,
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
    out = js_string(convert(shown, {"flags": flags, "width": width}))
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
