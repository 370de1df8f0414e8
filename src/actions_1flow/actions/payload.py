"""Turning a mapped payload into an action's input: Segment's `removeEmptyValues`, then ajv validation with its
coercions (`coerceTypes: "array"`, `removeAdditional`, `allErrors`) and `ajv-human-errors` messages.

The validator is compiled once per schema into small closures that follow the order of ajv's generated code, so
errors come in the same order with the same wording: `The root value is missing the required field 'userId'.`
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..mapping import MISSING
from . import jsvalues as js
from .dates import is_date_like

COERCIBLE = frozenset({"string", "number", "integer", "boolean", "null", "array"})
KNOWN_FORMATS = {"date-like": is_date_like, "password": None, "text": None}
"""Formats our fields produce; None means any string is valid."""


class PayloadValidationError(ValueError):
    """The payload does not fit the action's fields (Segment: AggregateAjvError, status 400)."""

    status = 400
    code = "PAYLOAD_VALIDATION_FAILED"

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__(" ".join(messages))


# ---------------------------------------------------------------------------------------------------------------
# removeEmptyValues


def _schema_types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        return []
    return list(kind) if isinstance(kind, list) else [kind]


def remove_empty_values(value: Any, schema: dict[str, Any] | None, is_root: bool = False) -> Any:
    """Drop what the schema says is empty: null where null is not allowed, '' where a string is not expected, list
    items that would be dropped, and (at the root of a single-event payload) every '' value. Returns MISSING for a
    value that disappears."""
    schema = schema or {}
    if "type" not in schema and "enum" not in schema:
        return value
    if isinstance(value, list):
        items = schema.get("items")
        if not items:
            return value
        return [item for item in value if remove_empty_values(item, items) is not MISSING]
    if isinstance(value, dict):
        properties = schema.get("properties")
        if not properties:
            return value
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            item = remove_empty_values(item, properties.get(key))
            if item is MISSING or (is_root and item == "" and isinstance(item, str)):
                continue
            cleaned[key] = item
        return cleaned
    types = _schema_types(schema)
    if value is None and "null" not in types:
        return MISSING
    if isinstance(value, str) and value == "" and "string" not in types:
        return MISSING
    return value


def arrify_fields(payload: Any, schema: dict[str, Any]) -> Any:
    """Before validation, a scalar in a list-typed field becomes a one-element list (null/MISSING stay)."""
    properties = schema.get("properties")
    if not isinstance(payload, dict) or not properties:
        return payload
    out = dict(payload)
    for key, value in payload.items():
        sub = properties.get(key)
        if sub and sub.get("type") == "array" and value is not None and value is not MISSING and not isinstance(value, list):
            out[key] = [value]
    return out


# ---------------------------------------------------------------------------------------------------------------
# human messages (ajv-human-errors, fieldLabels: "title")


def _subject(schema: dict[str, Any], pointer: str) -> str:
    if schema.get("title"):
        return schema["title"]
    return "the root value" if pointer == "" else f"the value at {pointer}"


def _message(schema: dict[str, Any], pointer: str, text: str) -> str:
    sentence = f"{_subject(schema, pointer)} {text}"
    return sentence[:1].upper() + sentence[1:] + "."


def _humanize_list(items: list[str], conjunction: str) -> str:
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return f"{', '.join(items[:-1])}, {conjunction} {items[-1]}"


def _article(text: str) -> str:
    return "an" if text[:1] in ("a", "e", "i", "o", "u") else "a"


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    kind = js.typeof(value)
    return kind if kind == "undefined" else f"{_article(kind)} {kind}"


def _plural(word: str, count: int) -> str:
    return word if count == 1 else word + "s"


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------------------------------------------------------
# compiled validation

Errors = list[str]
Check = Callable[[Any, str, Errors], Any]
"""(value, JSON pointer, errors) → the value after coercion/removal; appends human messages to errors."""


def _is_type(kind: str, value: Any) -> bool:
    if kind == "null":
        return value is None
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "number":
        return js.is_finite(value)
    if kind == "integer":
        return js.is_finite(value) and value % 1 == 0
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    raise ValueError(f"unsupported schema type {kind!r}")


def _wrong_type(types: list[str], value: Any) -> bool:
    return not any(_is_type(t, value) for t in types)


def _unwrapped_ok(types: list[str], value: Any) -> bool:
    # ajv tests an unwrapped one-element list against *all* the types at once (its multi-type "correct" check is
    # a conjunction), so with two types or more this never holds and the value goes through the coercions instead.
    return all(_is_type(t, value) for t in types)


