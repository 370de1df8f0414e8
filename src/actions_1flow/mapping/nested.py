"""Validation Segment runs only when a mapping runs: the `apply` object of every `@transform`.

Segment's `@transform` calls `transform(apply, payload)`, which validates `apply` afresh each time. The outer
validation never looks inside raw arrays or the raw objects under `@literal`/`@excludeWhenNull`, so an invalid
`apply` there passes `validate` and then fails every event that reaches it. Where a mapping will run without a
validator (the device-mode plugin), such a mapping has to be refused up front for both runtimes to agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .compiler import validate
from .errors import MappingError, MappingValidationError

Path = tuple[str | int, ...]


def invalid_transform_applies(mapping: Any, path: Path = ()) -> Iterator[tuple[Path, list[str]]]:
    """Each `@transform.apply` anywhere in `mapping` that Segment's run-time validation rejects: its path (ending in
    `"@transform", "apply"`) and Segment's messages for it."""
    if isinstance(mapping, dict):
        options = mapping.get("@transform")
        if isinstance(options, dict) and isinstance(options.get("apply"), (dict, list)):
            try:
                validate(options["apply"])
            except MappingValidationError as exc:
                yield (*path, "@transform", "apply"), exc.messages
            except MappingError:
                pass  # a run-time error (e.g. a malformed root directive): both runtimes raise it the same way
        for key, child in mapping.items():
            yield from invalid_transform_applies(child, (*path, key))
    elif isinstance(mapping, list):
        for i, child in enumerate(mapping):
            yield from invalid_transform_applies(child, (*path, i))
