"""The 13 directives, one small compiler each (Segment's `mapping-kit/index.ts`).

Each compiler turns a directive's options into a `Node` once. Checks that Segment makes at run time on the
options themselves are decided here, but still fail only when the node runs (an `@if` branch that is never
taken never fails), with Segment's message. The options are never mutated: where Segment writes defaults into
the mapping (`@replace`), the defaults are applied to local copies with the same effect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..jsvalues import (
    MISSING,
    in_key_order,
    is_array_index,
    json_parse,
    json_stringify,
    loose_equals_empty_string,
    object_keys,
    real_type_of,
    to_lower_case,
    to_string,
    to_upper_case,
    truthy,
    utf16_length,
    utf16_units,
)
from . import liquid
from .errors import MappingError, fresh
from .nodes import Ctx, Node, compile_value, constant, directive, failing
from .paths import directive_path, lookup
from .replace import replace_literal
from .root import prepare
from .template import compile_template, render
from .validate import MAX_PATTERN_LENGTH, MAX_REPLACEMENT_LENGTH


def _option(opts: dict, key: str) -> Any:
    return opts.get(key, MISSING)


def _after(fn: Any, result: Any, *, maybe_missing: bool = True) -> Node:
    """A node that resolves `fn` (which may fail) for nothing, then gives `result`."""

    def resolve_then(payload: Any) -> Any:
        fn(payload)
        return result

    return Node(resolve_then, maybe_missing=maybe_missing)


def _expect_string(name: str, node: Node) -> Any:
    """`registerStringDirective`: the resolved option must be a string."""
    fn = node.fn

    def resolved_string(payload: Any) -> str:
        value = fn(payload)
        if type(value) is not str:
            raise MappingError(f"{name}: expected string, got {real_type_of(value)}")
        return value

    return resolved_string


@directive("@path")
def path(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is str:
        segments = directive_path(opts)
        if segments is None:
            return Node(lambda payload: payload, dirty=ctx.payload_dirty)
        if len(segments) == 1:
            key = segments[0][0]

            def one_key(payload: Any) -> Any:
                if type(payload) is dict:
                    return payload.get(key, MISSING)
                return lookup(payload, segments)

            return Node(one_key, dirty=ctx.payload_dirty)
        return Node(lambda payload: lookup(payload, segments), dirty=ctx.payload_dirty)
    text = _expect_string("@path", compile_value(opts, ctx.intermediate()))
    return Node(lambda payload: lookup(payload, directive_path(text(payload))), dirty=ctx.payload_dirty)


@directive("@template")
def template(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is str:
        return Node(compile_template(opts), maybe_missing=False)
    text = _expect_string("@template", compile_value(opts, ctx.intermediate()))
    return Node(lambda payload: render(text(payload), payload), maybe_missing=False)


@directive("@literal")
def literal(opts: Any, ctx: Ctx) -> Node:
    # Not literal at all: nested directives are resolved.
    return compile_value(opts, ctx)


@directive("@if")
def if_(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not dict:
        return failing('@if requires an object with an "exists" key')
    exists, blank = _option(opts, "exists"), _option(opts, "blank")
    if not truthy(exists) and not truthy(blank):
        return failing('@if requires an "exists" key or a "blank" key')
    by_exists = exists is not MISSING
    condition = compile_value(exists if by_exists else blank, ctx.intermediate()).fn
    then, otherwise = _option(opts, "then"), _option(opts, "else")
    then_node = compile_value(then, ctx) if then is not MISSING else constant(MISSING)
    else_node = compile_value(otherwise, ctx) if truthy(otherwise) else constant(MISSING)
    then_fn, else_fn = then_node.fn, else_node.fn

    def choose(payload: Any) -> Any:
        v = condition(payload)
        if v is MISSING or v is None or (not by_exists and loose_equals_empty_string(v)):
            return else_fn(payload)
        return then_fn(payload)

    return Node(choose, dirty=then_node.dirty or else_node.dirty)


@directive("@case")
def case(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not dict:
        return failing('@case requires an object with a "operator" key')
    operator = _option(opts, "operator")
    if not truthy(operator):
        return failing('@case requires a "operator" key')
    value = _option(opts, "value")
    if not truthy(value):
        return constant(MISSING)
    node = compile_value(value, ctx)
    fn = node.fn
    convert = {"lower": to_lower_case, "upper": to_upper_case}.get(operator) if type(operator) is str else None

    def change_case(payload: Any) -> Any:
        v = fn(payload)
        if type(v) is str:
            if convert is None:
                raise MappingError('operator key should have a value of "lower" or "upper"')
            return convert(v)
        return v

    return Node(change_case, dirty=node.dirty)


def _replace_defaults(opts: dict) -> tuple[Any, Any, Any, Any, Any]:
    """The options after Segment's in-place defaults: replacement "", replacement2 "" (with a pattern2),
    ignorecase false, global true — applied where they are null or missing."""
    replacement = _option(opts, "replacement")
    pattern2, replacement2 = _option(opts, "pattern2"), _option(opts, "replacement2")
    ignorecase, global_ = _option(opts, "ignorecase"), _option(opts, "global")
    if replacement is None or replacement is MISSING:
        replacement = ""
    if truthy(pattern2) and (replacement2 is None or replacement2 is MISSING):
        replacement2 = ""
    if ignorecase is None or ignorecase is MISSING:
        ignorecase = False
    if global_ is None or global_ is MISSING:
        global_ = True
    return replacement, pattern2, replacement2, ignorecase, global_


def _length_error(pattern: str, replacement: str) -> str | None:
    if utf16_length(pattern) > MAX_PATTERN_LENGTH:
        return f'@replace requires a "pattern" less than {MAX_PATTERN_LENGTH} characters'
    if utf16_length(replacement) > MAX_REPLACEMENT_LENGTH:
        return f'@replace requires a "replacement" less than {MAX_REPLACEMENT_LENGTH} characters'
    return None


@directive("@replace")
def replace(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not dict:
        return failing('@replace requires an object with a "pattern" key')
    pattern = _option(opts, "pattern")
    if not truthy(pattern):
        return failing('@replace requires a "pattern" key')
    replacement, pattern2, replacement2, ignorecase, global_ = _replace_defaults(opts)
    value = _option(opts, "value")
    if not truthy(value):
        return constant(MISSING)
    fn = compile_value(value, ctx.intermediate()).fn
    applies = type(pattern) is str and type(replacement) is str and type(ignorecase) is bool and type(global_) is bool
    if not applies:
        return _after(fn, "", maybe_missing=False)  # Segment resolves the value, then gives "" whatever it is
    second = type(pattern2) is str and pattern2 != "" and type(replacement2) is str
    error1 = _length_error(pattern, replacement)
    error2 = _length_error(pattern2, replacement2) if second else None

    def replace_value(payload: Any) -> str:
        v = fn(payload)
        t = type(v)
        if t is bool or t is int or t is float:
            v = to_string(v)
        elif t is not str:
            return ""
        if error1:
            raise MappingError(error1)
        out = replace_literal(v, pattern, replacement, global_, ignorecase)
        if second:
            if error2:
                raise MappingError(error2)
            out = replace_literal(out, pattern2, replacement2, global_, ignorecase)
        return out

    return Node(replace_value, maybe_missing=False)


@directive("@arrayPath")
def array_path(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not list:
        return failing(f"@arrayPath expected array, got {real_type_of(opts)}")
    where = opts[0] if opts else MISSING
    shape = opts[1] if len(opts) > 1 else MISSING
    root: Callable[[Any], Any]
    if type(where) is str:
        segments = directive_path(where)
        root_dirty = ctx.payload_dirty

        def root(payload: Any) -> Any:
            return lookup(payload, segments)

    else:
        root_node = compile_value(where, ctx.intermediate())
        root, root_dirty = root_node.fn, root_node.dirty
    if type(shape) is not dict or not shape:
        return Node(root, dirty=root_dirty)
    item_ctx = Ctx(final=ctx.final, list_missing=ctx.list_missing, payload_dirty=root_dirty)
    item_node = compile_value(shape, item_ctx)
    item = item_node.fn
    fill = ctx.final and item_node.maybe_missing and ctx.list_missing is not MISSING
    filler = ctx.list_missing

    def map_items(payload: Any) -> Any:
        found = root(payload)
        t = type(found)
        if t is dict:
            out = [item(found)]
        elif t is list:
            out = [item(element) for element in found]
        else:
            return found
        if fill:
            return [filler if v is MISSING else v for v in out]
        return out

    holes = item_node.maybe_missing and not ctx.final
    return Node(map_items, dirty=root_dirty or holes or item_node.dirty)


@directive("@json")
def json_(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not dict:
        return failing('@json requires an object with a "value" key')
    mode, value = _option(opts, "mode"), _option(opts, "value")
    if not truthy(mode):
        return failing('@json requires a "mode" key')
    if not truthy(value):
        return failing('@json requires a "value" key')
    if mode == "encode" and type(mode) is str:
        fn = compile_value(value, ctx.intermediate()).fn
        return Node(lambda payload: json_stringify(fn(payload)))
    if mode == "decode" and type(mode) is str:
        node = compile_value(value, ctx)
        fn = node.fn

        def decode(payload: Any) -> Any:
            v = fn(payload)
            if type(v) is str:
                try:
                    return json_parse(v)
                except ValueError:
                    return v
            return v

        return Node(decode, dirty=node.dirty)
    # Any other mode (validation lower-cases before comparing, so "ENCODE" gets here): resolved, then nothing.
    return _after(compile_value(value, ctx.intermediate()).fn, MISSING)


def flatten_value(value: Any, separator: str, omit_arrays: bool) -> dict:
    """`flattenObject(value, "", separator, omitArrays)` with JS key order (array-index keys first)."""
    out: dict = {}
    _flatten_into(out, value, "", separator, omit_arrays)
    return in_key_order(out)


def _flatten_into(out: dict, value: Any, prefix: str, separator: str, omit_arrays: bool) -> None:
    t = type(value)
    if t is dict:
        entries: Any = ((k, value[k]) for k in object_keys(value))
    elif t is list and not omit_arrays:
        entries = ((str(i), v) for i, v in enumerate(value))
    else:
        out[prefix] = value
        return
    for key, child in entries:
        _flatten_into(out, child, f"{prefix}{separator}{key}" if prefix else key, separator, omit_arrays)


@directive("@flatten")
def flatten(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not dict:
        return failing('@flatten requires an object with a "separator" key')
    separator = _option(opts, "separator")
    if not truthy(separator):
        return failing('@flatten requires a "separator" key')
    sep = compile_value(separator, ctx.intermediate()).fn
    fn = compile_value(_option(opts, "value"), ctx.intermediate()).fn
    omit_arrays = truthy(_option(opts, "omitArrays"))

    def flattened(payload: Any) -> dict:
        s = sep(payload)
        if type(s) is not str:
            raise MappingError("@flatten requires a string separator")
        return flatten_value(fn(payload), s, omit_arrays)

    return Node(flattened, maybe_missing=False, dirty=True)


def merge_values(values: list) -> dict:
    """`Object.assign({}, ...values)`: strings spread into index keys, null and scalars are skipped."""
    out: dict = {}
    for v in values:
        t = type(v)
        if t is dict:
            out.update(v)
        elif t is list:
            out.update((str(i), x) for i, x in enumerate(v))
        elif t is str:
            out.update((str(i), unit) for i, unit in enumerate(utf16_units(v)))
    if any(is_array_index(k) for k in out):
        return in_key_order(out)
    return out


@directive("@merge")
def merge(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not dict:
        return failing('@merge requires an object with an "objects" key and a "direction" key')
    direction = _option(opts, "direction")
    if not truthy(direction):
        return failing('@merge requires a "direction" key')
    get_direction = compile_value(direction, ctx.intermediate()).fn
    objects = _option(opts, "objects")
    if not truthy(objects) or type(objects) is not list:
        message = (
            '@merge requires a "objects" key'
            if not truthy(objects)
            else f"@merge: expected opts.array, got {real_type_of(objects)}"
        )

        def fail(payload: Any) -> Any:
            get_direction(payload)
            raise MappingError(message)

        return Node(fail)
    fns = [compile_value(item, ctx.intermediate()).fn for item in objects]

    def merged(payload: Any) -> dict:
        left = get_direction(payload) == "left"
        values = [fn(payload) for fn in fns]
        if left:
            values.reverse()
        return merge_values(values)

    return Node(merged, maybe_missing=False, dirty=True)


@directive("@transform")
def transform(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not dict:
        return failing('@transform requires an object with an "apply" key and a "mapping" key')
    mapping, apply = _option(opts, "mapping"), _option(opts, "apply")
    if not truthy(mapping):
        return failing('@transform requires a "mapping" key')
    if not truthy(apply):
        return failing('@transform requires a "apply" key')
    if type(apply) is not dict:
        return failing('@transform "apply" key should be an object')
    try:
        prepared = prepare(apply)
    except MappingError as error:
        pending: MappingError | None = error
        apply_node = constant(MISSING)
    else:
        pending = None
        inner = Ctx(final=True, list_missing=MISSING, payload_dirty=ctx.payload_dirty)
        apply_node = compile_value(prepared, inner)
    new_payload = apply_node.fn
    # The new payload keeps MISSING list items (Segment's removeUndefined leaves them in lists).
    result = compile_value(mapping, Ctx(ctx.final, ctx.list_missing, payload_dirty=True))
    resolve = result.fn

    def transformed(payload: Any) -> Any:
        if type(payload) is not dict and not isinstance(payload, dict):
            if payload is not MISSING:
                raise MappingError(f"data must be an object, got {real_type_of(payload)}")
            payload = {}
        if pending is not None:
            raise fresh(pending)
        return resolve(new_payload(payload))

    return Node(transformed, maybe_missing=result.maybe_missing, dirty=result.dirty)


def _null_to_missing(value: dict) -> dict:
    """Segment's `cleanNulls`: null values become MISSING, nested plain objects too (lists are left alone)."""
    return {k: MISSING if v is None else _null_to_missing(v) if type(v) is dict else v for k, v in value.items()}


def _drop_nulls(value: dict) -> dict:
    """`cleanNulls` followed by the final clean-up, in one copy."""
    return {k: _drop_nulls(v) if type(v) is dict else v for k, v in value.items() if v is not None}


@directive("@excludeWhenNull")
def exclude_when_null(opts: Any, ctx: Ctx) -> Node:
    node = compile_value(opts, ctx)
    fn = node.fn
    clean = _drop_nulls if ctx.final else _null_to_missing

    def excluded(payload: Any) -> Any:
        v = fn(payload)
        if v is None:
            return MISSING
        if type(v) is dict:
            return clean(v)
        return v

    return Node(excluded, dirty=node.dirty or not ctx.final)


@directive("@liquid")
def liquid_(opts: Any, ctx: Ctx) -> Node:
    if type(opts) is not str:
        return failing("liquid template value must be a string")
    if opts == "":
        return constant("")
    if utf16_length(opts) > liquid.MAX_TEMPLATE_LENGTH:
        return failing(f"liquid template values are limited to {liquid.MAX_TEMPLATE_LENGTH} characters")
    try:
        parsed = liquid.parse(opts)
    except MappingError as error:
        return failing(str(error))
    return Node(lambda payload: liquid.render(parsed, payload), maybe_missing=False)
