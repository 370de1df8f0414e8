"""Tokens → Segment's AST, for the well-formed language only.

Two steps. `_Grammar` checks the text against the accepted language (conditions, contains()/match(), one connective
kind per level, one level of parentheses) and raises `FQLSyntaxError` where it leaves it. `_segment_reading` then
builds the AST exactly as Segment's `parseFql` reads the same tokens — including its one structural quirk that
well-formed text can reach: inside parentheses, the `)` of a contains()/match() call closes the group, so what follows
the call belongs to the enclosing level (see docs/fql.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..jsvalues import to_string
from .errors import FQLSyntaxError, clip
from .lexer import COMMA, CONN, EOS, LPAREN, NOT, NUMBER, OP, RPAREN, STRING, WORD, Token, describe_char, lex
from .paths import OBJECT_PROTOTYPE_NAMES, path_segments

FIELD_TYPES = {
    "type": "event-type",
    "event": "event",
    "name": "name",
    "userId": "userId",
    "context": "event-context",
    "properties": "event-property",
    "traits": "event-trait",
}
"""First segment of a field → the AST condition type."""

TOP_LEVEL_FIELDS = frozenset({"event-type", "event", "name", "userId"})
STRING_ONLY_FIELDS = frozenset({"event-type", "event"})
"""Fields Segment always compares as text (no exists / is_true forms)."""
FUNCTIONS = ("contains", "match")
ORDERING = frozenset({"<", "<=", ">", ">="})


def parse_ast(text: str) -> dict[str, Any]:
    """Segment's AST for `text`, or FQLSyntaxError when `text` is outside the accepted language."""
    elements = _Grammar(text, lex(text)).query()
    root = _segment_reading(elements)
    if root["type"] != "group":
        root = {"type": "group", "operator": "and", "children": [root]}
    return root


@dataclass(slots=True)
class _Node:
    node: dict[str, Any]
    is_function: bool


@dataclass(slots=True)
class _Conn:
    value: str


@dataclass(slots=True)
class _Group:
    elements: list[_Node | _Conn]


_Element = _Node | _Conn | _Group


def _segment_reading(elements: list[_Element]) -> dict[str, Any]:
    """One level as Segment's parser reads it: the last connective seen applies to all; a group ends at its
    first `)`.
    """
    nodes: list[dict[str, Any]] = []
    operator = "and"
    for element in elements:
        if isinstance(element, _Conn):
            operator = element.value
        elif isinstance(element, _Node):
            nodes.append(element.node)
        else:
            inner = element.elements
            cut = next((i + 1 for i, e in enumerate(inner) if isinstance(e, _Node) and e.is_function), len(inner))
            nodes.append(_segment_reading(inner[:cut]))  # type: ignore[arg-type]
            for spilled in inner[cut:]:
                if isinstance(spilled, _Conn):
                    operator = spilled.value
                else:
                    nodes.append(spilled.node)
    if len(nodes) > 1:
        return {"type": "group", "operator": operator, "children": nodes}
    return nodes[0]


def _show(token: Token) -> str:
    if token.kind == EOS:
        return "the end"
    if token.kind == STRING:
        return "a string"
    if token.kind == NUMBER:
        return f"the number {clip(token.text)}"
    return f"'{clip(token.text)}'" if token.text.isprintable() else describe_char(token.text[0])


