"""JavaScript's `Date.parse` / `new Date(text)` as node 20's V8 reads text.

Segment's `date-like` check and liquidjs's `date` filter both end in `new Date(text)`, and V8 accepts far more than
ISO 8601: `" 12 "` is 1 December 2001, `"Tue March 7 2020 10:00 pm (CET)"` is a date, `"2024-13"` is not. To mean
what Segment means, this module follows V8's rules rather than approximating them: text is cut into tokens
(numbers, words, signs, punctuation, parenthesised comments), read as an ES date-time string as far as it goes,
and the rest is read by V8's legacy rules, which collect day, time and time-zone parts and check them at the end.

Text is handled as UTF-16 code units, as in JS; a NUL unit ends the text, as it does in V8. Results without a
time zone are local time, using the offset Python knows for the server's zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_TIME_MS = 8.64e15
"""JS dates are valid up to ±8.64e15 ms from the epoch."""

DAY_MS = 86_400_000

_MAX_LOCAL_MS = MAX_TIME_MS + 10 * DAY_MS  # V8 allows local times a little outside the range before converting
_MAX_YEAR = 1_000_000  # V8's MakeDay gives NaN for years beyond this
_MAX_SMI = 2**31 - 1  # the largest small integer in node's V8, which bounds a time-zone offset in seconds
_MAX_DIGITS = 9  # digits of a numeral that count after its leading zeros; the rest are read and ignored
_PYTHON_RANGE_S = (-62_104_060_800, 253_370_764_800)  # years 2 to 9998: where Python knows the local offset
_CYCLE_S = 146_097 * 86_400  # 400 Gregorian years

# Token kinds.
_END, _NUMBER, _SYMBOL, _WORD, _SPACE, _OTHER = range(6)
# Word meanings.
_UNKNOWN_WORD, _MONTH, _ZONE, _T, _AM_PM = range(5)

_KEYWORDS = {  # three-letter (or shorter) lower-case prefix → (meaning, value)
    **{
        name: (_MONTH, i)
        for i, name in enumerate(
            ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
        )
    },
    "am": (_AM_PM, 0),
    "pm": (_AM_PM, 12),
    "ut": (_ZONE, 0),
    "utc": (_ZONE, 0),
    "z": (_ZONE, 0),
    "gmt": (_ZONE, 0),
    "cdt": (_ZONE, -5),
    "cst": (_ZONE, -6),
    "edt": (_ZONE, -4),
    "est": (_ZONE, -5),
    "mdt": (_ZONE, -6),
    "mst": (_ZONE, -7),
    "pdt": (_ZONE, -7),
    "pst": (_ZONE, -8),
    "t": (_T, 0),
}
_SPACES = {
    0x09,
    0x0A,
    0x0B,
    0x0C,
    0x0D,
    0x20,
    0xA0,
    0x1680,
    *range(0x2000, 0x200B),
    0x202F,
    0x205F,
    0x3000,
    0xFEFF,
}  # JS white space and ASCII line ends; every other unit from "A" up (U+2028 too) is a letter
_SYMBOLS = {ord(c): c for c in ":-+.)"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: int
    value: Any = 0  # a number (int), a symbol (str), or a word's (meaning, value)
    length: int = 0

    def is_symbol(self, symbol: str) -> bool:
        return self.kind == _SYMBOL and self.value == symbol

    def is_sign(self) -> bool:
        return self.kind == _SYMBOL and self.value in "+-"

    def is_number(self, length: int | None = None) -> bool:
        return self.kind == _NUMBER and (length is None or self.length == length)

    def is_z(self) -> bool:
        return self.kind == _WORD and self.value == (_ZONE, 0) and self.length == 1


_END_TOKEN = _Token(_END)


def _tokens(text: str) -> list[_Token]:
    """The text's tokens, as V8's date scanner cuts them."""
    data = text.encode("utf-16-le", "surrogatepass")
    units = [data[i] | data[i + 1] << 8 for i in range(0, len(data), 2)]
    if 0 in units:
        units = units[: units.index(0)]
    out: list[_Token] = []
    i, n = 0, len(units)
    while i < n:
        u = units[i]
        start = i
        if 0x30 <= u <= 0x39:
            while i < n and 0x30 <= units[i] <= 0x39:
                i += 1
            digits = "".join(chr(c) for c in units[start:i]).lstrip("0")[:_MAX_DIGITS]
            out.append(_Token(_NUMBER, int(digits or "0"), i - start))
        elif u in _SYMBOLS:
            out.append(_Token(_SYMBOL, _SYMBOLS[u], 1))
            i += 1
        elif u in _SPACES:
            out.append(_Token(_SPACE, 0, 1))
            i += 1
        elif u >= 0x41:
            while i < n and units[i] >= 0x41 and units[i] not in _SPACES:
                i += 1
            prefix = "".join(chr(c | 0x20) if c | 0x20 < 0x80 else "\ufffd" for c in units[start : min(i, start + 3)])
            meaning = _KEYWORDS.get(prefix)
            if meaning is not None and i - start > 3 and meaning[0] != _MONTH:
                meaning = None  # only month names may be longer than their prefix
            out.append(_Token(_WORD, meaning or (_UNKNOWN_WORD, 0), i - start))
        elif u == 0x28:  # "(" starts a comment up to its balancing ")" (or the end)
            depth = 0
            while True:
                depth += (units[i] == 0x28) - (units[i] == 0x29)
                i += 1
                if depth <= 0 or i >= n:
                    break
            out.append(_Token(_OTHER))
        else:
            out.append(_Token(_OTHER))
            i += 1
    return out


class _Scanner:
    """One-token lookahead over the tokens."""

    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._pos = 0

    def peek(self) -> _Token:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else _END_TOKEN

    def next(self) -> _Token:
        token = self.peek()
        self._pos += 1
        return token

    def skip_symbol(self, symbol: str) -> bool:
        if self.peek().is_symbol(symbol):
            self._pos += 1
            return True
        return False


def _is_month(n: int) -> bool:
    return 1 <= n <= 12


def _is_day(n: int) -> bool:
    return 1 <= n <= 31


def _is_minute(n: int) -> bool:
    return 0 <= n <= 59


def _is_hour(n: int) -> bool:
    return 0 <= n <= 23


@dataclass(slots=True)
class _Day:
    parts: list[int] = field(default_factory=list)
    named_month: int | None = None
    iso: bool = False

    def add(self, n: int) -> bool:
        if len(self.parts) >= 3:
            return False
        self.parts.append(n)
        return True

    def resolve(self) -> tuple[int, int, int] | None:
        """(year, month 1-12, day) by V8's rules for which number is which, or None."""
        if not self.parts:
            return None
        a, b, c = (self.parts + [1, 1])[:3]
        if self.named_month is None:
            year, month, day = (a, b, c) if self.iso or not _is_day(a) else (c, a, b)
        else:
            month = self.named_month
            year, day = (a, b) if not _is_day(a) else (b, a)
        if not self.iso:
            if 0 <= year <= 49:
                year += 2000
            elif 50 <= year <= 99:
                year += 1900
        if not (_is_month(month) and _is_day(day)):
            return None
        return year, month, day


