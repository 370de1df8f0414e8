"""`@template` rendering (`placeholders.ts`): `{{{x}}}` first, then `{{x}}` over the result of that pass.

Placeholders are looked up with the path rules (without removing `$.`); null and MISSING render as empty text,
anything else as JS `String()`. There is no escaping. Because the second pass runs over the first pass's
output, text inserted by a triple placeholder is expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..jsvalues import MISSING, to_string, trim
from .paths import Segments, lookup, parse_path

_TRIPLE = re.compile(r"\{\{\{([^}]+)\}\}\}")
_DOUBLE = re.compile(r"\{\{([^}]+)\}\}")


def _text(value: Any) -> str:
    if value is None or value is MISSING:
        return ""
    return value if type(value) is str else to_string(value)


def _segments(inner: str) -> Segments | None:
    return parse_path(trim(inner))


def render(template: str, data: Any) -> str:
    """Render `template` against `data` (both passes, at run time)."""

    def replace(match: re.Match) -> str:
        return _text(lookup(data, _segments(match.group(1))))

    return _DOUBLE.sub(replace, _TRIPLE.sub(replace, template))


def compile_template(template: str) -> Callable[[Any], str]:
    """A renderer for a fixed template. Without `{{{`, the placeholders are resolved to segments up front."""
    if "{{{" in template:
        return lambda data: render(template, data)
    pieces = _DOUBLE.split(template)  # literal, inner, literal, inner, ..., literal
    if len(pieces) == 1:
        return lambda data: template
    literals = pieces[0::2]
    paths = [_segments(inner) for inner in pieces[1::2]]
    if len(paths) == 1:
        before, after = literals
        (path,) = paths
        return lambda data: before + _text(lookup(data, path)) + after

    def render_pieces(data: Any) -> str:
        out = [literals[0]]
        for path, literal in zip(paths, literals[1:]):
            out.append(_text(lookup(data, path)))
            out.append(literal)
        return "".join(out)

    return render_pieces
