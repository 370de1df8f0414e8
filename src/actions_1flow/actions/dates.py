"""Segment's `date-like` format: what dayjs accepts as a date.

dayjs reads `YYYY[-/]MM[-/]DD[T ]HH:mm:ss.SSS`-style text itself (any such text is a valid date, since JS Dates
roll over) and hands everything else to JS `new Date(text)`; numeric text is read as unix seconds. JS's fallback
date parser is V8-specific and very lenient; here it is approximated by ISO-8601, RFC 2822 and the common
"Month D, YYYY" forms.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from email.utils import parsedate_tz

from .. import jsvalues as js

_DAYJS = re.compile(r"^(\d{4})[-/]?(\d{1,2})?[-/]?(\d{0,2})[Tt\s]*(\d{1,2})?:?(\d{1,2})?:?(\d{1,2})?[.:]?(\d+)?$")
_MAX_DATE_MS = 8.64e15
_FALLBACK_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y", "%m/%d/%Y",
                     "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%a %b %d %Y", "%a %b %d %Y %H:%M:%S")


def is_date_like(text: str) -> bool:
    seconds = js.to_number(text)
    if js.number_to_string(seconds) == text:
        return math.isfinite(seconds) and abs(seconds * 1000) <= _MAX_DATE_MS
    if not text.lower().endswith("z") and _DAYJS.match(text):
        return True
    candidate = text.strip()
    try:
        datetime.fromisoformat(candidate)
        return True
    except ValueError:
        pass
    if parsedate_tz(candidate) is not None:
        return True
    for fmt in _FALLBACK_FORMATS:
        try:
            datetime.strptime(candidate, fmt)
            return True
        except ValueError:
            continue
    return False
