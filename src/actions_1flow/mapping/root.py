"""What `transform` does to a mapping before resolving it: the root-directive key, then validation.

A top-level key `__segment_internal_directive` holds one directive (in practice `@transform`) whose `mapping`
becomes all the other top-level keys. Any other mapping is shallow-copied as JS `{...mapping}` would: a list
becomes an index-keyed object, a string its UTF-16 units, a number or boolean `{}`.
"""

from __future__ import annotations

from typing import Any

from ..jsvalues import MISSING, object_keys, utf16_length, utf16_units
from .errors import MappingError
from .validate import check

ROOT_DIRECTIVE_KEY = "__segment_internal_directive"


def _keys(value: Any) -> list:
    """JS `Object.keys(value)` (which throws for null and undefined)."""
    t = type(value)
    if t is dict:
        return object_keys(value)
    if t is list:
        return [str(i) for i in range(len(value))]
    if t is str:
        return [str(i) for i in range(utf16_length(value))]
    if value is None or value is MISSING:
        raise MappingError("Cannot convert undefined or null to object")
    return []


def _spread(mapping: Any) -> dict:
    """JS `{...mapping}`."""
    t = type(mapping)
    if t is dict:
        return {k: mapping[k] for k in object_keys(mapping)}
    if t is list:
        return {str(i): v for i, v in enumerate(mapping)}
    if t is str:
        return {str(i): unit for i, unit in enumerate(utf16_units(mapping))}
    return {}


def expand_root(mapping: Any) -> Any:
    """Segment's `getMappingToProcess` (without mutating `mapping`)."""
    keys = _keys(mapping)
    if type(mapping) is not dict or ROOT_DIRECTIVE_KEY not in mapping:
        return _spread(mapping)
    customer = {k: mapping[k] for k in keys if k != ROOT_DIRECTIVE_KEY}
    holder = mapping[ROOT_DIRECTIVE_KEY]
    holder_keys = _keys(holder)
    if len(holder_keys) > 1:
        raise MappingError("The root mapping must only have a single directive object")
    if not holder_keys:
        raise MappingError("The root directive must be an object")
    (key,) = holder_keys
    options = holder[key] if type(holder) is dict else holder[int(key)] if type(holder) is list else MISSING
    if type(options) is not dict and type(options) is not list:
        raise MappingError("The root directive must be an object")
    if type(options) is dict:
        options = {**options, "mapping": customer}
    if type(holder) is dict:
        return {key: options}
    return [options]


def prepare(mapping: Any) -> Any:
    """The mapping `transform` resolves: root-expanded and validated (MappingValidationError if invalid)."""
    prepared = expand_root(mapping)
    check(prepared)
    return prepared