@dataclass(slots=True)
class _Time:
    parts: list[int] = field(default_factory=list)
    hour_offset: int | None = None

    def is_expecting(self, n: int) -> bool:
        i = len(self.parts)
        return (i == 1 and _is_minute(n)) or (i == 2 and _is_minute(n)) or (i == 3 and 0 <= n <= 999)

    def add(self, n: int) -> bool:
        if len(self.parts) >= 4:
            return False
        self.parts.append(n)
        return True

    def add_final(self, n: int) -> bool:
        if not self.add(n):
            return False
        self.parts += [0] * (4 - len(self.parts))
        return True

    def resolve(self) -> tuple[int, int, int, int] | None:
        hour, minute, second, milli = (self.parts + [0, 0, 0, 0])[:4]
        if self.hour_offset is not None:
            if not 0 <= hour <= 12:
                return None
            hour = hour % 12 + self.hour_offset
        if not (_is_hour(hour) and _is_minute(minute) and _is_minute(second) and 0 <= milli <= 999):
            if (hour, minute, second, milli) != (24, 0, 0, 0):
                return None
        return hour, minute, second, milli


@dataclass(slots=True)
class _Zone:
    sign: int | None = None
    hour: int | None = None
    minute: int | None = None

    def set_hours(self, offset: int) -> None:
        self.sign = -1 if offset < 0 else 1
        self.hour, self.minute = abs(offset), 0

    def is_expecting(self, n: int) -> bool:
        return self.hour is not None and self.minute is None and _is_minute(n)

    def is_utc(self) -> bool:
        return self.hour == 0 and self.minute == 0

    def resolve(self) -> int | bool | None:
        """The offset in seconds, None when no zone was given, False when it is out of range."""
        if self.sign is None:
            return None
        seconds = ((self.hour or 0) * 3600 + (self.minute or 0) * 60) % 2**32  # V8 sums as a 32-bit unsigned
        return False if seconds > _MAX_SMI else self.sign * seconds


