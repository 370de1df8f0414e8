"""`@replace`'s text substitution: a literal pattern run as a JS RegExp, replaced with JS `String.replace`.

Segment escapes every regex metacharacter, so the pattern always matches itself. Two JS details remain:
case-insensitive matching follows the RegExp `i` flag's simple upper-case folding (not Python's), and the
replacement text understands `$$`, `$&`, `` $` `` and `$'`.
"""

from __future__ import annotations


class _Canonical(dict):
    """Code point → its RegExp `i`-flag canonical form (non-Unicode mode), computed on first use."""

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        upper = ch.upper()
        canonical = code
        if code <= 0xFFFF and len(upper) == 1 and not (code >= 128 and ord(upper) < 128):
            canonical = ord(upper)
        self[code] = canonical
        return canonical


_CANONICAL = _Canonical()


def _fold(s: str) -> str:
    return s.upper() if s.isascii() else s.translate(_CANONICAL)


def _substitute(replacement: str, subject: str, start: int, end: int) -> str:
    """JS GetSubstitution for a pattern without capture groups."""
    out = []
    i, n = 0, len(replacement)
    while i < n:
        ch = replacement[i]
        if ch == "$" and i + 1 < n:
            nxt = replacement[i + 1]
            if nxt == "$":
                out.append("$")
            elif nxt == "&":
                out.append(subject[start:end])
            elif nxt == "`":
                out.append(subject[:start])
            elif nxt == "'":
                out.append(subject[end:])
            else:
                out.append(ch)
                i += 1
                continue
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def replace_literal(subject: str, pattern: str, replacement: str, global_: bool, ignorecase: bool) -> str:
    """`subject.replace(new RegExp(escaped(pattern), flags), replacement)`."""
    if not ignorecase and "$" not in replacement:
        return subject.replace(pattern, replacement, -1 if global_ else 1)
    haystack, needle = (_fold(subject), _fold(pattern)) if ignorecase else (subject, pattern)
    out = []
    pos = 0
    while True:
        found = haystack.find(needle, pos)
        if found < 0:
            break
        end = found + len(needle)
        out.append(subject[pos:found])
        out.append(_substitute(replacement, subject, found, end) if "$" in replacement else replacement)
        pos = end
        if not global_:
            break
    out.append(subject[pos:])
    return "".join(out)
