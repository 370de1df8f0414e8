"""JavaScript value semantics for JSON data held in Python.

Segment's mapping-kit runs on JavaScript values; the outputs we must reproduce depend on how JS tells apart
`undefined` and `null`, what it considers falsy, how `String(x)` and `JSON.stringify` print values, and in which
order it enumerates object keys. JSON data in Python maps onto JS values like this:

| JS            | Python                                   |
|---------------|------------------------------------------|
| undefined     | `MISSING` (a key that is absent)          |
| null          | `None`                                   |
| boolean       | `bool` (never treated as a number here)   |
| number        | `int` or `float` (a double in JS: ints beyond 2**53 are rounded where JS computes with them) |
| string        | `str` (JS indexes and measures strings in UTF-16 code units) |
| array, object | `list`, `dict`                            |
"""

from __future__ import annotations

import json
import math
import re
from typing import Any


class _Missing:
    """The JS `undefined`: a value that is not there (distinct from `None`, the JS `null`)."""

    __slots__ = ()
    _instance: "_Missing | None" = None

    def __new__(cls) -> "_Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The JS `undefined`. Mapping results never contain it once returned to a caller, except as the whole result."""

MAX_SAFE_INTEGER = 2**53
"""Integers below this magnitude are exact JS numbers and print the same in both languages."""

MAX_ARRAY_INDEX = 2**32 - 2
"""The largest key JS treats as an array index (such keys enumerate first, in ascending order)."""


def js_type(value: Any) -> str:
    """The lower-case real type JS reports (`Object.prototype.toString`): object, array, string, number, ..."""
    t = type(value)
    if t is str:
        return "string"
    if t is bool:
        return "boolean"
    if t is int or t is float:
        return "number"
    if t is dict or isinstance(value, dict):
        return "object"
    if t is list:
        return "array"
    if value is None:
        return "null"
    if value is MISSING:
        return "undefined"
    return "object"


def js_truthy(value: Any) -> bool:
    """JS truthiness: `[]` and `{}` are truthy, NaN is falsy, everything else as in Python."""
    t = type(value)
    if t is str:
        return value != ""
    if t is bool:
        return value
    if t is int:
        return value != 0
    if t is float:
        return value == value and value != 0.0
    return value is not None and value is not MISSING


def is_array_index(key: str) -> bool:
    """Whether JS treats this object key as an array index (enumerated first, in numeric order)."""
    if not key or not ("0" <= key[0] <= "9"):
        return False
    if key == "0":
        return True
    return key[0] != "0" and key.isascii() and key.isdigit() and int(key) <= MAX_ARRAY_INDEX


def js_keys(obj: dict) -> list:
    """The keys of `obj` in JS enumeration order: array-index keys ascending, then the rest in insertion order."""
    keys = list(obj)
    indexes = [k for k in keys if is_array_index(k)]
    if not indexes:
        return keys
    indexes.sort(key=int)
    return indexes + [k for k in keys if not is_array_index(k)]


def js_ordered(obj: dict) -> dict:
    """`obj` itself when its order is already JS order, else a copy in JS order."""
    keys = js_keys(obj)
    if keys == list(obj):
        return obj
    return {k: obj[k] for k in keys}


# --- strings as UTF-16 ---------------------------------------------------------------------------------------