def _milliseconds(token: _Token) -> int:
    """The first three significant digits of a fraction, as V8 reads them."""
    n, length = int(token.value), min(token.length, _MAX_DIGITS)
    if length < 3:
        return n * (100 if length == 1 else 10)
    return n // 10 ** (length - 3)


_INVALID = _Token(-1)


def _read_iso(scanner: _Scanner, day: _Day, time: _Time, zone: _Zone) -> _Token:
    """Read as much of an ES date-time string as there is; return the first token left for the legacy rules
    (the end token when the text was one), or _INVALID when the text cannot be a date."""
    if scanner.peek().is_sign():
        sign_token = scanner.next()
        if not scanner.peek().is_number(6):
            return sign_token
        year = int(scanner.next().value)
        if sign_token.value == "-" and year == 0:
            return sign_token
        day.add(-year if sign_token.value == "-" else year)
    elif scanner.peek().is_number(4):
        day.add(int(scanner.next().value))
    else:
        return scanner.next()
    if scanner.skip_symbol("-"):
        if not (scanner.peek().is_number(2) and _is_month(int(scanner.peek().value))):
            return scanner.next()
        day.add(int(scanner.next().value))
        if scanner.skip_symbol("-"):
            if not (scanner.peek().is_number(2) and _is_day(int(scanner.peek().value))):
                return scanner.next()
            day.add(int(scanner.next().value))
    peek = scanner.peek()
    if not (peek.kind == _WORD and peek.value[0] == _T):
        if peek.kind != _END:
            return scanner.next()
    else:
        scanner.next()
        if not _read_iso_time(scanner, time, zone):
            return _INVALID
    if zone.hour is None and not time.parts:
        zone.set_hours(0)  # date-only forms are UTC; date-time forms without an offset are local time
    day.iso = True
    return _END_TOKEN


def _two_digits(scanner: _Scanner, valid) -> bool:
    peek = scanner.peek()
    return peek.is_number(2) and valid(int(peek.value))


def _read_iso_time(scanner: _Scanner, time: _Time, zone: _Zone) -> bool:
    """`HH:mm[:ss[.sss]][Z|±hh:mm|±hhmm]` to the end of the text, after the "T"."""
    if not _two_digits(scanner, lambda n: 0 <= n <= 24):
        return False
    hour_is_24 = scanner.peek().value == 24
    time.add(int(scanner.next().value))
    if not scanner.skip_symbol(":"):
        return False
    if not _two_digits(scanner, lambda n: _is_minute(n) and not (hour_is_24 and n > 0)):
        return False
    time.add(int(scanner.next().value))
    if scanner.skip_symbol(":"):
        if not _two_digits(scanner, lambda n: _is_minute(n) and not (hour_is_24 and n > 0)):
            return False
        time.add(int(scanner.next().value))
        if scanner.skip_symbol("."):
            peek = scanner.peek()
            if not peek.is_number() or (hour_is_24 and int(peek.value) > 0):
                return False
            time.add(_milliseconds(scanner.next()))
    if scanner.peek().is_z():
        scanner.next()
        zone.set_hours(0)
    elif scanner.peek().is_sign():
        zone.sign = 1 if scanner.next().value == "+" else -1
        if scanner.peek().is_number(4):
            hour, minute = divmod(int(scanner.next().value), 100)
            if not (_is_hour(hour) and _is_minute(minute)):
                return False
            zone.hour, zone.minute = hour, minute
        else:
            if not _two_digits(scanner, _is_hour):
                return False
            zone.hour = int(scanner.next().value)
            if not scanner.skip_symbol(":"):
                return False
            if not _two_digits(scanner, _is_minute):
                return False
            zone.minute = int(scanner.next().value)
    return scanner.peek().kind == _END