def _js_falsy_number(x: float) -> bool:
    return x == 0 or math.isnan(x)


def _coerce_one(kind: str, value: Any) -> tuple[bool, Any]:
    """One link of ajv's `else if` coercion chain: (matched, coerced value)."""
    typ = js.typeof(value)
    if kind == "string":
        if typ in ("number", "boolean"):
            return True, js.to_string(value)
        if value is None:
            return True, ""
    elif kind in ("number", "integer"):
        if typ == "boolean" or value is None:
            return True, 1 if value is True else 0
        if typ == "string" and value:
            number = js.to_number(value)
            if not math.isnan(number) and (kind == "number" or _js_falsy_number(number % 1 if math.isfinite(number) else math.nan)):
                return True, js.tidy_number(number)
    elif kind == "boolean":
        if value == "false" or value is None or (js.is_number(value) and value == 0):
            return True, False
        if value == "true" or (js.is_number(value) and value == 1):
            return True, True
    elif kind == "null":
        if (isinstance(value, str) and value == "") or (js.is_number(value) and value == 0) or value is False:
            return True, None
    elif kind == "array":
        if typ in ("string", "number", "boolean") or value is None:
            return True, [value]
    return False, None


def _type_stage(schema: dict[str, Any], types: list[str]) -> Callable[[Any, str, Errors], Any] | None:
    """ajv's coerceAndCheckDataType for this schema, or None when ajv leaves the type to a keyword group."""
    coerce_to = [t for t in types if t in COERCIBLE]
    if not types or (not coerce_to and len(types) == 1 and _has_rules_for(schema, types[0])):
        return None
    expected = types if isinstance(schema.get("type"), list) else types[0]
    expected_text = _humanize_list(expected if isinstance(expected, list) else expected.split(","), "or")

    def type_error(value: Any, pointer: str, errors: Errors) -> None:
        errors.append(_message(schema, pointer, f"must be {_article(expected_text)} {expected_text} but it was {_type_of(value)}"))

    def stage(value: Any, pointer: str, errors: Errors) -> Any:
        if not _wrong_type(types, value):
            return value
        if not coerce_to:
            type_error(value, pointer, errors)
            return value
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
            if _unwrapped_ok(types, value):
                return value
        for kind in coerce_to:
            matched, coerced = _coerce_one(kind, value)
            if matched:
                return coerced
        type_error(value, pointer, errors)
        return value

    return stage


_GROUP_KEYWORDS = {
    "number": ("maximum", "minimum"),
    "string": ("maxLength", "minLength", "format"),
    "array": ("items",),
    "object": ("required", "additionalProperties", "properties"),
}
"""ajv's typed keyword groups (integer, boolean and null have none), limited to the keywords we compile."""


def _has_rules_for(schema: dict[str, Any], kind: str) -> bool:
    return any(k in schema for k in _GROUP_KEYWORDS.get(kind, ()))


_IGNORED = frozenset({"$schema", "title", "description", "default", "type"})
_SUPPORTED = _IGNORED.union(*_GROUP_KEYWORDS.values(), {"enum"})


def compile_schema(schema: dict[str, Any]) -> Check:
    """A validator for the JSON Schema subset `fields_to_schema` produces; raises ValueError for anything else.

    Steps run in ajv's order: the type (with coercion), then `enum`, then the number, string, array and object
    keyword groups, each only for a value of its type.
    """
    unsupported = set(schema) - _SUPPORTED
    if unsupported:
        raise ValueError(f"unsupported schema keywords: {', '.join(sorted(unsupported))}")
    types = _schema_types(schema)
    stage = _type_stage(schema, types)
    checks: list[Check] = []
    if "enum" in schema:
        checks.append(_enum_check(schema))
    checks.extend(_number_checks(schema))
    checks.extend(_string_checks(schema))
    if "items" in schema:
        checks.append(_items_check(schema))
    if _has_rules_for(schema, "object"):
        object_check = _object_check(schema)
        # With no type stage, ajv reports a wrong type inside the object group itself.
        checks.append(_typed_group_or_error(schema, object_check) if stage is None and types == ["object"] else object_check)

    def check(value: Any, pointer: str, errors: Errors) -> Any:
        if stage is not None:
            value = stage(value, pointer, errors)
        for step in checks:
            value = step(value, pointer, errors)
        return value

    return check