def js_length(s: str) -> int:
    """`s.length` in JS: UTF-16 code units."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def utf16_units(s: str) -> list[str]:
    """The string as JS indexes it: one (possibly lone-surrogate) character per UTF-16 code unit."""
    if s.isascii() or max(s) < "\U00010000":
        return list(s)
    raw = s.encode("utf-16-le", "surrogatepass")
    return [raw[i : i + 2].decode("utf-16-le", "surrogatepass") for i in range(0, len(raw), 2)]


def js_char_at(s: str, index: int) -> Any:
    """`s[index]` in JS for a non-negative index: one UTF-16 code unit, or MISSING past the end."""
    if s.isascii():
        return s[index] if index < len(s) else MISSING
    units = utf16_units(s)
    return units[index] if index < len(units) else MISSING


_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_trim(s: str) -> str:
    """`String.prototype.trim`: JS whitespace and line terminators (not Python's `str.isspace` set)."""
    return s.strip(_JS_WHITESPACE)


def js_upper(s: str) -> str:
    """`toUpperCase`: full Unicode case mapping, as Python's."""
    return s.upper()


def js_lower(s: str) -> str:
    """`toLowerCase`: full Unicode case mapping (final sigma included), as Python's."""
    return s.lower()


# --- numbers ---------------------------------------------------------------------------------------------------


def js_number(value: int | float) -> float | int:
    """The JS number a JSON number denotes: exact ints stay ints, larger ones round to the nearest double."""
    if type(value) is int and not -MAX_SAFE_INTEGER < value < MAX_SAFE_INTEGER:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def number_to_string(value: int | float) -> str:
    """`Number.prototype.toString()`: `1` for 1.0, `1e+21`, `1.5e-7`, `0` for -0, `NaN`, `Infinity`."""
    if type(value) is int:
        if -MAX_SAFE_INTEGER < value < MAX_SAFE_INTEGER:
            return str(value)
        value = js_number(value)
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    if value == 0:
        return "0"
    if value.is_integer() and -MAX_SAFE_INTEGER < value < MAX_SAFE_INTEGER:
        return str(int(value))
    return _shortest_to_js(repr(value))


def _shortest_to_js(text: str) -> str:
    """Re-lay Python's shortest round-trip repr in the ECMAScript Number::toString layout."""
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    stripped = digits.lstrip("0")
    point = len(whole) - (len(digits) - len(stripped)) + (int(exp) if exp else 0)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        tail = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        out = digits + tail if k == 1 else digits[0] + "." + digits[1:] + tail
    return sign + out


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RADIX = {"x": (16, re.compile("[0-9a-fA-F]+")), "o": (8, re.compile("[0-7]+")), "b": (2, re.compile("[01]+"))}


def js_to_number(value: Any) -> float | int:
    """`Number(value)`: "" and null are 0, unparsable text and objects NaN, "0x1f" 31, " 12 " 12."""
    t = type(value)
    if t is bool:
        return 1 if value else 0
    if t is int or t is float:
        return js_number(value)
    if t is str:
        text = js_trim(value)
        if text == "":
            return 0
        if text in ("Infinity", "+Infinity", "-Infinity"):
            return -math.inf if text[0] == "-" else math.inf
        if len(text) > 2 and text[0] == "0" and text[1] in "xXoObB":
            base, digits = _RADIX[text[1].lower()]
            return js_number(int(text[2:], base)) if digits.fullmatch(text[2:]) else math.nan
        return float(text) if _DECIMAL.fullmatch(text) else math.nan
    if value is None:
        return 0
    if t is list:
        return js_to_number(js_string(value))
    return math.nan


# --- String(x) -------------------------------------------------------------------------------------------------


def js_string(value: Any) -> str:
    """`String(value)`: arrays join their elements with `,` (null/undefined as empty), objects are
    `[object Object]`."""
    t = type(value)
    if t is str:
        return value
    if t is bool:
        return "true" if value else "false"
    if t is int or t is float:
        return number_to_string(value)
    if t is list:
        return ",".join("" if v is None or v is MISSING else js_string(v) for v in value)
    if value is None:
        return "null"
    if value is MISSING:
        return "undefined"
    return "[object Object]"


def loose_equals_empty_string(value: Any) -> bool:
    """`value == ""` with JS loose equality (true for "", 0, false, [], [""], [null], [[]])."""
    t = type(value)
    if t is str:
        return value == ""
    if t is bool:
        return value is False
    if t is int or t is float:
        return value == 0
    if t is list:
        return js_string(value) == ""
    return False


# --- JSON ------------------------------------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
_encode_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _quote(s: str) -> str:
    """A JSON string literal as JS writes it: raw non-ASCII, lone surrogates escaped as \\udxxx."""
    quoted = _encode_string(s)
    if s.isascii() or not _SURROGATE.search(s):
        return quoted
    paired = s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", _encode_string(paired))


def json_stringify(value: Any, indent: str = "") -> Any:
    """`JSON.stringify(value, null, indent)`: JS key order, MISSING keys dropped (MISSING list items are
    null); compact unless `indent` is given. MISSING itself gives MISSING."""
    if value is MISSING:
        return MISSING
    parts: list[str] = []
    _stringify_into(value, parts, indent, "\n" if indent else "")
    return "".join(parts)


def _stringify_into(value: Any, out: list[str], indent: str, newline: str) -> None:
    t = type(value)
    if t is str:
        out.append(_quote(value))
    elif t is bool:
        out.append("true" if value else "false")
    elif t is int or t is float:
        number = js_number(value)
        out.append(number_to_string(number) if number == number and abs(number) != math.inf else "null")
    elif value is None:
        out.append("null")
    elif t is list:
        if not value:
            out.append("[]")
            return
        inner = newline + indent
        out.append("[")
        for i, item in enumerate(value):
            out.append("," + inner if i else inner)
            if item is MISSING:
                out.append("null")
            else:
                _stringify_into(item, out, indent, inner)
        out.append(newline + "]")
    elif isinstance(value, dict):
        keys = [k for k in js_keys(value) if value[k] is not MISSING]
        if not keys:
            out.append("{}")
            return
        inner = newline + indent
        out.append("{")
        for i, key in enumerate(keys):
            out.append("," + inner if i else inner)
            out.append(_quote(key))
            out.append(": " if indent else ":")
            _stringify_into(value[key], out, indent, inner)
        out.append(newline + "}")
    else:
        out.append("null")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_int(text: str) -> int | float:
    # Very long digit runs would hit Python's int-parsing limit; JS reads them as (possibly infinite) doubles.
    return int(text) if len(text) <= 300 else float(text)


_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int)


def json_parse(text: str) -> Any:
    """`JSON.parse(text)` with JS rules (NaN and Infinity rejected). Raises ValueError on malformed text."""
    return _decoder.decode(text)


