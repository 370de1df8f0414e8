"""FQL, the trigger language of Segment's Actions destinations: parse once, evaluate fast, exactly as Segment does.

    >>> from actions_1flow import fql
    >>> sub = fql.parse('type = "track" and properties.total > 100')
    >>> sub.matches({"type": "track", "properties": {"total": 120}})
    True

`parse` accepts the well-formed language only (docs/fql.md) and raises `FQLSyntaxError` for everything else,
including text Segment would silently misread. `compile_ast` evaluates an AST that Segment's parseFql produced;
`to_fql` writes an AST back as Segment's generateFql does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .compiler import compile_many, compile_predicate
from .errors import FQLSyntaxError
from .evaluate import InvalidAST
from .generate import FQLGenerateError, to_fql
from .parser import parse_ast

__all__ = [
    "FQLGenerateError",
    "FQLSyntaxError",
    "InvalidAST",
    "Subscription",
    "SubscriptionSet",
    "compile_ast",
    "parse",
    "to_fql",
]


class Subscription:
    """A parsed trigger: `.ast` is Segment's AST (plain dicts/lists), `.matches(event)` evaluates it.

    `matches` takes a JSON event (a dict). It never raises: an event that is not an object reads as an event with
    no fields (Segment does the same for every non-object but `null`, where its validate() throws), and wherever
    Segment's validate() would throw (a path through a built-in's `caller`), the answer is False.
    """

    __slots__ = ("ast", "matches", "text")

    ast: dict[str, Any]
    text: str | None
    matches: Callable[[Any], bool]

    def __init__(self, ast: Mapping[str, Any], text: str | None = None) -> None:
        self.matches = compile_predicate(ast)
        self.ast = ast  # type: ignore[assignment]
        self.text = text

    def __repr__(self) -> str:
        return f"Subscription({self.text!r})" if self.text is not None else f"Subscription(ast={self.ast!r})"


class SubscriptionSet:
    """Several subscriptions evaluated together, as a destination does for each event.

    `matches(event)` returns one bool per subscription, in order, each equal to that subscription's own
    `matches(event)` — computed by one function that reads every field the triggers use once.
    """

    __slots__ = ("matches", "subscriptions")

    subscriptions: tuple[Subscription, ...]
    matches: Callable[[Any], tuple[bool, ...]]

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        self.subscriptions = tuple(subscriptions)
        self.matches = compile_many([subscription.ast for subscription in self.subscriptions])

    def matching(self, event: Any) -> list[Subscription]:
        """The subscriptions whose trigger matches `event`."""
        return [s for s, hit in zip(self.subscriptions, self.matches(event)) if hit]

    def __len__(self) -> int:
        return len(self.subscriptions)

    def __iter__(self) -> Iterator[Subscription]:
        return iter(self.subscriptions)


def parse(text: str) -> Subscription:
    """Parse FQL `text`; raise FQLSyntaxError (message, `.position`, caret rendering) if it is not well-formed."""
    if not isinstance(text, str):
        raise FQLSyntaxError(f"FQL must be text (str), got {type(text).__name__}", "", 0)
    return Subscription(parse_ast(text), text)


def compile_ast(ast: Mapping[str, Any]) -> Subscription:
    """A Subscription for an AST Segment's parseFql produced (any such AST, quirks included).

    Raises InvalidAST (a ValueError) for values that are not such an AST.
    """
    return Subscription(ast)
