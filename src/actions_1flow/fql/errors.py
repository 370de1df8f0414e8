"""The one error FQL parsing raises: what is wrong and where, shown with a caret under the spot."""

from __future__ import annotations

import unicodedata

_CONTEXT_BEFORE = 60
_CONTEXT_AFTER = 30
"""How much of a long line the caret rendering shows around the error."""


class FQLSyntaxError(ValueError):
    """FQL text outside the accepted language.

    `message` names the problem, `position` is the 0-based offset into `text` (the column, for one-line text),
    `line` and `column` locate it for multi-line text (line 1-based, column 0-based). `str()` shows the message,
    the offending line and a caret under the column.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        self.message = message
        self.text = text
        self.position = max(0, min(position, len(text)))
        line_start = text.rfind("\n", 0, self.position) + 1
        self.line = text.count("\n", 0, line_start) + 1
        self.column = self.position - line_start
        super().__init__(self._render(line_start))

    def _render(self, line_start: int) -> str:
        line_end = self.text.find("\n", self.position)
        if line_end == -1:
            line_end = len(self.text)
        start = max(line_start, self.position - _CONTEXT_BEFORE)
        end = min(line_end, self.position + _CONTEXT_AFTER)
        before = _printable(self.text[start : self.position])
        after = _printable(self.text[self.position : end])
        shown = ("…" if start > line_start else "") + before
        caret_pad = "".join("\t" if c == "\t" else " " * _width(c) for c in shown)
        shown += after + ("…" if end < line_end else "")
        where = f"line {self.line}, column {self.column + 1}" if "\n" in self.text else f"column {self.column + 1}"
        return f"{self.message} ({where})\n  {shown}\n  {caret_pad}^"

    def __reduce__(self):  # keep the three arguments when pickled (e.g. across processes)
        return (type(self), (self.message, self.text, self.position))


def clip(text: str, limit: int = 40) -> str:
    """User text quoted in a message, shortened when long."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _printable(text: str) -> str:
    """Control and unpaired-surrogate characters shown as U+FFFD, so the rendering prints and aligns anywhere."""
    return "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in text)


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1
