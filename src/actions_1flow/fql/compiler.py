"""AST → Python functions, so evaluating a trigger costs a few dict lookups and compares.

`compile_predicate` makes one function per subscription; `compile_many` one function for several, which reads a
field the subscriptions share once and computes a condition they share once. The source is built from the AST's
*structure* only: every value and field name from the AST is bound to a name in the function's namespace (`V0`,
`V1`, …), never written into the source. The fast path handles the event shapes that matter (objects all the way
down, missing keys); anything else — a non-object event, or a path that meets null, a string, a list, a number (JS
falsy short-circuit, `.length`, indexes) — raises AttributeError inside it, and the function answers with the
reference interpreter (`evaluate.py`) instead. Both read the AST identically.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..jsvalues import MAX_EXACT_INTEGER, MISSING, NUMBER_TYPES, as_double, to_number, to_string, truthy
from .evaluate import MAX_DEPTH, check, evaluate, field_of

Predicate = Callable[[Any], bool]
MultiPredicate = Callable[[Any], tuple[bool, ...]]

MAX_COMPILED_CONDITIONS = 2_000
"""Larger subscriptions are interpreted: generated source that big costs more to compile than it saves."""

_ORDERING = {"number_equals": "==", "number_not_equals": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TEXT = {
    "contains": "{v} in {x}",
    "not_contains": "{v} not in {x}",
    "starts_with": "{x}.startswith({v})",
    "not_starts_with": "not {x}.startswith({v})",
    "ends_with": "{x}.endswith({v})",
    "not_ends_with": "not {x}.endswith({v})",
}
_OPERATORS = frozenset({"=", "!=", "exists", "not_exists", "is_true", "is_false", *_ORDERING, *_TEXT})
_EMPTY: Mapping[str, Any] = {}
_RUNTIME = {"__builtins__": {}, "type": type, "str": str, "AttributeError": AttributeError,
            "_E": _EMPTY, "_NUM": NUMBER_TYPES, "_dbl": as_double}  # fmt: skip
"""All a generated function can reach besides its bound values."""


def compile_predicate(ast: Mapping[str, Any]) -> Predicate:
    """A function event → bool equal to Segment's validate(ast, event). Raises InvalidAST for malformed ASTs."""
    check(ast)
    if truthy(ast.get("error")):
        return _never
    reference = partial(evaluate, ast)
    try:
        tree = _lower_group(ast, 0, [0])
    except _Uncompilable:
        return reference
    doc = "Segment's validate() for this subscription."
    return _Emitter([tree], share=False).function(reference, doc, single=True)


def compile_many(asts: Sequence[Mapping[str, Any]]) -> MultiPredicate:
    """A function event → (validate(ast, event) for each AST), with shared reads and conditions computed once."""
    for ast in asts:
        check(ast)
    asts = tuple(asts)

    def reference(event: Any) -> tuple[bool, ...]:
        return tuple(evaluate(ast, event) for ast in asts)

    counter = [0]
    try:
        trees = [_Const(False) if truthy(ast.get("error")) else _lower_group(ast, 0, counter) for ast in asts]
    except _Uncompilable:
        return reference
    doc = "Segment's validate() for each of these subscriptions."
    return _Emitter(trees, share=True).function(reference, doc, single=False)


def _never(event: Any) -> bool:
    return False


class _Uncompilable(Exception):
    """The AST is valid but better served by the interpreter (huge, or reads a path Segment throws on)."""


# ---------------------------------------------------------------------------------------------------- lowering


@dataclass(frozen=True, slots=True)
class _Read:
    """A value read from the event: the value at `steps` (None if missing), or as a `container` the object there
    (an empty one if missing) to read further keys from."""

    steps: tuple[str, ...]
    container: bool = False

    @property
    def parent(self) -> _Read | None:
        return _Read(self.steps[:-1], container=True) if len(self.steps) > 1 else None


@dataclass(frozen=True, slots=True)
class _Cond:
    read: _Read | None  # None: Segment's get() with an empty name, always undefined
    operator: Any
    expected: Any


@dataclass(frozen=True, slots=True)
class _Const:
    value: bool


@dataclass(frozen=True, slots=True)
class _Group:
    operator: str
    children: tuple[_Tree, ...]


_Tree = _Group | _Cond | _Const


def _lower_group(node: Mapping[str, Any], depth: int, conditions: list[int]) -> _Tree:
    if depth > MAX_DEPTH:
        raise _Uncompilable
    operator = node.get("operator")
    if operator not in ("and", "or"):
        return _Const(False)
    children = tuple(_lower_child(child, depth, conditions) for child in node["children"])
    return _Group(operator, children) if children else _Const(operator == "and")


def _lower_child(node: Mapping[str, Any], depth: int, conditions: list[int]) -> _Tree:
    if node.get("type") == "group":
        return _lower_group(node, depth + 1, conditions)
    conditions[0] += 1
    if conditions[0] > MAX_COMPILED_CONDITIONS:
        raise _Uncompilable
    field = field_of(node)
    if field is None:
        return _Const(False)
    if field.throws:
        raise _Uncompilable
    operator, expected = node.get("operator"), node.get("value", MISSING)
    if not isinstance(operator, str) or operator not in _OPERATORS:
        return _Const(False)  # validate() answers false for an operator it does not know
    # Keep only what the operator uses of the value (text or number), so equal conditions compare equal.
    if operator in _ORDERING:
        expected = to_number(expected)
    elif operator in _TEXT or operator in ("=", "!="):
        expected = to_string(expected)
    else:
        expected = None
    read = None if field.path == () else _Read((field.key, *(field.path or ())))
    return _Cond(read, operator, expected)


