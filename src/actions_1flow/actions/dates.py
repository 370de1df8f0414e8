"""Segment's `date-like` format: what dayjs accepts as a date.

actions-core checks a `datetime` field with `dayjs(text).isValid()`, except that text which is a JS number in
canonical form is read as unix seconds. dayjs reads `YYYY[-/]MM[-/]DD[T ]HH:mm:ss.SSS`-style text itself (any such
text is a valid date, since JS dates roll over) and hands everything else to JS `new Date(text)`.
"""

from __future__ import annotations

import math
import re

from .. import jsdate
from .. import jsvalues as js

_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_DAYJS = re.compile(
    rf"([0-9]{{4}})[-/]?([0-9]{{1,2}})?[-/]?([0-9]{{0,2}})[Tt{_JS_SPACE}]*([0-9]{{1,2}})?:?([0-9]{{1,2}})?:?"
    r"([0-9]{1,2})?[.:]?([0-9]+)?"
)


def is_date_like(text: str) -> bool:
    """Whether actions-core's ajv format `date-like` accepts `text` (the check on every `datetime` field)."""
    seconds = js.to_number(text)
    if js.number_to_string(seconds) == text:
        return math.isfinite(seconds) and abs(seconds * 1000) <= jsdate.MAX_TIME_MS
    if not text.lower().endswith("z") and _DAYJS.fullmatch(text):
        return True
    return jsdate.parse(text) is not None