def _read_number(n: int, scanner: _Scanner, day: _Day, time: _Time, zone: _Zone) -> bool:
    """A number in legacy text: a time part, a zone's minutes, or a day part, by what follows it."""
    if scanner.skip_symbol(":"):
        if scanner.skip_symbol(":"):
            if time.parts:
                return False
            time.add(n)
            time.add(0)
        else:
            if not time.add(n):
                return False
            if scanner.peek().is_symbol("."):
                scanner.next()
    elif scanner.skip_symbol(".") and time.is_expecting(n):
        time.add(n)
        if not scanner.peek().is_number():
            return False
        time.add_final(_milliseconds(scanner.next()))
    elif zone.is_expecting(n):
        zone.minute = n
    elif time.is_expecting(n):
        time.add_final(n)
        peek = scanner.peek()  # a finished time must be followed by the end, a space, "Z" or a sign
        if not (peek.kind in (_END, _SPACE) or peek.is_z() or peek.is_sign()):
            return False
    else:
        if not day.add(n):
            return False
        scanner.skip_symbol("-")
    return True


def _read_offset(sign: str, scanner: _Scanner, zone: _Zone) -> bool:
    """A UTC offset after "UTC"/"GMT" or a time: `±h`, `±hh`, `±hhmm` or `±hh:`."""
    zone.sign = 1 if sign == "+" else -1
    n = length = 0
    if scanner.peek().is_number():
        token = scanner.next()
        n, length = int(token.value), token.length
    if scanner.peek().is_symbol(":"):
        zone.hour, zone.minute = n, None
    elif length in (1, 2):
        zone.hour, zone.minute = n, 0
    elif length in (3, 4):
        zone.hour, zone.minute = divmod(n, 100)
    else:
        return False
    return True


def _read(text: str) -> tuple[tuple[int, int, int], tuple[int, int, int, int], int | None] | None:
    """The date's parts and its offset in seconds (None for local time), or None when V8 rejects the text."""
    scanner, day, time, zone = _Scanner(text), _Day(), _Time(), _Zone()
    token = _read_iso(scanner, day, time, zone)
    if token is _INVALID:
        return None
    has_number = bool(day.parts)
    while token.kind != _END:
        if token.kind == _NUMBER:
            has_number = True
            if not _read_number(int(token.value), scanner, day, time, zone):
                return None
        elif token.kind == _WORD:
            meaning, value = token.value
            if meaning == _AM_PM and time.parts:
                time.hour_offset = value
            elif meaning == _MONTH:
                day.named_month = value
                scanner.skip_symbol("-")
            elif meaning == _ZONE and has_number:
                zone.set_hours(value)
            elif has_number or scanner.peek().is_number():
                return None  # other words may only come before the first number, and apart from it
        elif token.is_sign() and (zone.is_utc() or time.parts):
            if not _read_offset(str(token.value), scanner, zone):
                return None
            has_number = True
        elif (token.is_sign() or token.is_symbol(")")) and has_number:
            return None
        token = scanner.next()
    ymd, hms, offset = day.resolve(), time.resolve(), zone.resolve()
    if ymd is None or hms is None or offset is False:
        return None
    return ymd, hms, offset


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, for any year (JS dates span ±271,821 years)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day number since 1970-01-01; the inverse of `days_from_civil`."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def local_offset(ms: float) -> float:
    """JS `getTimezoneOffset()` at `ms`: minutes the local zone is *behind* UTC.

    Beyond the years Python's time zones cover, the date is moved by whole 400-year cycles (the Gregorian calendar
    repeats exactly), so far-future dates follow the zone's current daylight-saving rule, as they do in node.
    """
    seconds = ms / 1000
    low, high = _PYTHON_RANGE_S
    if seconds > high:
        seconds -= math.ceil((seconds - high) / _CYCLE_S) * _CYCLE_S
    elif seconds < low:
        seconds += math.ceil((low - seconds) / _CYCLE_S) * _CYCLE_S
    local = datetime.fromtimestamp(seconds, UTC).astimezone()
    return -local.utcoffset().total_seconds() / 60  # type: ignore[union-attr]


def local_to_utc(wall: float) -> float:
    """Milliseconds since the epoch of a local wall-clock time given as if it were UTC."""
    return wall + local_offset(wall + local_offset(wall) * 60_000) * 60_000


def parse(text: str) -> float | None:
    """`Date.parse(text)`: milliseconds since the epoch, or None where JS gives NaN."""
    read = _read(text)
    if read is None:
        return None
    (year, month, day), (hour, minute, second, milli), offset = read
    if abs(year) > _MAX_YEAR:
        return None
    wall = (days_from_civil(year, month, 1) + day - 1) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + milli
    if offset is None:
        if abs(wall) > _MAX_LOCAL_MS:
            return None
        ms = local_to_utc(wall)
    else:
        ms = wall - offset * 1000
    if not math.isfinite(ms) or abs(ms) > MAX_TIME_MS:
        return None
    return float(ms)
