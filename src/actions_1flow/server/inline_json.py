"""JSON for an inline `<script>`: text the HTML parser cannot end early and JavaScript reads back unchanged.

`json.dumps` leaves `</script>` (ends the script element, whatever the quotes), `<!--` (script data states) and `&`
as they are, and U+2028/U+2029 are line terminators in older JavaScript string literals. Each is written as its
`\\uXXXX` escape instead, which every JSON and JavaScript parser reads as the same character.
"""

from __future__ import annotations

import json
from typing import Any

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_TABLE = str.maketrans(_ESCAPES)


def script_json(value: Any) -> str:
    """`value` as a JavaScript literal that is safe to paste inside `<script>…</script>` in an HTML page."""
    return json.dumps(value, ensure_ascii=False).translate(_TABLE)
