""" "Did you mean …?": the closest of the valid names to one a user mistyped, for error messages everywhere."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CLOSE_ENOUGH = 0.6
"""difflib's similarity ratio a known name needs to be offered (`regoin` → `region`, `@pth` → `@path`)."""


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid name most like `word`, or None when none is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=CLOSE_ENOUGH)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`did you mean region?`, or '' when no valid name is close to `word`."""
    match = closest(word, choices)
    return f"did you mean {match}?" if match else ""
