"""Turning a mapped payload into an action's input: Segment's `removeEmptyValues`, then ajv validation with its
coercions (`coerceTypes: "array"`, `removeAdditional`, `allErrors`) and `ajv-human-errors` messages.

The validator is compiled once per schema into small closures that follow the order of ajv's generated code, so
errors come in the same order with the same wording: `The root value is missing the required field 'userId'.`
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .. import jsvalues as js
from ..jsvalues import MISSING
from .dates import is_date_like

COERCIBLE = frozenset({"string", "number", "integer", "boolean", "null", "array"})
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*")


def is_uri(value: str) -> bool:
    """ajv-formats' `uri`, as far as it matters here: a scheme, a colon, and no whitespace."""
    return _URI.fullmatch(value) is not None


KNOWN_FORMATS = {"date-like": is_date_like, "password": None, "text": None, "uri": is_uri}
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


Cleaner = Callable[[Any, bool], Any]


def _keep(value: Any, is_root: bool = False) -> Any:
    return value


def compile_cleaner(schema: dict[str, Any] | None) -> Cleaner:
    """Segment's `removeEmptyValues` for one schema, compiled: `(value, is_root) → value or MISSING`."""
    schema = schema or {}
    if not schema.get("type") and "enum" not in schema:
        return _keep
    items = schema.get("items")
    clean_item = compile_cleaner(items) if items is not None else None
    properties = schema.get("properties")
    clean_property = {key: compile_cleaner(sub) for key, sub in properties.items()} if properties is not None else None
    types = _schema_types(schema)
    keep_null = "null" in types
    keep_empty_string = "string" in types

    def clean(value: Any, is_root: bool = False) -> Any:
        if isinstance(value, list):
            if clean_item is None:
                return value
            # Survivors are kept as they were (uncleaned), as in Segment.
            return [item for item in value if clean_item(item, False) is not MISSING]
        if isinstance(value, dict):
            if clean_property is None:
                return value
            cleaned: dict[str, Any] = {}
            for key, item in value.items():
                clean_one = clean_property.get(key)
                if clean_one is not None:
                    item = clean_one(item, False)
                if item is MISSING or (is_root and isinstance(item, str) and item == ""):
                    continue
                cleaned[key] = item
            return cleaned
        if value is None:
            return value if keep_null else MISSING
        if isinstance(value, str) and value == "" and not keep_empty_string:
            return MISSING
        return value

    return clean


def remove_empty_values(value: Any, schema: dict[str, Any] | None, is_root: bool = False) -> Any:
    """Drop what the schema says is empty: null where null is not allowed, '' where a string is not expected, list
    items that would be dropped, and (at the root of a single-event payload) every '' value. Returns MISSING for a
    value that disappears."""
    return compile_cleaner(schema)(value, is_root)


def _arrify(payload: dict[str, Any], list_keys: list[str]) -> dict[str, Any]:
    """Before validation, a scalar in a list-typed field becomes a one-element list (null/MISSING stay)."""
    out = payload
    for key in list_keys:
        value = payload.get(key, MISSING)
        if value is not MISSING and value is not None and not isinstance(value, list):
            if out is payload:
                out = dict(payload)
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


# ---------------------------------------------------------------------------------------------------------------
# compiled validation

Errors = list[str]
Check = Callable[[Any, str, Errors], Any]
"""(value, JSON pointer, errors) → the value after coercion/removal; appends human messages to errors."""


def _is_integer(value: Any) -> bool:
    return js.is_finite(value) and value % 1 == 0


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "null": lambda value: value is None,
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
    "number": js.is_finite,
    "integer": _is_integer,
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
}


def _type_tests(types: list[str]) -> list[Callable[[Any], bool]]:
    unknown = [t for t in types if t not in _TYPE_TESTS]
    if unknown:
        raise ValueError(f"unsupported schema type {unknown[0]!r}")
    return [_TYPE_TESTS[t] for t in types]


