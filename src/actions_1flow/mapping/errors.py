"""The two ways a mapping fails: it is invalid (Segment's validation messages) or it fails while running."""

from __future__ import annotations


class MappingError(Exception):
    """A mapping failed while transforming an event (Segment's runtime message), or cannot run at all."""


class MappingValidationError(MappingError):
    """The mapping is invalid. `.messages` holds Segment's messages, in Segment's order; `.hints` ours beside
    them, one per message ('' where there is none), e.g. `did you mean @path?`."""

    def __init__(self, messages: list[str], hints: list[str] | None = None) -> None:
        self.messages = list(messages)
        self.hints = list(hints) if hints is not None else [""] * len(self.messages)
        super().__init__("\n".join(self.messages))

    def explained(self) -> list[str]:
        """Each message with its hint, if any, after it: what a person reads."""
        return [f"{m} ({h})" if h else m for m, h in zip(self.messages, self.hints, strict=True)]

    def __reduce__(self):  # keep `messages` and `hints` through pickling/copying
        return (type(self), (self.messages, self.hints))


def fresh(error: MappingError) -> MappingError:
    """A new exception equal to `error` (to re-raise a remembered failure without sharing its traceback)."""
    if isinstance(error, MappingValidationError):
        return MappingValidationError(error.messages, error.hints)
    return MappingError(*error.args)
