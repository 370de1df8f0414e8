"""Making text from event data safe to print on a terminal or write to a log.

Event data (a device report's message, a messageId, an error 1Flow echoed back) comes from the network. Printed
raw, an `ESC [ 41 m` recolours the operator's terminal, an `ESC ] 0 ;` retitles it, a carriage return or a bidi
override hides what a line really says, and a newline forges a log line. `escape_controls` writes every such
character as a visible escape (`\\x1b`, `\\n`, `\\u202e`), so what is shown is exactly what was received, only
legible; `SafeFormatter` does it for every log record.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_CONTROLS_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JSON_UNESCAPED_CONTROLS = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
"""What a JSON encoder leaves raw of `_CONTROLS` (it escapes U+0000-U+001F itself)."""


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with C0/C1 control characters, DEL, bidi controls and line/paragraph separators written as
    `\\xNN`/`\\uNNNN` (`\\n`, `\\r`, `\\t` by name). `keep_newlines` leaves `\\n` and `\\t` as they are (for
    text whose lines are ours, such as a traceback)."""
    return (_CONTROLS_BUT_LINES if keep_newlines else _CONTROLS).sub(_escape, text)


def json_line(value: Any) -> str:
    """`value` as one line of JSON with every character `escape_controls` treats written as `\\uXXXX`: still
    the same JSON to a parser, but a DEL, C1 control, bidi override or line separator cannot reach the terminal."""
    return _JSON_UNESCAPED_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", orjson.dumps(value).decode())


class SafeFormatter(logging.Formatter):
    """A log formatter that escapes control characters in the message (one record is one line) and in
    tracebacks (whose line breaks are kept), so no event data reaches the log raw."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei) -> str:
        return escape_controls(super().formatException(ei), keep_newlines=True)

    def formatStack(self, stack_info: str) -> str:
        return escape_controls(super().formatStack(stack_info), keep_newlines=True)


def install_safe_logging(level: str, fmt: str) -> None:
    """Log to stderr at `level` through a `SafeFormatter`, replacing the root logger's handlers (uvicorn is run
    without a logging configuration of its own, so its records come here too)."""
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
