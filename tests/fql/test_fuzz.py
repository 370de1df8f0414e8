"""`parse` never raises anything but FQLSyntaxError, whatever the text; its errors always render."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions_1flow import fql

from .strategies import SOUP

EVENTS = [{}, {"type": "track", "properties": {"a": [1], "b": "x"}}, None, "text", [], 5]

any_char = st.characters(exclude_categories=())  # every code point, unpaired surrogates and controls included
fql_ish = st.lists(
    st.one_of(st.sampled_from(SOUP + [" ", "\t", "\n", "\r", '"', "'", "\\", "(", ")"]), st.text(any_char, max_size=3)),
    max_size=40,
).map("".join)


def check(text: str) -> None:
    try:
        subscription = fql.parse(text)
    except fql.FQLSyntaxError as error:
        assert error.text == text
        assert 0 <= error.position <= len(text)
        rendered = str(error)
        rendered.encode("utf-8")  # printable anywhere: controls and lone surrogates are replaced
        assert rendered.splitlines()[-1].endswith("^")
        return
    assert subscription.ast["type"] == "group"
    for event in EVENTS:
        assert subscription.matches(event) in (True, False)
    fql.to_fql(subscription.ast)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.text(any_char))
def test_arbitrary_text(text: str) -> None:
    check(text)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(fql_ish)
def test_fql_like_text(text: str) -> None:
    check(text)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 200_000,
        ")" * 200_000,
        'type = "a" or ' * 20_000 + 'type = "b"',  # 20,001 conditions: interpreted, not compiled
        'event = "' + "x" * 99_999 + '"',  # the longest string Segment's lexer takes
        'event = "' + "x" * 100_000 + '"',  # one longer: Segment gives up, so do we
        "properties." + "a" * 100_000 + " = 1",
        "properties.a = " + "9" * 100_001,
        "\\" * 100_001,
        '"' * 100_001,
        "\x00\ud800\udfff\U0010ffff" * 50_000,
        "type = " + "é" * 100_000,
    ],
    ids=[
        "open-parens",
        "close-parens",
        "many-conditions",
        "long-string",
        "too-long-string",
        "long-name",
        "long-number",
        "backslashes",
        "quotes",
        "controls",
        "long-word",
    ],
)
def test_huge_inputs(text: str) -> None:
    check(text)


def test_huge_accepted_subscription_still_matches_like_segment() -> None:
    subscription = fql.parse('type = "a" or ' * 20_000 + 'type = "b"')
    assert subscription.matches({"type": "b"}) is True
    assert subscription.matches({"type": "c"}) is False
