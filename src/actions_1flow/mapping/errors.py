"""The two ways a mapping fails: it is invalid (Segment's validation messages) or it fails while running."""

from __future__ import annotations


class MappingError(Exception):
    """A mapping failed while transforming an event (Segment's runtime message), or cannot run at all."""


class MappingValidationError(MappingError):
    """The mapping is invalid. `.messages` holds Segment's messages, in Segment's order."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))

    def __reduce__(self):  # keep `messages` through pickling/copying
        return (type(self), (self.messages,))


def fresh(error: MappingError) -> MappingError:
    """A new exception equal to `error` (to re-raise a remembered failure without sharing its traceback)."""
    if isinstance(error, MappingValidationError):
        return MappingValidationError(error.messages)
    return MappingError(*error.args)
