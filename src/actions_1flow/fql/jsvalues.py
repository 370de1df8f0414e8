"""JavaScript value semantics that Segment's FQL code relies on, for JSON values held in Python.

Segment evaluates triggers in JavaScript: numbers are doubles, `String(x)` and `Number(x)` convert, `a && a[k]`
short-circuits on *JS* falsiness, and a property read on a string, an array or a number reaches its prototype
(`"abc".length`, `tags.0`, `n.toFixed`). This module reproduces exactly the parts FQL can reach.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

MAX_SAFE_INTEGER = 2**53
"""Integers up to this magnitude are exact as JS numbers; larger ones are rounded like JSON.parse would."""

NUMBER_TYPES = frozenset({int, float})
"""Python types holding a JS number (bool is excluded: `typeof true` is "boolean")."""

OBJECT_PROTOTYPE_NAMES = frozenset(
    {
        "constructor",
        "__defineGetter__",
        "__defineSetter__",
        "hasOwnProperty",
        "__lookupGetter__",
        "__lookupSetter__",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toString",
        "valueOf",
        "__proto__",
        "toLocaleString",
    }
)
"""Keys every JS value inherits. A path through one of them reads a built-in, never event data; FQL rejects them."""

# Methods each prototype adds beyond Object.prototype, with their arity (`fn.length`), as in Node 20.
ARRAY_METHODS = {
    "at": 1, "concat": 1, "copyWithin": 2, "fill": 1, "find": 1, "findIndex": 1, "findLast": 1,
    "findLastIndex": 1, "lastIndexOf": 1, "pop": 0, "push": 1, "reverse": 0, "shift": 0, "unshift": 1,
    "slice": 2, "sort": 1, "splice": 2, "includes": 1, "indexOf": 1, "join": 1, "keys": 0, "entries": 0,
    "values": 0, "forEach": 1, "filter": 1, "flat": 0, "flatMap": 1, "map": 1, "every": 1, "some": 1,
    "reduce": 1, "reduceRight": 1, "toReversed": 0, "toSorted": 1, "toSpliced": 2, "with": 2,
}  # fmt: skip
STRING_METHODS = {
    "anchor": 1, "at": 1, "big": 0, "blink": 0, "bold": 0, "charAt": 1, "charCodeAt": 1, "codePointAt": 1,
    "concat": 1, "endsWith": 1, "fontcolor": 1, "fontsize": 1, "fixed": 0, "includes": 1, "indexOf": 1,
    "isWellFormed": 0, "italics": 0, "lastIndexOf": 1, "link": 1, "localeCompare": 1, "match": 1,
    "matchAll": 1, "normalize": 0, "padEnd": 1, "padStart": 1, "repeat": 1, "replace": 2, "replaceAll": 2,
    "search": 1, "slice": 2, "small": 0, "split": 2, "strike": 0, "sub": 0, "substr": 2, "substring": 2,
    "sup": 0, "startsWith": 1, "toWellFormed": 0, "trim": 0, "trimStart": 0, "trimLeft": 0, "trimEnd": 0,
    "trimRight": 0, "toLocaleLowerCase": 0, "toLocaleUpperCase": 0, "toLowerCase": 0, "toUpperCase": 0,
}  # fmt: skip
NUMBER_METHODS = {"toExponential": 1, "toFixed": 1, "toPrecision": 1}
FUNCTION_METHODS = {"apply": 2, "bind": 1, "call": 1}
_FUNCTION_NAME_ALIASES = {"trimLeft": "trimStart", "trimRight": "trimEnd"}


class JSFunction:
    """A built-in method reached by a property path (`properties.tags.map`): truthy, not a string or number."""

    __slots__ = ("name", "length")

    def __init__(self, name: str, length: int) -> None:
        self.name = _FUNCTION_NAME_ALIASES.get(name, name)
        self.length = length

    def __repr__(self) -> str:
        return f"<JS function {self.name}>"


class JSThrow(Exception):
    """Segment's code would throw a TypeError here (e.g. reading `caller` of a built-in function)."""


def truthy(value: Any) -> bool:
    """JS truthiness: false, 0, NaN, "", null and undefined are falsy; [] and {} are truthy."""
    if value is None or value is False:
        return False
    if type(value) in NUMBER_TYPES:
        return value == value and value != 0
    if type(value) is str:
        return value != ""
    return True


def as_double(value: int | float) -> float:
    """The JS number a JSON number becomes: doubles, with overflow to ±Infinity."""
    if type(value) is int and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value  # type: ignore[return-value]


