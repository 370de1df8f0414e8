"""Segment's `validate(ast, event)`, interpreted node by node: the reference the compiled predicates fall back on.

It accepts every AST Segment's parser can produce (verbatim operators such as `"<"` with a string value, unknown
types, the `{error}` form) and evaluates it as Segment's validate.ts does. Events are JSON values; `None` stands for
both JS `undefined` and `null`, which FQL never tells apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..jsvalues import MISSING, NUMBER_TYPES, as_double, to_number, to_string, truthy
from .paths import OBJECT_PROTOTYPE_NAMES, JSThrow, get_path, path_segments

FIELD_KEYS = {"event-type": "type", "event": "event", "name": "name", "userId": "userId"}
"""Top-level fields: condition type → event key."""
NESTED_KEYS = {"event-property": "properties", "event-trait": "traits", "event-context": "context"}
"""Nested fields: condition type → the event object their `name` is looked up in."""
MAX_DEPTH = 100
"""Deepest group nesting compile_ast takes (Segment's parser produces 2)."""


class InvalidAST(ValueError):
    """An AST that is not one Segment's parser could have produced (wrong shapes, not a subscription)."""


@dataclass(frozen=True, slots=True)
class Field:
    """Where a condition reads its value: a top-level key, or a path under properties/traits/context."""

    key: str
    path: tuple[str, ...] | None = None
    """None for top-level fields; () when Segment's get() returns undefined without looking (empty name)."""
    throws: bool = False
    """Segment's get() throws for names with no segments, such as "." (it splits to nothing)."""


def field_of(condition: Mapping[str, Any]) -> Field | None:
    """The field a condition reads, or None for a type validate() does not know (such conditions are false)."""
    kind = condition.get("type")
    if not isinstance(kind, str):
        return None
    if kind in FIELD_KEYS:
        return Field(FIELD_KEYS[kind])
    if kind not in NESTED_KEYS:
        return None
    name = condition.get("name", "")
    if not isinstance(name, str):
        raise InvalidAST(f"condition name must be a string, got {type(name).__name__}")
    if name == "":
        return Field(NESTED_KEYS[kind], ())
    segments = path_segments(name)
    builtin = next((s for s in segments if s in OBJECT_PROTOTYPE_NAMES), None)
    if builtin is not None:
        raise InvalidAST(f"field name segment '{builtin}' names a JavaScript built-in, not event data")
    return Field(NESTED_KEYS[kind], segments, throws=not segments)


def check(ast: Any) -> None:
    """Raise InvalidAST unless `ast` has the shape of a parsed subscription (or is the `{error}` form)."""
    if not isinstance(ast, Mapping):
        raise InvalidAST(f"an FQL AST is an object, got {type(ast).__name__}")
    if truthy(ast.get("error")):
        return
    _check_group(ast, 0)


def _check_group(node: Mapping[str, Any], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidAST(f"groups nested more than {MAX_DEPTH} deep")
    if node.get("operator") not in ("and", "or"):
        return  # validate() reads no children: such a group is false
    children = node.get("children")
    if not isinstance(children, list):
        raise InvalidAST("an 'and'/'or' group needs a list of children")
    for child in children:
        if not isinstance(child, Mapping):
            raise InvalidAST(f"a group child must be an object, got {type(child).__name__}")
        if child.get("type") == "group":
            _check_group(child, depth + 1)
        else:
            field_of(child)


def evaluate(ast: Mapping[str, Any], event: Any) -> bool:
    """validate(ast, event) for a checked AST. Non-object events read as an event with no fields."""
    if truthy(ast.get("error")):
        return False
    if not isinstance(event, Mapping):
        event = {}
    try:
        return _group(ast, event)
    except JSThrow:
        return False


def _group(node: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    operator = node.get("operator")
    if operator == "and":
        return all(_condition(child, event) for child in node["children"])
    if operator == "or":
        return any(_condition(child, event) for child in node["children"])
    return False


def _condition(node: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    if node.get("type") == "group":
        return _group(node, event)
    field = field_of(node)
    if field is None:
        return False
    return compare(read(field, event), node.get("operator"), node.get("value", MISSING))


def read(field: Field, event: Mapping[str, Any]) -> Any:
    value = event.get(field.key)
    if field.path is None:
        return value
    if field.throws:
        raise JSThrow("Cannot read properties of null (reading 'reduce')")
    if not field.path:
        return None
    return get_path(value, field.path)


def compare(actual: Any, operator: Any, expected: Any) -> bool:
    """validateValue(): one operator applied with Segment's types."""
    if not isinstance(operator, str):
        return False
    if operator == "=":
        return isinstance(actual, str) and actual == to_string(expected)
    if operator == "!=":
        return not (isinstance(actual, str) and actual == to_string(expected))
    if operator in _NUMERIC:
        if type(actual) not in NUMBER_TYPES:
            return False
        return _NUMERIC[operator](as_double(actual), to_number(expected))
    if operator in _TEXT:
        return type(actual) is str and _TEXT[operator](actual, to_string(expected))
    if operator == "exists":
        return actual is not None
    if operator == "not_exists":
        return actual is None
    if operator == "is_true":
        return actual is True
    if operator == "is_false":
        return actual is False
    return False


_NUMERIC = {
    "number_equals": lambda a, e: a == e,
    "number_not_equals": lambda a, e: a != e,
    "<": lambda a, e: a < e,
    "<=": lambda a, e: a <= e,
    ">": lambda a, e: a > e,
    ">=": lambda a, e: a >= e,
}
_TEXT = {
    "contains": lambda a, e: e in a,
    "not_contains": lambda a, e: e not in a,
    "starts_with": lambda a, e: a.startswith(e),
    "not_starts_with": lambda a, e: not a.startswith(e),
    "ends_with": lambda a, e: a.endswith(e),
    "not_ends_with": lambda a, e: not a.endswith(e),
}
