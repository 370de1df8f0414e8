"""JavaScript value semantics for JSON data held in Python: the one place FQL, mapping-kit and the destination kit
get them from.

Segment's engine runs on JavaScript values. The outputs we must reproduce depend on how JS tells `undefined`
from `null`, what it considers falsy, how `String(x)`, `Number(x)` and `JSON.stringify` convert, how it measures
and indexes strings (UTF-16 code units), and in which order it enumerates object keys. JSON data in Python maps
onto JS values like this:

| JS            | Python                                                                                        |
|---------------|-----------------------------------------------------------------------------------------------|
| undefined     | `MISSING` (a key that is absent)                                                              |
| null          | `None`                                                                                        |
| boolean       | `bool` (never a number here, although Python's bool is an int)                                |
| number        | `int` or `float`: a double in JS, so an int beyond 2**53 stands for the double nearest to it  |
| string        | `str`, one code point per character (JS measures and indexes UTF-16 code units)               |
| array, object | `list`, `dict`                                                                                |

What only one engine needs on top of these (FQL's property reads that reach JS built-ins, liquidjs's filters)
stays in that engine, built on these functions.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

# --- undefined -------------------------------------------------------------------------------------------------


class _Missing:
    """The JS `undefined`: a value that is not there (distinct from `None`, the JS `null`)."""

    __slots__ = ()
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
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
"""The JS `undefined`: falsy, a singleton (also across copy and pickle). Exported as `actions_1flow.mapping.MISSING`.
FQL never tells undefined from null in event data (both are None there); it uses MISSING only for an absent AST
value, where `String(undefined)` is "undefined"."""

MAX_EXACT_INTEGER = 2**53
"""Every integer up to this magnitude is exactly a double, so it stays an int here and prints as in JS; beyond it,
JS rounds (JSON.parse("9007199254740993") is 9007199254740992). JS's Number.MAX_SAFE_INTEGER is one less, because
2**53 + 1 rounds to 2**53 itself."""

MAX_ARRAY_INDEX = 2**32 - 2
"""The largest key JS treats as an array index (such keys enumerate first, in ascending order)."""

NUMBER_TYPES = frozenset({int, float})
"""The exact Python types holding a JS number, for `type(x) in NUMBER_TYPES` in hot paths (bool is excluded:
`typeof true` is "boolean")."""

WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""JS WhiteSpace and LineTerminator (what `trim()`, `Number()` and `\\s` skip). Not Python's `str.isspace` set,
which adds \\x1c-\\x1f and \\x85 and lacks \\ufeff."""


# --- types and truthiness ----------------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    """JS `typeof value == "number"` (Python's bool is an int, but not a JS number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    """JS `Number.isFinite(value)`: a number, and neither NaN nor ±Infinity."""
    return is_number(value) and math.isfinite(value)


def typeof(value: Any) -> str:
    """JS `typeof`: null, arrays and objects are all "object" (ajv's type checks and messages use it)."""
    if value is MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def real_type_of(value: Any) -> str:
    """actions-core's `realTypeOf` (`Object.prototype.toString`, lower-cased): unlike `typeof`, it tells null,
    array and object apart, as mapping-kit's validation and error messages do."""
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


def truthy(value: Any) -> bool:
    """JS truthiness: false, 0, -0, NaN, "", null and undefined are falsy; `[]`, `{}` and "0" are truthy."""
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


def strict_equal(a: Any, b: Any) -> bool:
    """JS `a === b` for primitives (what ajv's `enum` compiles to for lists of primitives): no coercion, so
    `1 === true` is false although Python's `1 == True` is true."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def loose_equals_empty_string(value: Any) -> bool:
    """`value == ""` with JS loose equality (true for "", 0, false, [], [""], [null], [[]]); mapping-kit's
    `@if` `blank` test."""
    t = type(value)
    if t is str:
        return value == ""
    if t is bool:
        return value is False
    if t is int or t is float:
        return value == 0
    if t is list:
        return to_string(value) == ""
    return False


# --- numbers -----------------------------------------------------------------------------------------------------


def as_double(value: int | float) -> int | float:
    """The JS number a JSON number denotes: exact ints stay ints, larger ones round to the nearest double
    (±Infinity past the double range)."""
    if type(value) is int and not -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def tidy_number(value: int | float) -> int | float:
    """A computed JS number as Python keeps it: integral floats as int, so JSON shows `5`, like JS, not `5.0`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def number_to_string(value: int | float) -> str:
    """JS `String(number)` (`Number::toString`): shortest round-trip digits, exponent form outside [1e-7, 1e21):
    `1` for 1.0, `1e+21`, `1.5e-7`, `0` for -0, `NaN`, `Infinity`."""
    if type(value) is int:
        if -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
            return str(value)
        value = as_double(value)
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    if value == 0:
        return "0"
    if float(value).is_integer() and -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
        return str(int(value))
    return _shortest_to_js(repr(value))


def _shortest_to_js(text: str) -> str:
    """Re-lay Python's shortest round-trip repr (the same digits JS picks) in the ECMAScript layout."""
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    stripped = digits.lstrip("0")
    point = len(whole) - (len(digits) - len(stripped)) + (int(exp) if exp else 0)  # the spec's n
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


