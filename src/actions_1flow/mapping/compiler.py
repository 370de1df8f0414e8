"""`compile`, `transform` and `validate`: the mapping engine's entry points.

`compile(mapping)` does everything that depends only on the mapping — root-directive expansion, validation,
building the closures — so that `CompiledMapping.apply(event)` only evaluates. `transform(mapping, event)`
is `compile(mapping).apply(event)` with the compiled mappings kept in a small LRU cache keyed by the
mapping's JSON text (key order included: it decides Segment's message order).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import orjson

from ..jsvalues import MISSING, real_type_of
from . import directives as _directives  # noqa: F401  (registers the directive compilers)
from .errors import MappingError, fresh
from .nodes import PUBLIC, compile_value
from .root import prepare

CACHE_SIZE = 1024
"""Compiled mappings kept by `transform`: a deployment has a handful; the public corpus, 284."""

NESTING_ERROR = "mapping or event is nested too deeply"


class CompiledMapping:
    """A validated mapping, ready to transform events."""

    __slots__ = ("_fn",)

    def __init__(self, mapping: Any) -> None:
        try:
            self._fn = compile_value(prepare(mapping), PUBLIC).fn
        except RecursionError:
            raise MappingError(NESTING_ERROR) from None

    def apply(self, event: Any = MISSING) -> Any:
        """The payload for `event` (a dict). Raises MappingError when Segment's transform would throw.

        The result may share nested objects with `event` (values copied through by `@path`).
        """
        if type(event) is not dict and not isinstance(event, dict):
            if event is not MISSING:
                raise MappingError(f"data must be an object, got {real_type_of(event)}")
            event = {}
        try:
            return self._fn(event)
        except RecursionError:
            raise MappingError(NESTING_ERROR) from None


def compile(mapping: Any) -> CompiledMapping:
    """Validate `mapping` once and build its evaluator. Raises MappingValidationError or MappingError."""
    return CompiledMapping(mapping)


def validate(mapping: Any) -> None:
    """Raise MappingValidationError (Segment's messages) if `transform` would reject `mapping`."""
    try:
        prepare(mapping)
    except RecursionError:
        raise MappingError(NESTING_ERROR) from None


def _cache_key(mapping: Any) -> bytes | str:
    try:
        return orjson.dumps(mapping)
    except (orjson.JSONEncodeError, TypeError):
        # Beyond orjson: lone surrogates, integers over 64 bits, nesting over 255 levels.
        try:
            return json.dumps(mapping, ensure_ascii=True)
        except RecursionError:
            raise MappingError(NESTING_ERROR) from None
        except (TypeError, ValueError) as error:
            raise MappingError(f"mapping is not JSON: {error}") from None


@lru_cache(maxsize=CACHE_SIZE)
def _compiled(key: bytes | str) -> CompiledMapping | MappingError:
    # Compiled from a fresh copy of the mapping, so later changes to the caller's object cannot leak in.
    try:
        return CompiledMapping(orjson.loads(key) if type(key) is bytes else json.loads(key))
    except MappingError as error:
        return error
    except RecursionError:
        return MappingError(NESTING_ERROR)


def transform(mapping: Any, event: Any = MISSING) -> Any:
    """Segment's `transform(mapping, event)`: the payload, MappingValidationError, or MappingError."""
    if type(event) is not dict and not isinstance(event, dict) and event is not MISSING:
        raise MappingError(f"data must be an object, got {real_type_of(event)}")
    compiled = _compiled(_cache_key(mapping))
    if type(compiled) is not CompiledMapping:
        raise fresh(compiled)  # type: ignore[arg-type]
    return compiled.apply(event)
