"""FQL text → tokens, each with its position. Strict: anything Segment's lexer fails on or reads differently from how
it is written (`<=5`, `!="x"`, `'x'`, `"a\\"b"`, `1e5`, a word run into a quote) is an `FQLSyntaxError` here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from ..jsvalues import join_surrogates, number_to_string, utf16_length
from .errors import FQLSyntaxError, clip

WORD = "word"
STRING = "string"
NUMBER = "number"
OP = "operator"
NOT = "not"
CONN = "connective"
LPAREN = "("
RPAREN = ")"
COMMA = ","
EOS = "end"

MAX_TOKEN_LENGTH = 100_000
"""Segment's lexer gives up on names, strings and numbers this long (in UTF-16 units); so do we."""

_SEGMENT_TERMINATORS = frozenset(" \t\n,)]")  # what Segment accepts after `and`, `!=`, `<=`, a closing quote …
_KEYWORDS = frozenset({"and", "or", "null"})
_AFTER_WORD = frozenset(" \t\n,)(=!")
_AFTER_VALUE = frozenset(" \t\n,)")
_ESCAPE = r"\\[\s\S]"
_SEGMENT = rf"(?:[A-Za-z_]|{_ESCAPE})(?:[A-Za-z0-9_\-]|{_ESCAPE})*"
_WORD_RE = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT})*")
_SEGMENT_RE = re.compile(_SEGMENT)
_LAST_SEGMENT = re.compile(rf"{_SEGMENT}$")
_ESCAPED_CHAR = re.compile(r"\\([\s\S])")
_NUMBER_RUN = re.compile(r"[+-]?[0-9.]*")
_NUMBER_OK = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)")
_WORDISH_RUN = re.compile(r"[A-Za-z0-9_.+\-]*")
_SPACES = re.compile(r"[ \t\n]*")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    """The source text of the token."""
    value: object
    """word: the name with escapes applied; string: its content; number: its JS number (JSON form); else the text."""
    start: int


def lex(text: str) -> list[Token]:
    """Split FQL into tokens ending with an EOS token; raise FQLSyntaxError at the first character out of place."""
    return _Lexer(text).run()