class _Grammar:
    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, message: str, position: int) -> FQLSyntaxError:
        return FQLSyntaxError(message, self.text, position)

    # -- structure -------------------------------------------------------------------------------------------

    def query(self) -> list[_Element]:
        if self.token.kind == EOS:
            raise self.fail('empty trigger: expected a condition such as type = "track"', self.token.start)
        return self.level(None)

    def level(self, opened: Token | None) -> list[_Element]:
        """Items joined by connectives, up to `)` (inside a group) or the end (at the top)."""
        elements: list[_Element] = []
        first_conn: Token | None = None
        while True:
            elements.append(self.item(opened, elements[-1] if elements else None))
            token = self.token
            if token.kind == CONN:
                if first_conn is None:
                    first_conn = token
                elif token.value != first_conn.value:
                    raise self.fail(
                        f"'{first_conn.value}' and '{token.value}' mixed at one level: Segment would apply "
                        f"'{token.value}' to every condition; group with parentheses",
                        token.start,
                    )
                elements.append(_Conn(self.advance().value))  # type: ignore[arg-type]
                continue
            if token.kind == RPAREN:
                if opened is None:
                    raise self.fail("unmatched ')'", token.start)
                self.advance()
                return elements
            if token.kind == EOS:
                if opened is not None:
                    raise self.fail(f"missing ')' to close the '(' at column {opened.start + 1}", token.start)
                return elements
            if token.kind == WORD and token.value in ("AND", "OR", "And", "Or"):
                raise self.fail(f"connectives are lowercase: write '{token.value.lower()}'", token.start)
            raise self.unquoted_phrase() or self.fail(
                f"expected 'and', 'or' or the end, found {_show(token)}", token.start
            )

    def unquoted_phrase(self) -> FQLSyntaxError | None:
        """`event = Order Completed`: a bare-word value followed by more words, which only quotes keep together."""
        before = self.tokens[self.index - 2 : self.index]
        if self.token.kind not in (WORD, NUMBER) or len(before) < 2:
            return None
        if before[0].kind != OP or before[1].kind not in (WORD, NUMBER):
            return None
        last = self.index
        while self.tokens[last + 1].kind in (WORD, NUMBER):
            last += 1
        end = self.tokens[last].start + len(self.tokens[last].text)
        phrase = self.text[before[1].start : end]
        return self.fail(f'strings need double quotes: write "{clip(phrase)}"', before[1].start)

    def item(self, opened: Token | None, previous: _Element | None) -> _Element:
        token = self.token
        if token.kind == LPAREN:
            if opened is not None:
                raise self.fail("nested parentheses are not supported (one level only)", token.start)
            self.advance()
            if self.token.kind == RPAREN:
                raise self.fail("empty parentheses", token.start)
            return _Group(self.level(token))  # type: ignore[arg-type]
        if token.kind in (NOT, WORD):
            return self.term()
        if previous is None and token.kind == CONN:
            raise self.fail(f"expected a condition before '{token.value}'", token.start)
        after = f" after '{previous.value}'" if isinstance(previous, _Conn) else ""
        raise self.fail(f"expected a condition{after}, found {_show(token)}", token.start)

    def term(self) -> _Node:
        negate = self.token.kind == NOT
        if negate:
            target = self.peek()
            if not (target.kind == WORD and target.value in FUNCTIONS and self.peek(2).kind == LPAREN):
                raise self.fail("'!' can only negate contains() or match()", self.token.start)
            self.advance()
        if self.token.value in FUNCTIONS and self.peek().kind == LPAREN:
            return self.function(negate)
        return _Node(self.condition(), is_function=False)

    # -- functions -------------------------------------------------------------------------------------------

    def function(self, negate: bool) -> _Node:
        function = self.advance().value
        self.advance()  # "("
        field_token = self.token
        if field_token.kind != WORD:
            raise self.fail(
                f"{function}() needs a field as its 1st argument, found {_show(field_token)}", field_token.start
            )
        field_type, name = self.field(field_token, str(function))
        self.advance()
        if self.token.kind != COMMA:
            raise self.fail(
                f"expected ',' after the field in {function}(), found {_show(self.token)}", self.token.start
            )
        self.advance()
        value_token = self.token
        if value_token.kind != STRING:
            raise self.fail(
                f"{function}() needs a double-quoted string as its 2nd argument, found {_show(value_token)}",
                value_token.start,
            )
        self.advance()
        if self.token.kind != RPAREN:
            raise self.fail(f"expected ')' to close {function}(), found {_show(self.token)}", self.token.start)
        self.advance()
        pattern: str = value_token.value  # type: ignore[assignment]
        if function == "contains":
            operator, value = "contains", pattern
        else:
            operator, value = self.match_pattern(pattern, value_token)
        if negate:
            operator = "not_" + operator
        return _Node(_condition(field_type, name, operator, value), is_function=True)

    def match_pattern(self, pattern: str, token: Token) -> tuple[str, str]:
        """match() tests a prefix ("abc*") or a suffix ("*abc"); Segment reads any other pattern as something else."""
        if pattern == "*":
            return "starts_with", ""
        if pattern.endswith("*") and "*" not in pattern[:-1]:
            return "starts_with", pattern[:-1]
        if pattern.startswith("*") and "*" not in pattern[1:]:
            return "ends_with", pattern[1:]
        problem = "a '*' only at its start or its end" if "*" in pattern else "a leading or trailing '*'"
        raise self.fail(f'match() patterns need {problem}, as in "abc*" or "*abc"', token.start)

    # -- conditions ------------------------------------------------------------------------------------------

    def field(self, token: Token, function: str | None = None) -> tuple[str, str | None]:
        """The condition type and (for properties/traits/context) the name of the field `token` spells."""
        text: str = token.value  # type: ignore[assignment]
        root = text.split(".")[0]
        field_type = FIELD_TYPES.get(root)
        if field_type is None:
            known = next((f for f in FIELD_TYPES if f.lower() == root.lower()), None)
            hint = (
                f" (fields are case-sensitive: '{known}')"
                if known
                else (" (fields are type, event, name, userId, properties.*, traits.*, context.*)")
            )
            raise self.fail(f"unknown field '{clip(root)}'{hint}", token.start)
        if function is not None and field_type == "event-type":
            raise self.fail(
                f"{function}() cannot test 'type' (Segment ignores it); compare with type = \"…\"", token.start
            )
        if field_type in TOP_LEVEL_FIELDS:
            if text != root:
                raise self.fail(f"'{root}' has no sub-fields", token.start)
            return field_type, None
        if text == root:
            raise self.fail(f"'{root}' needs a name after it, as in {root}.total", token.start)
        name = text[len(root) + 1 :]
        segments = path_segments(name)
        if not segments:
            raise self.fail(
                f"'{clip(token.text)}' names no field: a name needs characters other than '.', '[' and ']'", token.start
            )
        builtin = next((s for s in segments if s in OBJECT_PROTOTYPE_NAMES), None)
        if builtin is not None:
            raise self.fail(
                f"'{clip(builtin)}' names a JavaScript built-in: Segment would read that, not the event", token.start
            )
        return field_type, name

    def condition(self) -> dict[str, Any]:
        field_token = self.token
        field_type, name = self.field(field_token)
        self.advance()
        op_token = self.token
        if op_token.kind != OP:
            raise self.fail(
                f"expected an operator (= != < <= > >=) after '{clip(field_token.text)}', found {_show(op_token)}",
                op_token.start,
            )
        op: str = self.advance().value  # type: ignore[assignment]
        value_token = self.token
        if value_token.kind not in (STRING, NUMBER, WORD):
            if op == "=" and value_token.text == "=" and value_token.start == op_token.start + 1:
                raise self.fail("'==' is not an operator: write '='", op_token.start)
            raise self.fail(f"expected a value after '{op}', found {_show(value_token)}", value_token.start)
        self.advance()
        return self.condition_node(field_type, name, op, value_token)

    def condition_node(self, field_type: str, name: str | None, op: str, token: Token) -> dict[str, Any]:
        """The node Segment builds for `field op value`, after rejecting the combinations it misreads."""
        kind = token.kind
        value: Any = token.value
        if kind == WORD and value in ("true", "false"):
            kind, value = "boolean", value == "true"
        elif kind == WORD and value == "null":
            kind, value = "null", None
        field = _field_text(field_type, name)
        if op in ORDERING and kind != NUMBER:
            raise self.fail(f"'{op}' compares numbers: the value must be a number", token.start)
        if kind == "null":
            if field_type in STRING_ONLY_FIELDS:
                raise self.fail(
                    f"'{clip(field)}' cannot be compared with null: Segment compares it with the text \"null\"",
                    token.start,
                )
            return _condition(field_type, name, "exists" if op == "!=" else "not_exists")
        if kind == "boolean" and field_type not in ("event-type", "event", "name"):
            if op == "!=":
                raise self.fail(
                    f"'{clip(field)} != {token.text}' is not supported: Segment compares with the text "
                    f'"{token.text}", so it matches every value but that text',
                    token.start,
                )
            return _condition(field_type, name, "is_true" if value else "is_false")
        if field_type in TOP_LEVEL_FIELDS:
            text = to_string(value)
            if kind == NUMBER and op not in ORDERING and text != token.text:
                raise self.fail(
                    f'Segment reads {clip(token.text)} as the text "{clip(text)}"; quote it if you '
                    f'mean "{clip(token.text)}"',
                    token.start,
                )
            return _condition(field_type, name, op, text)
        if kind == NUMBER and op in ("=", "!="):
            return _condition(field_type, name, "number_equals" if op == "=" else "number_not_equals", value)
        return _condition(field_type, name, op, value)


def _field_text(field_type: str, name: str | None) -> str:
    root = next(k for k, v in FIELD_TYPES.items() if v == field_type)
    return root if name is None else f"{root}.{name}"


_MISSING = object()


def _condition(field_type: str, name: str | None, operator: str, value: Any = _MISSING) -> dict[str, Any]:
    """A condition node with Segment's key order: type, name (nested fields only), operator, value (when any)."""
    node: dict[str, Any] = {"type": field_type}
    if name is not None:
        node["name"] = name
    node["operator"] = operator
    if value is not _MISSING:
        node["value"] = value
    return node