def utf16_length(text: str) -> int:
    """`text.length` in JS: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _utf16_unit(text: str, index: int) -> str | None:
    if text.isascii():
        return text[index] if index < len(text) else None
    units = text.encode("utf-16-le", "surrogatepass")
    if 2 * index + 2 > len(units):
        return None
    return units[2 * index : 2 * index + 2].decode("utf-16-le", "surrogatepass")


_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def _array_index(key: str) -> int | None:
    if _ARRAY_INDEX.fullmatch(key) and len(key) <= 10:
        index = int(key)
        if index < 2**32 - 1:
            return index
    return None


def member(value: Any, key: str) -> Any:
    """`value[key]` in JS for a truthy JSON value (or a built-in reached earlier). None stands for undefined."""
    if isinstance(value, dict):
        return value.get(key)
    if type(value) is list:
        if key == "length":
            return len(value)
        index = _array_index(key)
        if index is not None:
            return value[index] if index < len(value) else None
        return JSFunction(key, ARRAY_METHODS[key]) if key in ARRAY_METHODS else None
    if type(value) is str:
        if key == "length":
            return utf16_length(value)
        index = _array_index(key)
        if index is not None:
            return _utf16_unit(value, index)
        return JSFunction(key, STRING_METHODS[key]) if key in STRING_METHODS else None
    if type(value) in NUMBER_TYPES:
        return JSFunction(key, NUMBER_METHODS[key]) if key in NUMBER_METHODS else None
    if type(value) is JSFunction:
        if key == "length":
            return value.length
        if key == "name":
            return value.name
        if key in ("caller", "arguments"):
            raise JSThrow(f"'{key}' may not be accessed on a built-in function")
        return JSFunction(key, FUNCTION_METHODS[key]) if key in FUNCTION_METHODS else None
    if hasattr(value, "get") and hasattr(value, "keys"):  # any other mapping
        return value.get(key)
    return None  # true, and anything else without own properties


PATH_SEGMENT = re.compile(r"[^\[.\]]+")
"""How Segment's `get()` splits a field name: runs of characters other than `[`, `.` and `]`."""


def path_segments(name: str) -> tuple[str, ...]:
    return tuple(PATH_SEGMENT.findall(name))


def get_path(root: Any, segments: tuple[str, ...]) -> Any:
    """Segment's `get(obj, path)`: `cur && cur[key]` per segment, so a falsy value stops the walk and is the result."""
    current = root
    for key in segments:
        if not truthy(current):
            return current
        current = member(current, key)
    return current


# ---------------------------------------------------------------------------------------------- conversions


def number_to_string(value: int | float) -> str:
    """JS `String(number)`: shortest round-trip digits, exponent form outside [1e-7, 1e21)."""
    if type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    value = as_double(value)
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # type: ignore[operator]  # the JS spec's n: where the decimal point goes
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    e = point - 1
    exponent = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + exponent


class _Undefined:
    """JS undefined where it must differ from null (String(undefined), Number(undefined))."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _Undefined()


def to_string(value: Any) -> str:
    """JS `String(value)` for JSON values."""
    if type(value) is str:
        return value
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) in NUMBER_TYPES:
        return number_to_string(value)
    if isinstance(value, (list, tuple)):
        return ",".join("" if v is None or v is UNDEFINED else to_string(v) for v in value)
    if isinstance(value, JSFunction):
        return f"function {value.name}() {{ [native code] }}"
    return "[object Object]"


_JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"  # noqa: E501
_DECIMAL = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Infinity)")
_RADIX = re.compile(r"0([xXoObB])([0-9a-fA-F]+)")


def to_number(value: Any) -> float | int:
    """JS `Number(value)` for JSON values."""
    if type(value) in NUMBER_TYPES:
        return as_double(value)
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if value is UNDEFINED:
        return math.nan
    if type(value) is str:
        text = value.strip(_JS_WHITESPACE)
        if text == "":
            return 0
        if _DECIMAL.fullmatch(text):
            return float(text.replace("Infinity", "inf"))
        radix = _RADIX.fullmatch(text)
        if radix:
            base = {"x": 16, "o": 8, "b": 2}[radix.group(1).lower()]
            try:
                return as_double(int(radix.group(2), base))
            except ValueError:
                return math.nan
        return math.nan
    if isinstance(value, (list, tuple)):
        return to_number(to_string(value))
    return math.nan