def _any_of(tests: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if len(tests) == 1:
        return tests[0]
    return lambda value: any(test(value) for test in tests)


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
            if not math.isnan(number) and (
                kind == "number" or not js.truthy(number % 1 if math.isfinite(number) else math.nan)
            ):
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


def _type_stage(schema: dict[str, Any], types: list[str]) -> Check | None:
    """ajv's coerceAndCheckDataType for this schema, or None when ajv leaves the type to a keyword group."""
    coerce_to = [t for t in types if t in COERCIBLE]
    if not types or (not coerce_to and len(types) == 1 and _has_rules_for(schema, types[0])):
        return None
    tests = _type_tests(types)
    right_type = _any_of(tests)
    expected = schema["type"] if isinstance(schema["type"], list) else schema["type"].split(",")
    expected_text = _humanize_list(expected, "or")
    wrong_type_text = f"must be {_article(expected_text)} {expected_text} but it was "

    def stage(value: Any, pointer: str, errors: Errors) -> Any:
        if right_type(value):
            return value
        if coerce_to:
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
                # ajv tests an unwrapped one-element list against *all* the types at once (its multi-type "right
                # type" test is a conjunction), so with two types or more the element goes through the coercions.
                if all(test(value) for test in tests):
                    return value
            for kind in coerce_to:
                matched, coerced = _coerce_one(kind, value)
                if matched:
                    return coerced
        errors.append(_message(schema, pointer, wrong_type_text + _type_of(value)))
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
        checks.append(
            _typed_group_or_error(schema, object_check) if stage is None and types == ["object"] else object_check
        )

    steps = ([stage] if stage is not None else []) + checks
    if len(steps) == 1:
        return steps[0]

    def check(value: Any, pointer: str, errors: Errors) -> Any:
        for step in steps:
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
    listed = _humanize_list([js.json_stringify(v) for v in allowed], "or")

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
                errors.append(
                    _message(schema, pointer, f"must be equal to or greater than {js.number_to_string(floor)}")
                )
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

            def length(
                value: Any, pointer: str, errors: Errors, limit: Any = limit, fails: Any = fails, word: str = word
            ) -> Any:
                # ajv counts code points (its ucs2length: a surrogate pair is one), the message JS's `.length`.
                if isinstance(value, str) and fails(len(js.join_surrogates(value)), limit):
                    actual = js.utf16_length(value)
                    errors.append(
                        _message(
                            schema,
                            pointer,
                            f"must be {js.number_to_string(limit)} {_plural('character', limit)} or {word} "
                            f"but it was {actual} {_plural('character', actual)}",
                        )
                    )
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
    compiled = [(key, "/" + _escape(key), compile_schema(sub)) for key, sub in properties.items()]

    def check(value: Any, pointer: str, errors: Errors) -> Any:
        if not isinstance(value, dict):
            return value
        for key in required:
            if value.get(key, MISSING) is MISSING:
                errors.append(_message(schema, pointer, f"is missing the required field '{key}'"))
        out = {k: v for k, v in value.items() if k in properties} if remove_unknown else dict(value)
        for key, suffix, sub in compiled:
            item = out.get(key, MISSING)
            if item is not MISSING:
                out[key] = sub(item, pointer + suffix, errors)
        return out

    return check


class PayloadValidator:
    """Cleans, coerces and validates payloads against one action's schema (compiled once)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._clean = compile_cleaner(schema)
        self._check = compile_schema(schema)
        self._list_keys = [k for k, sub in schema.get("properties", {}).items() if sub.get("type") == "array"]

    def __call__(self, payload: dict[str, Any], *, batch: bool = False) -> dict[str, Any]:
        """The payload the action receives; raises PayloadValidationError with every message, in ajv's order.

        `batch=True` is Segment's batch mode, where root-level '' values of string fields survive.
        """
        cleaned = self._clean(payload, not batch)
        if self._list_keys and isinstance(cleaned, dict):
            cleaned = _arrify(cleaned, self._list_keys)
        errors: Errors = []
        result = self._check(cleaned, "", errors)
        if errors:
            raise PayloadValidationError(errors)
        return result
