"""`@liquid` expression tokens, with words read where liquidjs reads them.

python-liquid's expression lexer makes a keyword of every word on its list wherever the word stands, so
`{{ properties.limit }}`, `{{ limit }}` and `{{ properties.if }}` fail to parse. liquidjs (Segment's engine) decides by
position, and `reading` is the one place that decides here, the same way:

- after `.` or `|`, as a `name:` in filter arguments, and as the variable `assign`, `capture`, `increment` and
  `decrement` set, liquidjs reads an identifier: every word is a name (`properties.empty`, `{% assign limit = 1 %}`);
- where a value starts, `true false nil null empty blank` are literals, any other word a variable (`{{ limit }}`);
- in an expression (output, `if`, `unless`, `elsif`, `assign`, `cycle`, before the first `|`), `and or contains not`
  are operators; where only a value can stand (filter arguments, `[...]`, the ends of a range) they are variables.

The rest of python-liquid's list (`in offset limit reversed cols continue with for as if else required`) is syntax of
tags Segment disables (`for`, `tablerow`, `include`, `render`) or that liquidjs lacks (an inline `if`/`else`), so
those words are always names.

`tokenize` then tells python-liquid's parser what liquidjs read, in tokens that parser takes: a literal in brackets
(`a[true]`) is the key liquidjs makes of it (`a["true"]`); a filter argument that starts with brackets
(`default: ['a b']`) is a variable; `empty` and `blank` as filter arguments, which that parser does not take, go
through as a `LiteralWord` that `restore_literal_arguments` turns back into the literal; an operator with nothing to
apply it to (`{{ and }}`) is refused with the way to read a variable of that name.
"""

from __future__ import annotations

from collections.abc import Iterator

from liquid.builtin.expressions import FilteredExpression, Path
from liquid.builtin.expressions import tokenize as liquid_tokenize
from liquid.builtin.expressions.primitive import Blank, Empty
from liquid.exceptions import LiquidSyntaxError
from liquid.expression import Expression
from liquid.stream import TokenStream
from liquid.token import (
    TOKEN_AND,
    TOKEN_AS,
    TOKEN_BLANK,
    TOKEN_COLON,
    TOKEN_COLS,
    TOKEN_COMMA,
    TOKEN_CONTAINS,
    TOKEN_CONTINUE,
    TOKEN_DOT,
    TOKEN_DPIPE,
    TOKEN_ELSE,
    TOKEN_EMPTY,
    TOKEN_EQ,
    TOKEN_EXPRESSION,
    TOKEN_FALSE,
    TOKEN_FOR,
    TOKEN_GE,
    TOKEN_GT,
    TOKEN_IDENTSTRING,
    TOKEN_IF,
    TOKEN_IN,
    TOKEN_LBRACKET,
    TOKEN_LE,
    TOKEN_LG,
    TOKEN_LIMIT,
    TOKEN_LT,
    TOKEN_NE,
    TOKEN_NIL,
    TOKEN_NOT,
    TOKEN_NULL,
    TOKEN_OFFSET,
    TOKEN_OR,
    TOKEN_PIPE,
    TOKEN_RANGE,
    TOKEN_RANGE_LITERAL,
    TOKEN_RBRACKET,
    TOKEN_REQUIRED,
    TOKEN_REVERSED,
    TOKEN_TRUE,
    TOKEN_WITH,
    TOKEN_WORD,
    Token,
)

NAME, LITERAL, OPERATOR = "name", "literal", "operator"
"""What liquidjs reads a word as."""

LITERALS = {TOKEN_TRUE: "true", TOKEN_FALSE: "false", TOKEN_NIL: "null", TOKEN_NULL: "null"}
LITERALS |= {TOKEN_EMPTY: "", TOKEN_BLANK: ""}
"""The literal words, with the property key liquidjs makes of each (`String(value)`; `empty` and `blank` are `""`)."""

OPERATORS = frozenset((TOKEN_AND, TOKEN_OR, TOKEN_CONTAINS, TOKEN_NOT))
KEYWORDS = {*LITERALS, *OPERATORS, TOKEN_IN, TOKEN_OFFSET, TOKEN_LIMIT, TOKEN_REVERSED, TOKEN_COLS, TOKEN_CONTINUE}
KEYWORDS |= {TOKEN_WITH, TOKEN_FOR, TOKEN_AS, TOKEN_IF, TOKEN_ELSE, TOKEN_REQUIRED}
"""Every word python-liquid's expression lexer turns into a keyword token."""

NAMING_TAGS = frozenset(("assign", "capture", "increment", "decrement"))
"""Tags whose expression starts with the name of the variable they set."""