def describe_char(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return f"'{char}'"
    return f"U+{ord(char):04X}"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []

    def fail(self, message: str, position: int) -> FQLSyntaxError:
        return FQLSyntaxError(message, self.text, position)

    def peek(self, position: int) -> str:
        return self.text[position] if position < len(self.text) else ""

    def run(self) -> list[Token]:
        text, pos, add = self.text, 0, self.tokens.append
        while True:
            pos = _SPACES.match(text, pos).end()  # type: ignore[union-attr]
            if pos >= len(text):
                add(Token(EOS, "", "end", len(text)))
                return self.tokens
            char = text[pos]
            if (char.isascii() and (char.isalpha() or char == "_")) or char == "\\":
                pos = self.word(pos)
            elif (char.isdigit() and char.isascii()) or char in "+-":
                pos = self.number(pos)
            elif char == '"':
                pos = self.string(pos)
            elif char == "'":
                raise self.fail(
                    "single-quoted string: Segment keeps the quotes as part of the value; use double quotes", pos
                )
            elif char == "=":
                add(Token(OP, "=", "=", pos))
                pos += 1
            elif char == "!":
                pos = self.bang(pos)
            elif char in "<>":
                pos = self.comparison(pos)
            elif char in "(),":
                add(Token(char, char, char, pos))
                pos += 1
            else:
                raise self.fail(f"unexpected character {describe_char(char)}", pos)

    def word(self, start: int) -> int:
        match = _WORD_RE.match(self.text, start)
        if match is None:  # a lone backslash at the very end
            raise self.fail("'\\' at the end escapes nothing", start)
        raw, end = match.group(), match.end()
        after = self.peek(end)
        if after == ".":
            raise self.fail(f"expected a name after '{clip(raw)}.'", end + 1)
        if after == "\\":
            raise self.fail("'\\' at the end escapes nothing", end)
        if after and after not in _AFTER_WORD:
            raise self.fail(f"expected a space between '{clip(raw)}' and {describe_char(after)}", end)
        if raw in ("and", "or"):
            if after and after not in _SEGMENT_TERMINATORS:
                raise self.fail(f"expected a space after '{raw}'", end)
            self.tokens.append(Token(CONN, raw, raw, start))
            return end
        last = _LAST_SEGMENT.search(raw).group()  # type: ignore[union-attr]
        if last in _KEYWORDS and last != raw and (not after or after in _SEGMENT_TERMINATORS):
            raise self.fail(
                f"Segment reads a final '.{last}' as the keyword {last}: escape it as '\\{last}'", end - len(last)
            )
        if not after and ((last[0] == "a" and len(last) == 2) or (last[0] == "n" and len(last) in (2, 3))):
            # Segment's lexer, looking for `and`/`null`, runs into the end of the text and drops what it read.
            raise self.fail(
                f"Segment reads '{last}' at the very end as '{last[0]}': add a space or quote it", end - len(last)
            )
        value = raw
        if "\\" in raw:
            for escaped in _ESCAPED_CHAR.finditer(raw):
                if ord(escaped.group(1)) > 0xFFFF:
                    raise self.fail(
                        "a '\\' escape cannot take a character outside the Basic Multilingual Plane",
                        start + escaped.start(),
                    )
            value = _ESCAPED_CHAR.sub(r"\1", raw)
            if any("\ud800" <= c <= "\udfff" for c in value):  # escaped UTF-16 halves form one character, as in JS
                value = join_surrogates(value)
        if len(raw) >= MAX_TOKEN_LENGTH // 2:  # Segment's limit applies to each dot-separated part
            for segment in _SEGMENT_RE.finditer(raw):
                if utf16_length(_ESCAPED_CHAR.sub(r"\1", segment.group())) >= MAX_TOKEN_LENGTH:
                    raise self.fail("name too long", start + segment.start())
        self.tokens.append(Token(WORD, raw, value, start))
        return end

    def number(self, start: int) -> int:
        run = _NUMBER_RUN.match(self.text, start).group()  # type: ignore[union-attr]
        end = start + len(run)
        shown = run + _WORDISH_RUN.match(self.text, end).group()  # type: ignore[union-attr]
        if run in ("-", "+") and not shown[1:]:
            raise self.fail(f"expected a number after '{run}'", start)
        after = self.peek(end)
        if not _NUMBER_OK.fullmatch(run) or (after and after not in _AFTER_VALUE):
            raise self.fail(
                f"malformed number '{clip(shown)}': numbers are digits with an optional sign and decimal point", start
            )
        if len(run) - 1 >= MAX_TOKEN_LENGTH:
            raise self.fail("number too long", start)
        number = float(run)
        if math.isinf(number):
            raise self.fail(f"number out of range: '{clip(run)}'", start)
        self.tokens.append(Token(NUMBER, run, json_number(number), start))
        return end

    def string(self, start: int) -> int:
        close = self.text.find('"', start + 1)
        if close == -1:
            raise self.fail("unterminated string", start)
        content = self.text[start + 1 : close]
        if len(content) >= MAX_TOKEN_LENGTH // 2 and utf16_length(content) >= MAX_TOKEN_LENGTH:
            raise self.fail("string too long", start)
        if content.endswith("\\"):
            raise self.fail(
                'FQL strings have no escapes: this quote ends the string (a "\\" cannot precede it)', close - 1
            )
        after = self.peek(close + 1)
        if after and after not in _AFTER_VALUE:
            raise self.fail(f"expected a space after the string, found {describe_char(after)}", close + 1)
        self.tokens.append(Token(STRING, self.text[start : close + 1], content, start))
        return close + 1

    def bang(self, start: int) -> int:
        after = self.peek(start + 1)
        if (after.isascii() and after.isalpha()) or after == "(":
            self.tokens.append(Token(NOT, "!", "!", start))
            return start + 1
        if after == "=":
            return self.operator("!=", start)
        raise self.fail("'!' must be followed by '=' or by contains( / match(", start)

    def comparison(self, start: int) -> int:
        char = self.text[start]
        if self.peek(start + 1) == "=":
            return self.operator(char + "=", start)
        self.tokens.append(Token(OP, char, char, start))
        return start + 1

    def operator(self, op: str, start: int) -> int:
        after = self.peek(start + 2)
        if after and after not in _SEGMENT_TERMINATORS:
            raise self.fail(f"'{op}' must be followed by a space", start)
        self.tokens.append(Token(OP, op, op, start))
        return start + 2


def json_number(number: float) -> int | float:
    """A JS number as JSON.parse(JSON.stringify(n)) gives it in Python: integers below 1e21 as int."""
    if number.is_integer() and abs(number) < 1e21:
        return int(Decimal(number_to_string(number)))
    return number
