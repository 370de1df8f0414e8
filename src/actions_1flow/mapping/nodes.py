"""Compiling a mapping value into a closure over the payload (Segment's `resolve`, done once up front).

Every mapping value becomes a `Node` whose `fn(payload)` returns what `resolve(value, payload)` returns in
Segment's engine, MISSING included. Nodes also carry what is statically known about their result, so that
the end-of-transform clean-up (`removeUndefined`, which in JS deep-copies the whole output) only touches the
parts that can actually hold MISSING:

- `maybe_missing`: the result itself may be MISSING;
- `dirty`: the result may contain MISSING somewhere inside that the clean-up still has to deal with (in a final
  list, MISSING items that the context keeps, for `@transform`'s payload, do not count).

Values in *final* position (their result is the transform's result or part of it) are compiled so that they
come out already clean: plain objects skip MISSING values as they are built, lists replace MISSING items with
`ctx.list_missing`, and a dirty directive result is cleaned by a wrapper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..jsvalues import MISSING, object_keys
from .errors import MappingError
from .validate import is_directive

Fn = Callable[[Any], Any]


class Node:
    """A compiled mapping value: `fn(payload)` and what is known about its result."""

    __slots__ = ("dirty", "fn", "maybe_missing")

    def __init__(self, fn: Fn, *, maybe_missing: bool = True, dirty: bool = False) -> None:
        self.fn = fn
        self.maybe_missing = maybe_missing
        self.dirty = dirty


@dataclass(frozen=True)
class Ctx:
    """Where a value is compiled.

    `final`: the result goes (uncopied) into the transform's result, so it must come out clean.
    `list_missing`: what a MISSING list item becomes in a final result — None for callers (JSON has no
    undefined), MISSING for the payload `@transform` hands to its `mapping` (Segment keeps it there).
    `payload_dirty`: the payload itself may hold MISSING list items (inside `@transform`'s `mapping`).
    """

    final: bool = False
    list_missing: Any = None
    payload_dirty: bool = False

    def intermediate(self) -> Ctx:
        return replace(self, final=False) if self.final else self


PUBLIC = Ctx(final=True, list_missing=None)
"""Context of a whole mapping whose result is returned to a caller."""

DirectiveCompiler = Callable[[Any, Ctx], Node]
DIRECTIVES: dict[str, DirectiveCompiler] = {}
"""Directive name → compiler of its options (filled by `directives.py`)."""


def directive(name: str) -> Callable[[DirectiveCompiler], DirectiveCompiler]:
    """Register the compiler of one directive's options."""

    def register(fn: DirectiveCompiler) -> DirectiveCompiler:
        DIRECTIVES[name] = fn
        return fn

    return register


def constant(value: Any) -> Node:
    return Node(lambda payload: value, maybe_missing=value is MISSING)


def failing(message: str) -> Node:
    """A node that fails with Segment's runtime message when (and only when) it is evaluated."""

    def fail(payload: Any) -> Any:
        raise MappingError(message)

    return Node(fail)


def compile_value(value: Any, ctx: Ctx) -> Node:
    """The node for `resolve(value, payload)`, clean when `ctx.final`."""
    t = type(value)
    if t is dict:
        if is_directive(value):
            name = next(k for k in value if k.startswith("@"))
            compiler = DIRECTIVES.get(name)
            if compiler is None:
                return failing(f"{name} is not a valid directive, got undefined")
            node = compiler(value[name], ctx)
            if ctx.final and node.dirty:
                node = _cleaned(node, ctx.list_missing)
            return node
        return _object(value, ctx)
    if t is list:
        return _array(value, ctx)
    return constant(value)


def _object(mapping: dict, ctx: Ctx) -> Node:
    items = [(key, compile_value(mapping[key], ctx)) for key in object_keys(mapping)]
    fns = [(key, node.fn) for key, node in items]
    if ctx.final:

        def build_clean(payload: Any) -> dict:
            out = {}
            for key, fn in fns:
                v = fn(payload)
                if v is not MISSING:
                    out[key] = v
            return out

        return Node(build_clean, maybe_missing=False, dirty=any(node.dirty for _, node in items))

    def build(payload: Any) -> dict:
        return {key: fn(payload) for key, fn in fns}

    return Node(build, maybe_missing=False, dirty=any(n.maybe_missing or n.dirty for _, n in items))


def _array(mapping: list, ctx: Ctx) -> Node:
    nodes = [compile_value(item, ctx) for item in mapping]
    fns = [node.fn for node in nodes]
    holes = any(node.maybe_missing for node in nodes)
    if ctx.final and holes and ctx.list_missing is not MISSING:
        filler = ctx.list_missing

        def build_filled(payload: Any) -> list:
            out = [fn(payload) for fn in fns]
            return [filler if v is MISSING else v for v in out]

        return Node(build_filled, maybe_missing=False, dirty=any(node.dirty for node in nodes))

    def build(payload: Any) -> list:
        return [fn(payload) for fn in fns]

    # In a final list MISSING items are what the context wants (none, or kept for @transform's payload).
    return Node(build, maybe_missing=False, dirty=(holes and not ctx.final) or any(n.dirty for n in nodes))


def remove_undefined(value: Any, list_missing: Any) -> Any:
    """Segment's `removeUndefined`: drop MISSING object values, everywhere; list items become `list_missing`."""
    t = type(value)
    if t is dict:
        return {k: remove_undefined(v, list_missing) for k, v in value.items() if v is not MISSING}
    if t is list:
        return [list_missing if v is MISSING else remove_undefined(v, list_missing) for v in value]
    return value


def _cleaned(node: Node, list_missing: Any) -> Node:
    fn = node.fn
    return Node(lambda payload: remove_undefined(fn(payload), list_missing), maybe_missing=node.maybe_missing)