_IDENTIFIER_AFTER = frozenset((TOKEN_DOT, TOKEN_PIPE, TOKEN_DPIPE))
_VALUE_AFTER = frozenset((TOKEN_LBRACKET, TOKEN_RANGE, TOKEN_RANGE_LITERAL))
_BINARY = frozenset((TOKEN_EQ, TOKEN_NE, TOKEN_LG, TOKEN_LT, TOKEN_GT, TOKEN_LE, TOKEN_GE, TOKEN_AND, TOKEN_OR))
_BINARY |= {TOKEN_CONTAINS}
_NO_LEFT_OPERAND = _BINARY | {None, TOKEN_NOT}
_NO_RIGHT_OPERAND = _BINARY | {None, TOKEN_PIPE, TOKEN_DPIPE}


def reading(kind: str, previous: str | None, following: str | None, *, in_filters: bool, names: bool) -> str:
    """What liquidjs reads a keyword word as at its place: NAME, LITERAL or OPERATOR.

    `previous` and `following` are the kinds of the tokens around it; `in_filters`, whether a `|` came before;
    `names`, whether it is the variable a naming tag sets.
    """
    if names or previous in _IDENTIFIER_AFTER or (in_filters and following == TOKEN_COLON):
        return NAME
    if kind in LITERALS:
        return LITERAL
    if kind in OPERATORS and not in_filters and previous not in _VALUE_AFTER:
        return OPERATOR
    return NAME


class LiteralWord(str):
    """`empty` or `blank` as a filter argument: a word to python-liquid's parser, a literal to liquidjs."""

    __slots__ = ()


_LITERAL_ARGUMENTS = {TOKEN_EMPTY: Empty, TOKEN_BLANK: Blank}


def tokenize(source: str, parent_token: Token, *, names_variable: bool = False) -> Iterator[Token]:
    """python-liquid's tokens of an expression, each keyword word as liquidjs reads it (see the module's text)."""
    tokens = list(liquid_tokenize(source, parent_token))
    out: list[Token] = []
    in_filters = False
    skip_bracket = False
    for index, token in enumerate(tokens):
        kind = token.kind
        previous = out[-1].kind if out else None
        if skip_bracket:
            skip_bracket = False
            continue
        if kind in KEYWORDS:
            following = tokens[index + 1].kind if index + 1 < len(tokens) else None
            read = reading(kind, previous, following, in_filters=in_filters, names=names_variable and not index)
            if read == NAME:
                token = token._replace(kind=TOKEN_WORD)
            elif read == OPERATOR and (
                (kind != TOKEN_NOT and previous in _NO_LEFT_OPERAND) or following in _NO_RIGHT_OPERAND
            ):
                raise _lone_operator(token, "after" if following in _NO_RIGHT_OPERAND else "before")
            elif read == LITERAL and previous == TOKEN_LBRACKET and following == TOKEN_RBRACKET:
                out.pop()
                token = token._replace(kind=TOKEN_IDENTSTRING, value=LITERALS[kind])
                skip_bracket = True
            elif (
                read == LITERAL and kind in _LITERAL_ARGUMENTS and in_filters and previous in (TOKEN_COLON, TOKEN_COMMA)
            ):
                token = token._replace(kind=TOKEN_WORD, value=LiteralWord(token.value))
        elif kind == TOKEN_PIPE:
            in_filters = True
        elif kind == TOKEN_IDENTSTRING and in_filters and previous in (TOKEN_COLON, TOKEN_COMMA):
            token = token._replace(kind=TOKEN_WORD)  # `default: ['a b']`: a variable, which that parser takes as a word
        out.append(token)
    return iter(out)


def _lone_operator(token: Token, side: str) -> LiquidSyntaxError:
    word = token.value
    return LiquidSyntaxError(
        f"'{word}' is an operator (and, or, contains, not) with no value {side} it; "
        f"to read a variable named {word}, write ['{word}']",
        token=token,
    )


def restore_literal_arguments(expression: Expression) -> None:
    """Turn the `LiteralWord` arguments of a parsed filtered expression back into the literals (in place)."""
    if not isinstance(expression, FilteredExpression) or not expression.filters:
        return
    for filter_ in expression.filters:
        for argument in filter_.args:
            value = argument.value
            if isinstance(value, Path) and len(value.path) == 1 and type(value.path[0]) is LiteralWord:
                argument.value = _LITERAL_ARGUMENTS[value.path[0]](value.token)


class ExpressionStream(TokenStream):
    """A template's token stream whose tags read their expressions through `tokenize`."""

    def into_inner(self, *, tag: Token | None = None, eat: bool = True) -> TokenStream:
        """The tokens of the current expression (python-liquid's contract: `missing expression` when there is none)."""
        token = self.current
        if token.kind != TOKEN_EXPRESSION:
            raise LiquidSyntaxError("missing expression", token=tag or token)
        if eat:
            next(self)
        names_variable = tag is not None and tag.value in NAMING_TAGS
        return TokenStream(tokenize(token.value, token, names_variable=names_variable))