def to_number(value: Any) -> int | float:
    """JS `Number(value)`: "" and null are 0, unparsable text, objects and undefined NaN, "0x1f" 31, " 12 " 12,
    arrays through their `String()`."""
    t = type(value)
    if t is bool:
        return 1 if value else 0
    if t is int or t is float:
        return as_double(value)
    if t is str:
        text = value.strip(WHITESPACE)
        if text == "":
            return 0
        if text in ("Infinity", "+Infinity", "-Infinity"):
            return -math.inf if text[0] == "-" else math.inf
        if len(text) > 2 and text[0] == "0" and text[1] in "xXoObB":
            base, digits = _RADIX[text[1].lower()]
            return as_double(int(text[2:], base)) if digits.fullmatch(text[2:]) else math.nan
        return float(text) if _DECIMAL.fullmatch(text) else math.nan
    if value is None:
        return 0
    if t is list:
        return to_number(to_string(value))
    return math.nan


# --- strings -----------------------------------------------------------------------------------------------------


def to_string(value: Any) -> str:
    """JS `String(value)`: arrays join their items with `,` (null and undefined items as empty), objects are
    `[object Object]`, undefined is "undefined"."""
    t = type(value)
    if t is str:
        return value
    if t is bool:
        return "true" if value else "false"
    if t is int or t is float:
        return number_to_string(value)
    if t is list:
        return ",".join("" if v is None or v is MISSING else to_string(v) for v in value)
    if value is None:
        return "null"
    if value is MISSING:
        return "undefined"
    return "[object Object]"


def utf16_length(s: str) -> int:
    """`s.length` in JS: UTF-16 code units (a lone surrogate counts one, as in JS)."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def utf16_units(s: str) -> list[str]:
    """The string as JS indexes it: one (possibly lone-surrogate) character per UTF-16 code unit."""
    if s.isascii() or max(s) < "\U00010000":
        return list(s)
    raw = s.encode("utf-16-le", "surrogatepass")
    return [raw[i : i + 2].decode("utf-16-le", "surrogatepass") for i in range(0, len(raw), 2)]


def char_at(s: str, index: int) -> Any:
    """`s[index]` in JS for a non-negative index: one UTF-16 code unit, or MISSING past the end."""
    if s.isascii():
        return s[index] if index < len(s) else MISSING
    units = utf16_units(s)
    return units[index] if index < len(units) else MISSING


def join_surrogates(s: str) -> str:
    """`s` with each high surrogate that is followed by a low one joined into one character, as JS reads them
    (in JS, "\\ud83d" + "\\ude00" is "😀"; in Python they stay two code points until joined)."""
    if s.isascii():
        return s
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def trim(s: str) -> str:
    """`String.prototype.trim`: JS whitespace and line terminators (not Python's `str.strip()` set)."""
    return s.strip(WHITESPACE)


def to_upper_case(s: str) -> str:
    """`toUpperCase`: full Unicode case mapping, as Python's `str.upper`."""
    return s.upper()


def to_lower_case(s: str) -> str:
    """`toLowerCase`: full Unicode case mapping (final sigma included), as Python's `str.lower`."""
    return s.lower()


# --- object keys -------------------------------------------------------------------------------------------------


def is_array_index(key: str) -> bool:
    """Whether JS treats this object key as an array index: a canonical decimal integer up to MAX_ARRAY_INDEX."""
    if not key or not ("0" <= key[0] <= "9"):
        return False
    if key == "0":
        return True
    # At most 10 digits: longer keys are never indexes, and int() of a very long one would raise.
    return key[0] != "0" and len(key) <= 10 and key.isascii() and key.isdigit() and int(key) <= MAX_ARRAY_INDEX


def object_keys(obj: dict) -> list:
    """`Object.keys(obj)`, JS enumeration order: array-index keys ascending, then the rest in insertion order."""
    keys = list(obj)
    indexes = [k for k in keys if is_array_index(k)]
    if not indexes:
        return keys
    indexes.sort(key=int)
    return indexes + [k for k in keys if not is_array_index(k)]


def in_key_order(obj: dict) -> dict:
    """`obj` itself when its order is already JS order, else a copy in JS order."""
    keys = object_keys(obj)
    if keys == list(obj):
        return obj
    return {k: obj[k] for k in keys}


# --- JSON --------------------------------------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
_encode_string = json.encoder.encode_basestring


def _quote(s: str) -> str:
    """A JSON string literal as JS writes it: raw non-ASCII, lone surrogates escaped as \\udxxx."""
    quoted = _encode_string(s)
    if s.isascii() or not _SURROGATE.search(s):
        return quoted
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", _encode_string(join_surrogates(s)))


def json_stringify(value: Any, indent: str = "") -> Any:
    """`JSON.stringify(value, null, indent)`: JS key order and number spelling, MISSING keys dropped (MISSING
    list items are null), NaN and ±Infinity null; compact unless `indent` is given. MISSING itself gives
    MISSING. This is the JS text where it shows (mapping `@json`, messages); `dumps` is the fast wire encoder."""
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
        number = as_double(value)
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
        keys = [k for k in object_keys(value) if value[k] is not MISSING]
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


def _dumps_default(value: Any) -> Any:
    if value is MISSING:
        return None  # JSON.stringify writes an undefined list item as null
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Compact (or 2-space indented) JSON bytes for request bodies and reports, through orjson.

    Not `json_stringify`, and several times faster: it keeps Python's key order, writes a float's `.0` (`5.0`, `-0.0`
    where JS writes `5`, `0`) and writes ints beyond 2**53 exactly where JS would have rounded them. A MISSING
    list item is null, as in JS. Use it where a JSON reader consumes the bytes and speed matters (every 1Flow
    request body); use `json_stringify` where the text itself must be JS's."""
    return orjson.dumps(value, default=_dumps_default, option=orjson.OPT_INDENT_2 if pretty else 0)
