"""Segment's mapping-kit in Python: `transform(mapping, event)` gives exactly the payload Segment's gives.

    >>> from actions_1flow import mapping
    >>> mapping.transform({"name": {"@path": "$.event"}}, {"event": "Signed Up"})
    {'name': 'Signed Up'}

`compile(mapping)` validates once and returns an object whose `.apply(event)` does only the evaluation.
Failures are `MappingError` (runtime, Segment's message) or its subclass `MappingValidationError` (invalid
mapping, `.messages` in Segment's wording and order). `MISSING` is the JS `undefined`; it is returned only
when the whole result is undefined (a root directive that yields nothing).
"""

from ..jsvalues import MISSING
from .compiler import CompiledMapping, compile, transform, validate
from .errors import MappingError, MappingValidationError

__all__ = [
    "MISSING",
    "CompiledMapping",
    "MappingError",
    "MappingValidationError",
    "compile",
    "transform",
    "validate",
]
