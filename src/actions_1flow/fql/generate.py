"""AST → FQL text, as Segment's `generateFql` writes it (canonical text for a parsed subscription)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..jsvalues import MISSING, NUMBER_TYPES, to_number, to_string, truthy, utf16_units

_FIELD_ROOTS = {"event-property": "properties", "event-trait": "traits", "event-context": "context"}
_NEEDS_ESCAPE = re.compile(r"[^a-zA-Z0-9._-]")


class FQLGenerateError(ValueError):
    """The AST cannot be written as FQL (it is the `{error}` form, or has a condition of unknown type)."""


def to_fql(ast: Mapping[str, Any]) -> str:
    """Segment's generateFql(ast): the text for an AST, with its quirks (no escaping inside strings)."""
    if not isinstance(ast, Mapping):
        raise FQLGenerateError(f"an FQL AST is an object, got {type(ast).__name__}")
    if truthy(ast.get("error")):
        raise FQLGenerateError(f"cannot write an AST that holds an error: {ast['error']}")
    text = _group(ast)
    if text.startswith("(") and text.endswith(")") and text.count("(") + text.count(")") == 2:
        return text[1:-1]
    return text


def _group(node: Mapping[str, Any]) -> str:
    children = node.get("children")
    if not isinstance(children, list) or not all(isinstance(child, Mapping) for child in children):
        raise FQLGenerateError("a group needs a list of condition objects as its children")
    parts = [f"({_group(child)})" if child.get("type") == "group" else _condition(child) for child in children]
    return f" {to_string(node.get('operator', MISSING))} ".join(parts)


def _condition(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if kind in ("name", "userId", "event"):
        field = kind
    elif kind == "event-type":
        field = "type"
    elif isinstance(kind, str) and kind in _FIELD_ROOTS:
        name = node.get("name", MISSING)
        escaped = _escape(name) if isinstance(name, str) else to_string(name)
        field = f"{_FIELD_ROOTS[kind]}.{escaped}"
    else:
        raise FQLGenerateError("Unknown condition type")
    return _expression(field, node.get("operator", MISSING), node.get("value", MISSING))


def _escape(name: str) -> str:
    """A backslash before every UTF-16 unit outside [a-zA-Z0-9._-] (so an astral character gets two)."""
    if name.isascii():
        return _NEEDS_ESCAPE.sub(lambda m: "\\" + m.group(), name)
    return "".join(unit if not _NEEDS_ESCAPE.match(unit) else "\\" + unit for unit in utf16_units(name))


def _literal(value: Any) -> str:
    if value is True or value is False or type(value) in NUMBER_TYPES:
        return to_string(value)
    return f'"{to_string(value)}"'


def _expression(field: str, operator: Any, value: Any) -> str:
    if operator == "contains":
        return f"contains({field}, {_literal(value)})"
    if operator == "not_contains":
        return f"!contains({field}, {_literal(value)})"
    if operator == "exists":
        return f"{field} != null"
    if operator == "not_exists":
        return f"{field} = null"
    if operator == "is_true":
        return f"{field} = true"
    if operator == "is_false":
        return f"{field} = false"
    if operator == "starts_with":
        return f'match({field}, "{to_string(value)}*")'
    if operator == "not_starts_with":
        return f'!match({field}, "{to_string(value)}*")'
    if operator == "ends_with":
        return f'match({field}, "*{to_string(value)}")'
    if operator == "not_ends_with":
        return f'!match({field}, "*{to_string(value)}")'
    if operator in ("<", ">", "<=", ">="):
        return f"{field} {operator} {to_string(to_number(value))}"
    if operator == "number_equals":
        return f"{field} = {to_string(to_number(value))}"
    if operator == "number_not_equals":
        return f"{field} != {to_string(to_number(value))}"
    return f"{field} {to_string(operator)} {_literal(value)}"
