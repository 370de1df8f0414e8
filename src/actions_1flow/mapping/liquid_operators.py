"""liquidjs's comparison operators for python-liquid's `if`/`unless` conditions.

python-liquid compares the Ruby way: `"7" > 3` is an error, `{"x": 1} contains "x"` tests a key, `[true] contains 1`
is true because Python's `True == 1`. liquidjs compares as JavaScript does, and Segment's `@liquid` runs liquidjs,
so after parsing, each comparison node is re-typed to a subclass that evaluates the liquidjs way:

- `==` / `!=`: arrays element by element, anything else by JS `===` (objects by identity);
- `<` `>` `<=` `>=`: JS relational comparison (two strings by UTF-16 code units, otherwise both as numbers;
  `undefined` or NaN makes it false);
- `contains`: an array holds an element `==` the value; a string holds the value's JS `String()`; anything else
  (numbers, objects, nil) contains nothing.

Comparisons with the literals `nil`, `empty` and `blank` keep python-liquid's rules (liquidjs gives them special
objects of their own; docs/mapping.md lists the one difference left there).
"""

from __future__ import annotations

from typing import Any

from liquid import is_undefined
from liquid.builtin.expressions.logical import (
    ContainsExpression,
    EqExpression,
    GeExpression,
    GtExpression,
    LeExpression,
    LtExpression,
    NeExpression,
)
from liquid.builtin.expressions.primitive import Blank, Empty, Nil
from liquid.context import RenderContext
from liquid.template import BoundTemplate

from ..jsvalues import MISSING, is_number, to_number, to_string

_LITERAL_DROPS = (Nil, Empty, Blank)


def _value(value: Any) -> Any:
    """A python-liquid value as the JS value liquidjs would hold (undefined variables are `undefined`)."""
    return MISSING if is_undefined(value) else value


def js_equals(a: Any, b: Any) -> bool:
    """liquidjs `equals`: arrays element-wise, otherwise JS `===` (objects are equal only to themselves)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(js_equals(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is b


def _primitive(value: Any) -> Any:
    """JS ToPrimitive for relational comparison: arrays and objects become their text."""
    return to_string(value) if isinstance(value, (list, dict)) else value


def js_less_than(a: Any, b: Any) -> bool | None:
    """JS `a < b` as the abstract relational comparison: None where JS has `undefined` (NaN involved)."""
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.encode("utf-16-be", "surrogatepass") < b.encode("utf-16-be", "surrogatepass")
    x, y = to_number(a), to_number(b)
    if x != x or y != y:
        return None
    return x < y


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, list):
        return any(js_equals(element, item) for element in container)
    if isinstance(container, str):
        return to_string(item) in container
    return False


def _uses_literal_drop(expression: Any) -> bool:
    return isinstance(expression.left, _LITERAL_DROPS) or isinstance(expression.right, _LITERAL_DROPS)


def _binary(fallback: type, compare: Any) -> type:
    """A subclass of python-liquid's `fallback` expression that compares the liquidjs way."""

    class JSComparison(fallback):
        __slots__ = ()

        def evaluate(self, context: RenderContext) -> object:
            if _uses_literal_drop(self):
                return super().evaluate(context)
            return compare(_value(self.left.evaluate(context)), _value(self.right.evaluate(context)))

    JSComparison.__name__ = "JS" + fallback.__name__
    return JSComparison


_JS_EXPRESSIONS: dict[type, type] = {
    EqExpression: _binary(EqExpression, js_equals),
    NeExpression: _binary(NeExpression, lambda a, b: not js_equals(a, b)),
    LtExpression: _binary(LtExpression, lambda a, b: js_less_than(a, b) is True),
    GtExpression: _binary(GtExpression, lambda a, b: js_less_than(b, a) is True),
    LeExpression: _binary(LeExpression, lambda a, b: js_less_than(b, a) is False),
    GeExpression: _binary(GeExpression, lambda a, b: js_less_than(a, b) is False),
    ContainsExpression: _binary(ContainsExpression, _contains),
}


def use_js_operators(template: BoundTemplate) -> BoundTemplate:
    """Re-type every comparison in the template's conditions to its liquidjs version (in place)."""
    static = RenderContext(template)
    nodes = list(template.nodes)
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children(static, include_partials=False))
        expressions = list(node.expressions())
        while expressions:
            expression = expressions.pop()
            js = _JS_EXPRESSIONS.get(type(expression))
            if js is not None:
                expression.__class__ = js
            expressions.extend(expression.children())
    return template
