"""Mapping validation with Segment's exact messages, in Segment's order (`validate.ts`).

A message reads `"/" + stack.join("/") + " " + text + "."`, the stack being the keys and directive names from
the root. Plain objects collect the failures of all their keys; most other checks stop at the first failure.
Validation deliberately leaves gaps (raw arrays and the raw objects under `@literal`/`@excludeWhenNull` are not
looked into): those fail, if at all, only when the mapping runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..jsvalues import MISSING, json_stringify, object_keys, real_type_of, to_lower_case, utf16_length
from ..suggest import did_you_mean
from .errors import MappingValidationError

MAX_PATTERN_LENGTH = 10
"""`@replace` pattern limit (UTF-16 code units), checked by validation and again when replacing."""

MAX_REPLACEMENT_LENGTH = 10
"""`@replace` replacement limit (UTF-16 code units)."""

Stack = tuple[str, ...]
Validator = Callable[[Any, Stack], None]


class _Invalid(Exception):
    """One or more validation messages (Segment's ValidationError, or its AggregateError flattened)."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages


def _fail(text: str, stack: Stack) -> None:
    raise _Invalid([f"/{'/'.join(stack)} {text}."])


def _article(type_word: str) -> str:
    return "an" if type_word[:1] in ("a", "e", "i", "o", "u") else "a"


def type_or_directive(value: Any) -> str:
    """JS real type, except that an object with any `@` key is a `directive`."""
    if type(value) is dict and any(k.startswith("@") for k in value):
        return "directive"
    return real_type_of(value)


def is_directive(value: Any) -> bool:
    """Runtime directive test: an object with an `@` key whose other keys are all `_metadata`."""
    if type(value) is not dict:
        return False
    has_at = False
    for k in value:
        if k.startswith("@"):
            has_at = True
        elif k != "_metadata":
            return False
    return has_at


def _a(value_type: str) -> str:
    return f"{_article(value_type)} {value_type}"


# --- generic rules ---------------------------------------------------------------------------------------------


def validate_value(value: Any, stack: Stack = ()) -> None:
    """The root rule: directives and objects are checked, arrays and scalars are accepted as they are."""
    kind = type_or_directive(value)
    if kind == "directive":
        _validate_directive(value, stack)
    elif kind == "object":
        _validate_object(value, stack)


def _validate_directive(obj: dict, stack: Stack) -> None:
    keys = object_keys(obj)
    directive_keys = [k for k in keys if k.startswith("@")]
    if len(directive_keys) > 1:
        _fail(f"should only have one @-prefixed key but it has {len(directive_keys)} keys", stack)
    if any(not k.startswith("@") and k != "_metadata" for k in keys):
        _fail(f"should only have one @-prefixed key but it has {len(keys)} keys", stack)
    name = directive_keys[0]
    check = _DIRECTIVES.get(name)
    if check is None:
        _fail(f"has an invalid directive: {name}", stack)
    check(obj[name], stack + (name,))  # type: ignore[misc]


def _validate_object(value: Any, stack: Stack) -> None:
    kind = type_or_directive(value)
    if kind != "object":
        _fail(f"should be an object but it is {_a(kind)}", stack)
    errors: list[str] = []
    for key in object_keys(value):
        try:
            validate_value(value[key], stack + (key,))
        except _Invalid as e:
            errors.extend(e.messages)
    if errors:
        raise _Invalid(errors)


def _directive_or_raw(value: Any, stack: Stack) -> None:
    kind = type_or_directive(value)
    if kind == "directive":
        _validate_directive(value, stack)
    elif kind == "undefined":
        _fail(f"should be a mapping directive or a JSON value but it is {_a(kind)}", stack)


def _directive_or_string(value: Any, stack: Stack) -> None:
    kind = type_or_directive(value)
    if kind == "directive":
        _validate_directive(value, stack)
    elif kind != "string":
        _fail(f"should be a string or a mapping directive but it is {_a(kind)}", stack)


def _directive_or_object(value: Any, stack: Stack) -> None:
    kind = type_or_directive(value)
    if kind == "directive":
        _validate_directive(value, stack)
    elif kind == "object":
        _validate_object(value, stack)
    else:  # sic: "a object" is Segment's wording
        _fail(f"should be a object or a mapping directive but it is {_article(kind)} {kind}", stack)


def _string(value: Any, stack: Stack) -> None:
    kind = type_or_directive(value)
    if kind != "string":
        _fail(f"should be a string but it is {_a(kind)}", stack)


def _string_length(low: int, high: int) -> Validator:
    def check(value: Any, stack: Stack) -> None:
        if type(value) is str and utf16_length(value) < low:
            _fail(f"should be a string of length {low} or greater", stack)
        if type(value) is str and utf16_length(value) > high:
            _fail(f"should be a string of length {high} or less", stack)

    return check


def _one_of(*allowed: str) -> Validator:
    def check(value: Any, stack: Stack) -> None:
        _string(value, stack)
        if to_lower_case(value) not in allowed:
            _fail(f"should be one of {', '.join(allowed)} but it is {json_stringify(value)}", stack)

    return check


def _boolean(value: Any, stack: Stack) -> None:
    kind = type_or_directive(value)
    if kind != "boolean":
        _fail(f"should be a boolean but it is {_a(kind)}", stack)


def _array(value: Any, stack: Stack) -> None:
    kind = real_type_of(value)
    if kind != "array":
        _fail(f"should be an array but it is {_a(kind)}", stack)


def _chain(*checks: Validator) -> Validator:
    def check(value: Any, stack: Stack) -> None:
        for c in checks:
            c(value, stack)

    return check


Fields = tuple[tuple[str, bool, Validator], ...]
"""(name, required, validator) in Segment's order."""


def _fields(value: Any, fields: Fields, stack: Stack) -> None:
    """An options object: checked as a plain object first (all keys), then each listed field."""
    _validate_object(value, stack)
    errors: list[str] = []
    for name, required, check in fields:
        try:
            field = value.get(name, MISSING)
            if field is MISSING:
                if required:
                    _fail(f"should have field {json_stringify(name)} but it doesn't", stack)
                continue
            check(field, stack + (name,))
        except _Invalid as e:
            errors.extend(e.messages)
    if errors:
        raise _Invalid(errors)


# --- per-directive rules (stack already ends with the directive name) ------------------------------------------


def _check_if(v: Any, stack: Stack) -> None:
    _fields(
        v,
        (("exists", False, _directive_or_raw), ("then", False, _directive_or_raw), ("else", False, _directive_or_raw)),
        stack,
    )


def _check_case(v: Any, stack: Stack) -> None:
    _fields(v, (("operator", False, _string), ("value", False, _directive_or_string)), stack)


def _check_replace(v: Any, stack: Stack) -> None:
    _fields(
        v,
        (
            ("pattern", True, _chain(_string, _string_length(1, MAX_PATTERN_LENGTH))),
            ("replacement", False, _chain(_string, _string_length(0, MAX_REPLACEMENT_LENGTH))),
            ("value", True, _directive_or_string),
            ("ignorecase", False, _boolean),
            ("global", False, _boolean),
        ),
        stack,
    )


def _check_array_path(v: Any, stack: Stack) -> None:
    _array(v, stack)
    _directive_or_string(v[0] if len(v) > 0 else MISSING, stack)
    validate_value(v[1] if len(v) > 1 else MISSING, stack)


def _check_json(v: Any, stack: Stack) -> None:
    _fields(v, (("value", True, _directive_or_raw), ("mode", True, _one_of("encode", "decode"))), stack)


def _check_flatten(v: Any, stack: Stack) -> None:
    _fields(v, (("separator", False, _string), ("value", True, _directive_or_raw)), stack)


def _check_merge(v: Any, stack: Stack) -> None:
    _fields(v, (("direction", False, _one_of("left", "right")), ("objects", True, _array)), stack)
    for item in v["objects"]:
        _directive_or_object(item, ())  # Segment validates the elements with an empty stack


def _check_transform(v: Any, stack: Stack) -> None:
    _fields(v, (("apply", True, _directive_or_object), ("mapping", True, _directive_or_object)), stack)


_DIRECTIVES: dict[str, Validator] = {
    "@if": _check_if,
    "@case": _check_case,
    "@replace": _check_replace,
    "@arrayPath": _check_array_path,
    "@path": _directive_or_string,
    "@json": _check_json,
    "@flatten": _check_flatten,
    "@merge": _check_merge,
    "@template": _directive_or_string,
    "@literal": _directive_or_raw,
    "@transform": _check_transform,
    "@excludeWhenNull": _directive_or_raw,
    "@liquid": _string,
}


def check(mapping: Any) -> None:
    """Raise MappingValidationError (Segment's messages, in order) when `mapping`, already root-expanded, is
    invalid."""
    try:
        validate_value(mapping)
    except _Invalid as e:
        raise MappingValidationError(e.messages, [_hint(m) for m in e.messages]) from None


_UNKNOWN_DIRECTIVE = re.compile(r" has an invalid directive: (@.*)\.$")


def _hint(message: str) -> str:
    """Ours, beside Segment's message: the directive a mistyped one most resembles."""
    match = _UNKNOWN_DIRECTIVE.search(message)
    return did_you_mean(match.group(1), _DIRECTIVES) if match else ""
