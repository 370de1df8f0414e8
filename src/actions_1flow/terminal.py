"""Making text from event data safe to print on a terminal or write to a log, and the commands' tables fit the
terminal they are printed on.

Event data (a device report's message, a messageId, an error 1Flow echoed back) comes from the network. Printed
raw, an `ESC [ 41 m` recolours the operator's terminal, an `ESC ] 0 ;` retitles it, a carriage return or a bidi
override hides what a line really says, and a newline forges a log line. `escape_controls` writes every such
character as a visible escape (`\\x1b`, `\\n`, `\\u202e`), so what is shown is exactly what was received, only
legible; `SafeFormatter` does it for every log record.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import orjson
from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

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


# -- tables ------------------------------------------------------------------------------------------------------

PIPED_WIDTH = 120
"""Columns of output going to a file or a pipe (no terminal to ask) when `COLUMNS` does not say."""
FOLDED_WIDTH = 24
"""Columns a folding column (long ids, requests) is allowed to shrink to before a table is stacked instead."""


def table_console() -> Console:
    """Where commands print tables: the terminal's width (or `COLUMNS`'s), else `PIPED_WIDTH`."""
    console = Console(highlight=False, soft_wrap=False)
    if "COLUMNS" not in os.environ and not console.is_terminal:
        console = Console(highlight=False, soft_wrap=False, width=PIPED_WIDTH)
    return console


def print_table(table: Table, console: Console | None = None) -> None:
    """`table` as a table when every column can keep its longest word whole within the width; otherwise as one
    block per row (`column  value` lines under the row's first value), which reads well in 80 columns."""
    console = console or table_console()
    if _narrowest(table, console) <= console.width:
        console.print(table)
        return
    if table.title:
        console.print(table.title, markup=False)
    headers = [_plain(column.header, console) for column in table.columns]
    rows = zip(*(list(column.cells) for column in table.columns), strict=True)
    for i, (first, *rest) in enumerate(rows):
        block = Table.grid(padding=(0, 2))
        block.add_column(style="dim", no_wrap=True)
        block.add_column(overflow="fold")
        for header, value in zip(headers[1:], rest, strict=True):
            if _plain(value, console):
                block.add_row(header, value)
        title = Text(("" if i == 0 else "\n") + _plain(first, console).replace("\n", " · "), style="bold")
        console.print(title)  # a Text: never read as markup
        console.print(Padding(block, (0, 0, 0, 2), expand=False))


def _narrowest(table: Table, console: Console) -> int:
    """The width `table` needs for no column to break inside a word (folding columns: `FOLDED_WIDTH` at most)."""
    total = 1 + 3 * len(table.columns)  # borders and one space of padding each side
    for column in table.columns:
        texts = [_plain(column.header, console), *(_plain(c, console) for c in column.cells)]
        longest = max((cell_len(word) for text in texts for word in text.split()), default=0)
        total += min(longest, FOLDED_WIDTH) if column.overflow == "fold" else longest
    return total


def _plain(value: object, console: Console) -> str:
    if isinstance(value, Text):
        return value.plain
    return console.render_str(value).plain if isinstance(value, str) else str(value)
