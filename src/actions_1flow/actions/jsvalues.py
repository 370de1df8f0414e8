"""The few JavaScript value rules payload validation depends on (ajv runs in JS): typeof, `+x`, `"" + x`, `===`.

MISSING (JS `undefined`) is the mapping engine's sentinel; it can only occur inside lists of a mapped payload.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import orjson

from ..mapping import MISSING

_JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_RADIX = {"0x": 16, "0o": 8, "0b": 2}


def is_number(value: Any) -> bool:
    """JS `typeof value == "number"` (Python's bool is an int, but not a JS number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def typeof(value: Any) -> str:
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


def to_number(text: str) -> float:
    """JS `+text` (StringToNumber): trims JS whitespace; '' is 0; hex/octal/binary; Infinity; else NaN."""
    s = text.strip(_JS_WHITESPACE)
    if s == "":
        return 0.0
    if s in ("Infinity", "+Infinity"):
        return math.inf
    if s == "-Infinity":
        return -math.inf
    radix = _RADIX.get(s[:2].lower())
    if radix is not None:
        try:
            return float(int(s[2:], radix))
        except ValueError:
            return math.nan
    if _DECIMAL.fullmatch(s):
        return float(s)
    return math.nan


def number_to_string(value: float) -> str:
    """JS `String(number)`: shortest round-trip digits, exponent only below 1e-6 or from 1e21."""
    if isinstance(value, int):
        if abs(value) < 10**21:
            return str(value)
        value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = k + int(exponent)  # position of the decimal point relative to the digits
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


def to_string(value: Any) -> str:
    """JS `"" + value` for the primitives ajv coerces (numbers and booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return number_to_string(value)


def strict_equal(a: Any, b: Any) -> bool:
    """JS `a === b` for primitives (what ajv's `enum` compiles to for primitive lists)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def json_text(value: Any) -> str:
    """JS `JSON.stringify(value)` for the primitives listed in `enum` messages."""
    if is_number(value):
        return number_to_string(value) if math.isfinite(value) else "null"
    return orjson.dumps(value).decode()


def _json_default(value: Any) -> Any:
    if value is MISSING:
        return None  # JSON.stringify writes undefined list items as null
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """JSON for a mapped value (MISSING list items become null, like JSON.stringify)."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_INDENT_2 if pretty else 0)
