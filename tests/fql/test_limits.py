"""Segment's lexer gives up on names, strings and numbers of 100,000 UTF-16 units; the limits agree exactly."""

from __future__ import annotations

import pytest

from actions_1flow import fql

pytestmark = pytest.mark.oracle

LIMIT = 100_000
WITHIN = {
    "longest name": "properties." + "a" * (LIMIT - 1) + " = 1",
    "longest escaped name": "properties." + "\\ " * (LIMIT - 1) + " = 1",
    "longest string": 'event = "' + "x" * (LIMIT - 1) + '"',
    "longest number": "properties.n = " + "0" * (LIMIT - 1) + "1",
    "longest number with fraction": "properties.n = 0." + "1" * (LIMIT - 2),
}
BEYOND = {
    "name one too long": "properties." + "a" * LIMIT + " = 1",
    "string one too long": 'event = "' + "x" * LIMIT + '"',
    "string of astral characters": 'event = "' + "😀" * (LIMIT // 2) + '"',  # 100,000 UTF-16 units
    "number one too long": "properties.n = " + "0" * LIMIT + "1",
}


@pytest.mark.parametrize("text", WITHIN.values(), ids=WITHIN.keys())
def test_up_to_the_limit_both_accept(oracle, text: str) -> None:
    assert fql.parse(text).ast == oracle.call("fql.parse", text=text)["ast"]


@pytest.mark.parametrize("text", BEYOND.values(), ids=BEYOND.keys())
def test_at_the_limit_both_reject(oracle, text: str) -> None:
    assert "error" in oracle.call("fql.parse", text=text)
    with pytest.raises(fql.FQLSyntaxError, match="too long"):
        fql.parse(text)
