"""Path lookup as Segment's `get()` does it, used by `@path`, `@arrayPath` and `{{ }}` in `@template`.

A path is split once (`parse_path`) into segments; `lookup` then walks them with JS semantics: a falsy value
stops the walk and is returned as is (`{"a": null}` at `a.b` gives null, not MISSING), lists and strings are
indexed by canonical integer strings and answer `length`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ..jsvalues import MISSING, char_at, is_array_index, truthy, utf16_length

# Split points: a `.`; a `[` followed by a quote or digit; a run of `]` preceded by a quote or digit.
# `[0-9]`, not `\d`: JS `\d` is ASCII-only.
_SPLIT = re.compile(r"""\[(?=["'0-9])|\.|(?<=["'0-9])\]+""")
_QUOTES = re.compile(r"""['"]""")

Segments = tuple[tuple[str, int], ...]
"""Each segment as (key, index) where index is the key's array index, or -1 when it is not one."""


@lru_cache(maxsize=4096)
def parse_path(path: str) -> Segments | None:
    """The segments of `path`; None for `""` and `"."`, which address the root itself."""
    if path == "" or path == ".":
        return None
    parts = [_QUOTES.sub("", p) for p in _SPLIT.split(path) if p]
    return tuple((p, int(p) if is_array_index(p) else -1) for p in parts)


def directive_path(path: str) -> Segments | None:
    """Segments for a directive's path: the first `$.` anywhere in it is removed first (templates don't)."""
    return parse_path(path.replace("$.", "", 1))


def lookup(root: Any, segments: Segments | None) -> Any:
    """Walk `segments` from `root` like `segments.reduce((cur, key) => cur && cur[key], root)`."""
    if segments is None:
        return root
    cur = root
    for key, index in segments:
        t = type(cur)
        if t is dict:
            cur = cur.get(key, MISSING)
        elif not truthy(cur):
            return cur
        elif t is list:
            if index >= 0:
                cur = cur[index] if index < len(cur) else MISSING
            else:
                cur = len(cur) if key == "length" else MISSING
        elif t is str:
            if index >= 0:
                cur = char_at(cur, index)
            else:
                cur = utf16_length(cur) if key == "length" else MISSING
        elif isinstance(cur, dict):
            cur = cur.get(key, MISSING)
        else:
            cur = MISSING
    return cur
