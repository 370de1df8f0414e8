"""liquidjs's comparison operators and literal objects (`nil`, `empty`, `blank`) for python-liquid's conditions.

python-liquid compares the Ruby way: `"7" > 3` is an error, `{"x": 1} contains "x"` tests a key, `[true] contains 1`
is true because Python's `True == 1`. liquidjs compares as JavaScript does, and Segment's `@liquid` runs liquidjs,
so after parsing, each comparison node is re-typed (`to_liquidjs`) to a subclass that evaluates the liquidjs way:

- `==` / `!=`: arrays element by element, anything else by JS `===` (objects by identity);
- `<` `>` `<=` `>=`: JS relational comparison (two strings by UTF-16 code units, otherwise both as numbers;
  `undefined` or NaN makes it false);
- `contains`: an array holds an element `==` the value; a string holds the value's JS `String()`; anything else
  (numbers, objects, nil) contains nothing.

liquidjs's literals `nil`/`null`, `empty` and `blank` are objects with rules of their own (its NullDrop, EmptyDrop and
BlankDrop), which decide `==` whichever side they stand on, and make every `<` `>` `<=` `>=` false:

- `nil` equals nil and undefined;
- `empty` equals `""`, `[]` and `{}`, but never another `empty` or `blank`;
- `blank` equals what `empty` equals, and `false`, nil, undefined and text of whitespace only.

Here `empty` and `blank` are python-liquid's `Empty` and `Blank` objects, and `nil` is re-typed to evaluate to NIL, so
the three reach comparisons, filters, `assign` and output as the objects they are in liquidjs; everything that
reads their value (output, most filters) reads it through `drop_value`, liquidjs's `toValue`.
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
from liquid.expression import Expression

from ..jsvalues import MISSING, WHITESPACE, as_double, is_number, to_number, to_string


class NilDrop:
    """liquidjs's `nil`/`null` literal (its NullDrop): an object whose value is null."""

    __slots__ = ()

    def __liquid__(self) -> None:
        """python-liquid's protocol for a value standing for another: nil is false."""
        return None

    def __repr__(self) -> str:
        return "NIL"


NIL = NilDrop()
DROPS = (NilDrop, Empty, Blank)
"""The types of liquidjs's literal objects."""

PLAIN = frozenset((str, int, float, bool, list, dict, type(None)))
"""The types of values that are JS values as they are (JSON's)."""


def drop_value(value: Any) -> Any:
    """liquidjs `toValue`: a literal object's value (nil is None, `empty` and `blank` are `""`), others unchanged."""
    t = type(value)
    if t is NilDrop:
        return None
    if t is Empty or t is Blank:
        return ""
    return value


def _nil(value: Any) -> bool:
    return value is None or value is MISSING


def _drop_equals(drop: Any, other: Any) -> bool:
    """`drop.equals(other)` of liquidjs's NullDrop, EmptyDrop and BlankDrop."""
    plain = drop_value(other)
    if type(drop) is NilDrop:
        return _nil(plain)
    if type(drop) is Blank:
        if other is False or _nil(plain):
            return True
        if type(other) is str:
            return not other.strip(WHITESPACE)
    if type(other) in (Empty, Blank):
        return False
    if type(plain) in (str, list, dict):
        return not plain
    return False


def liquid_equals(a: Any, b: Any) -> bool:
    """liquidjs `equals`: a literal object decides on either side; arrays element-wise; otherwise JS `===`."""
    if type(a) in DROPS:
        return _drop_equals(a, b)
    if type(b) in DROPS:
        return _drop_equals(b, a)
    if type(a) is list:
        return type(b) is list and len(a) == len(b) and all(liquid_equals(x, y) for x, y in zip(a, b))
    if type(a) is bool or type(b) is bool:
        return a is b
    if is_number(a) and is_number(b):
        return as_double(a) == as_double(b)
    if type(a) is str and type(b) is str:
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


def _relational(test: Any) -> Any:
    """A liquidjs relational operator: false beside a literal object, JS comparison otherwise."""
    return lambda a, b: not (type(a) in DROPS or type(b) in DROPS) and test(a, b)


def _contains(container: Any, item: Any) -> bool:
    container = drop_value(container)
    if type(container) is list:
        return any(liquid_equals(element, item) for element in container)
    if type(container) is str:
        return to_string(drop_value(item)) in container
    return False


def _operand(expression: Expression, context: RenderContext) -> Any:
    """An operand as liquidjs holds it: undefined is MISSING, a range an array."""
    value: Any = expression.evaluate(context)
    t = type(value)
    if t in PLAIN:
        return value
    if t is range:
        return list(value)
    return MISSING if is_undefined(value) else value


def _binary(base: type, compare: Any) -> type:
    """A subclass of python-liquid's `base` expression that compares the liquidjs way."""

    class JSComparison(base):
        __slots__ = ()

        def evaluate(self, context: RenderContext) -> object:
            return compare(_operand(self.left, context), _operand(self.right, context))

    JSComparison.__name__ = "JS" + base.__name__
    return JSComparison


_JS_EXPRESSIONS: dict[type, type] = {
    EqExpression: _binary(EqExpression, liquid_equals),
    NeExpression: _binary(NeExpression, lambda a, b: not liquid_equals(a, b)),
    LtExpression: _binary(LtExpression, _relational(lambda a, b: js_less_than(a, b) is True)),
    GtExpression: _binary(GtExpression, _relational(lambda a, b: js_less_than(b, a) is True)),
    LeExpression: _binary(LeExpression, _relational(lambda a, b: js_less_than(b, a) is False)),
    GeExpression: _binary(GeExpression, _relational(lambda a, b: js_less_than(a, b) is False)),
    ContainsExpression: _binary(ContainsExpression, _contains),
}


class _JSNil(Nil):
    __slots__ = ()

    def evaluate(self, _: RenderContext) -> NilDrop:  # type: ignore[override]
        return NIL


_JS_EXPRESSIONS[Nil] = _JSNil


def to_liquidjs(expression: Expression) -> None:
    """Re-type a comparison or a `nil` literal to its liquidjs version (in place); others are left as they are."""
    js = _JS_EXPRESSIONS.get(type(expression))
    if js is not None:
        expression.__class__ = js