def _typed_group_or_error(schema: dict[str, Any], group: Check) -> Check:
    def check(value: Any, pointer: str, errors: Errors) -> Any:
        if isinstance(value, dict):
            return group(value, pointer, errors)
        errors.append(_message(schema, pointer, f"must be an object but it was {_type_of(value)}"))
        return value

    return check


def _enum_check(schema: dict[str, Any]) -> Check:
    allowed = schema["enum"]
    listed = _humanize_list([js.json_text(v) for v in allowed], "or")

    def check(value: Any, pointer: str, errors: Errors) -> Any:
        if not any(js.strict_equal(value, a) for a in allowed):
            errors.append(_message(schema, pointer, f"must be one of: {listed}"))
        return value

    return check


def _number_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "maximum" in schema:
        limit = schema["maximum"]

        def maximum(value: Any, pointer: str, errors: Errors) -> Any:
            if js.is_finite(value) and value > limit:
                errors.append(_message(schema, pointer, f"must be equal to or less than {js.number_to_string(limit)}"))
            return value

        checks.append(maximum)
    if "minimum" in schema:
        floor = schema["minimum"]

        def minimum(value: Any, pointer: str, errors: Errors) -> Any:
            if js.is_finite(value) and value < floor:
                errors.append(_message(schema, pointer, f"must be equal to or greater than {js.number_to_string(floor)}"))
            return value

        checks.append(minimum)
    return checks


def _string_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    for keyword, fails, word in (
        ("maxLength", lambda n, limit: n > limit, "fewer"),
        ("minLength", lambda n, limit: n < limit, "more"),
    ):
        if keyword in schema:
            limit = schema[keyword]

            def length(value: Any, pointer: str, errors: Errors, limit: Any = limit, fails: Any = fails, word: str = word) -> Any:
                if isinstance(value, str) and fails(len(value), limit):
                    actual = _utf16_length(value)
                    errors.append(_message(
                        schema, pointer,
                        f"must be {js.number_to_string(limit)} {_plural('character', limit)} or {word} "
                        f"but it was {actual} {_plural('character', actual)}",
                    ))
                return value

            checks.append(length)
    if "format" in schema:
        name = schema["format"]
        if name not in KNOWN_FORMATS:
            raise ValueError(f"unsupported format {name!r}")
        test = KNOWN_FORMATS[name]
        if test is not None:

            def fmt(value: Any, pointer: str, errors: Errors) -> Any:
                if isinstance(value, str) and not test(value):
                    errors.append(_message(schema, pointer, f"must be a valid {name} string but it was not"))
                return value

            checks.append(fmt)
    return checks


def _items_check(schema: dict[str, Any]) -> Check:
    item_check = compile_schema(schema["items"])

    def check(value: Any, pointer: str, errors: Errors) -> Any:
        if not isinstance(value, list):
            return value
        return [item_check(item, f"{pointer}/{i}", errors) for i, item in enumerate(value)]

    return check


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _object_check(schema: dict[str, Any]) -> Check:
    required = schema.get("required") or []
    properties = schema.get("properties") or {}
    remove_unknown = schema.get("additionalProperties") is False
    compiled = {key: compile_schema(sub) for key, sub in properties.items()}

    def check(value: Any, pointer: str, errors: Errors) -> Any:
        if not isinstance(value, dict):
            return value
        for key in required:
            if value.get(key, MISSING) is MISSING:
                errors.append(_message(schema, pointer, f"is missing the required field '{key}'"))
        out = {k: v for k, v in value.items() if k in properties} if remove_unknown else dict(value)
        for key, sub in compiled.items():
            if out.get(key, MISSING) is not MISSING:
                out[key] = sub(out[key], f"{pointer}/{_escape(key)}", errors)
        return out

    return check


class PayloadValidator:
    """Cleans, coerces and validates payloads against one action's schema (compiled once)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._check = compile_schema(schema)

    def __call__(self, payload: dict[str, Any], *, batch: bool = False) -> dict[str, Any]:
        """The payload the action receives; raises PayloadValidationError with every message, in ajv's order.

        `batch=True` is Segment's batch mode, where root-level '' values of string fields survive.
        """
        cleaned = remove_empty_values(payload, self.schema, is_root=not batch)
        errors: Errors = []
        result = self._check(arrify_fields(cleaned, self.schema), "", errors)
        if errors:
            raise PayloadValidationError(errors)
        return result