def _conditions(tree: _Tree) -> list[_Cond]:
    if isinstance(tree, _Cond):
        return [tree]
    if isinstance(tree, _Group):
        return [c for child in tree.children for c in _conditions(child)]
    return []


# ----------------------------------------------------------------------------------------------------- emitting


class _Emitter:
    """Python source for trees. With `share`, a read or condition used more than once is computed once up front."""

    def __init__(self, trees: list[_Tree], *, share: bool) -> None:
        self.trees = trees
        self.namespace: dict[str, Any] = dict(_RUNTIME)
        self.bound: dict[tuple[type, Any], str] = {}
        self.lines: list[str] = []
        self.locals: dict[Any, str] = {}  # hoisted read or condition → local name
        self.shared_conditions: set[_Cond] = set()
        if share:
            self.plan_sharing()

    def plan_sharing(self) -> None:
        conditions = Counter(c for tree in self.trees for c in _conditions(tree))
        self.shared_conditions = {c for c, n in conditions.items() if n > 1}
        # How often each read would be written out: per use by a condition (once if the condition is shared),
        # plus once per distinct read built on it. Written out more than once → read once, up front.
        uses: Counter[_Read] = Counter()
        needed: set[_Read] = set()
        for condition, n in conditions.items():
            read = condition.read
            if read is not None:
                uses[read] += 1 if condition in self.shared_conditions else n
            while read is not None:
                needed.add(read)
                read = read.parent
        for read in needed:
            if read.parent is not None:
                uses[read.parent] += 1
        for read in sorted(needed, key=lambda r: len(r.steps)):  # parents first
            if uses[read] > 1:
                self.lines.append(f"r{len(self.locals)} = {self.read_source(read)}")
                self.locals[read] = f"r{len(self.locals)}"
        for index, condition in enumerate(c for c in conditions if c in self.shared_conditions):
            self.lines.append(f"c{index} = {self.condition_source(condition)}")
            self.locals[condition] = f"c{index}"

    def bind(self, value: Any) -> str:
        """A name for `value` in the function's namespace; the generated source only ever names it."""
        key = (type(value), value)
        try:
            return self.bound[key]
        except (KeyError, TypeError):  # TypeError: unhashable
            pass
        name = f"V{len(self.namespace) - len(_RUNTIME)}"
        self.namespace[name] = value
        try:
            self.bound[key] = name
        except TypeError:
            pass
        return name

    def function(self, reference: Callable[[Any], Any], doc: str, *, single: bool) -> Any:
        parts = [self.tree_source(tree) for tree in self.trees]
        expression = parts[0] if single else "(" + "".join(f"{part}, " for part in parts) + ")"
        body = "".join(f"        {line}\n" for line in self.lines)
        source = (
            f"def match(e):\n"
            f"    try:\n"
            f"{body}"
            f"        return {expression}\n"
            f"    except AttributeError:\n"
            f"        return _slow(e)\n"
        )
        namespace = {**self.namespace, "_slow": reference}
        exec(compile(source, "<fql>", "exec"), namespace)
        match = namespace["match"]
        match.__doc__ = f"{doc}\n\n{source}"
        return match

    def tree_source(self, tree: _Tree) -> str:
        if isinstance(tree, _Const):
            return str(tree.value)
        if isinstance(tree, _Cond):
            return self.locals.get(tree) or self.condition_source(tree)
        return "(" + f" {tree.operator} ".join(self.tree_source(child) for child in tree.children) + ")"

    def read_source(self, read: _Read) -> str:
        """The expression for a read; a null or non-object on the way raises AttributeError (→ interpreter)."""
        if read in self.locals:
            return self.locals[read]
        parent = "e" if read.parent is None else self.read_source(read.parent)
        default = ", _E" if read.container else ""
        return f"{parent}.get({self.bind(read.steps[-1])}{default})"

    def condition_source(self, condition: _Cond) -> str:
        access = "None" if condition.read is None else self.read_source(condition.read)
        x = access if access.isidentifier() else "x"  # a hoisted read is a local already
        take = x if x == access else f"x := {access}"
        operator, expected = condition.operator, condition.expected
        if operator == "=":
            return f"{access} == {self.bind(expected)}"
        if operator == "!=":
            return f"{access} != {self.bind(expected)}"
        if operator in _ORDERING:
            number = expected
            if isinstance(number, float) and number.is_integer() and abs(number) < MAX_EXACT_INTEGER:
                number = int(number)  # int == int is faster, and exact in this range
            symbol, bound = _ORDERING[operator], self.bind(number)
            # From 2**53 on, JS rounds integers to doubles: an exact Python compare would differ only there.
            actual = x if math.isnan(number) or abs(number) < MAX_EXACT_INTEGER else f"_dbl({x})"
            if operator == "number_equals" and actual == x:
                return f"(({take}) == {bound} and type({x}) in _NUM)"
            return f"(type({take}) in _NUM and {actual} {symbol} {bound})"
        if operator in _TEXT:
            return f"(type({take}) is str and {_TEXT[operator].format(v=self.bind(expected), x=x)})"
        if operator == "exists":
            return f"{access} is not None"
        if operator == "not_exists":
            return f"{access} is None"
        if operator == "is_true":
            return f"{access} is True"
        return f"{access} is False"  # is_false
