"""Property paths as Segment's FQL reads them: `get(event.properties, "a.b")` on JS values.

Segment evaluates triggers in JavaScript: `cur && cur[key]` short-circuits on *JS* falsiness, and a property read
on a string, an array or a number reaches its prototype (`"abc".length`, `tags.0`, `n.toFixed`). This module
reproduces exactly the reads FQL can make, on the value semantics of `actions_1flow.jsvalues`. (Mapping-kit
reads paths with its own `get()`: `mapping/paths.py`.)
"""

from __future__ import annotations

import re
from typing import Any

from ..jsvalues import MISSING, NUMBER_TYPES, char_at, is_array_index, truthy, utf16_length

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

    __slots__ = ("length", "name")

    def __init__(self, name: str, length: int) -> None:
        self.name = _FUNCTION_NAME_ALIASES.get(name, name)
        self.length = length

    def __repr__(self) -> str:
        return f"<JS function {self.name}>"


class JSThrow(Exception):
    """Segment's code would throw a TypeError here (e.g. reading `caller` of a built-in function)."""


def member(value: Any, key: str) -> Any:
    """`value[key]` in JS for a truthy JSON value (or a built-in reached earlier). None stands for undefined."""
    if isinstance(value, dict):
        return value.get(key)
    if type(value) is list:
        if key == "length":
            return len(value)
        if is_array_index(key):
            index = int(key)
            return value[index] if index < len(value) else None
        return JSFunction(key, ARRAY_METHODS[key]) if key in ARRAY_METHODS else None
    if type(value) is str:
        if key == "length":
            return utf16_length(value)
        if is_array_index(key):
            unit = char_at(value, int(key))
            return None if unit is MISSING else unit
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
    """The keys `get()` walks for a field name (`a.b[0]` → a, b, 0)."""
    return tuple(PATH_SEGMENT.findall(name))


def get_path(root: Any, segments: tuple[str, ...]) -> Any:
    """Segment's `get(obj, path)`: `cur && cur[key]` per segment, so a falsy value stops the walk and is the result."""
    current = root
    for key in segments:
        if not truthy(current):
            return current
        current = member(current, key)
    return current
