"""The JavaScript value rules payload validation adds to the mapping engine's (ajv runs in JS): `typeof`, `===`
for enum members, and integral numbers kept as ints. `String(x)`, `Number(x)` and `JSON.stringify` come from
`actions_1flow.mapping.jsvalues`.

MISSING (JS `undefined`) is the mapping engine's sentinel.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from ..mapping import MISSING
from ..jsvalues import json_stringify, number_to_string
from ..jsvalues import to_number as js_to_number
from ..jsvalues import to_string as js_string

__all__ = ["dumps", "is_finite", "is_number", "js_string", "js_to_number", "json_stringify", "number_to_string",
           "strict_equal", "tidy_number", "typeof"]


def is_number(value: Any) -> bool:
    """JS `typeof value == "number"` (Python's bool is an int, but not a JS number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def typeof(value: Any) -> str:
    """JS `typeof` (null, lists and dicts are all "object")."""
    if value is MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def is_finite(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


def tidy_number(value: float) -> int | float:
    """A JS number as Python keeps it: integral values as int (so JSON shows `5`, like JS, not `5.0`)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def strict_equal(a: Any, b: Any) -> bool:
    """JS `a === b` for primitives (what ajv's `enum` compiles to for primitive lists)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def _json_default(value: Any) -> Any:
    if value is MISSING:
        return None  # JSON.stringify writes an undefined list item as null
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Compact (or indented) JSON for payloads and reports; a MISSING value shows as null."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_INDENT_2 if pretty else 0)
