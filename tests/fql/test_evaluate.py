"""Evaluation semantics (spec §2.5), checked against Segment's validate() on events chosen to hit each rule."""

from __future__ import annotations

import math
from typing import Any

import pytest

from actions_1flow import fql
from actions_1flow.fql.evaluate import evaluate

pytestmark = pytest.mark.oracle

# (trigger, events): every event is evaluated by us and by Segment's validate() on Segment's own AST.
CASES: list[tuple[str, list[Any]]] = [
    ('type = "track"', [{"type": "track"}, {"type": "Track"}, {"type": ["track"]}, {}, {"type": None}]),
    ('event != "x"', [{}, {"event": None}, {"event": 5}, {"event": "x"}, "", 0, [], True]),
    (
        "properties.value = 5",
        [
            {"properties": {"value": 5}},
            {"properties": {"value": "5"}},
            {"properties": {"value": 5.0}},
            {"properties": {"value": True}},
        ],
    ),
    ('properties.value = "5"', [{"properties": {"value": 5}}, {"properties": {"value": "5"}}]),
    ("properties.value != 5", [{"properties": {}}, {"properties": {"value": 6}}, {"properties": {"value": "6"}}]),
    (
        "properties.value >= 5",
        [
            {"properties": {"value": "6"}},
            {"properties": {"value": 6}},
            {"properties": {"value": False}},
            {"properties": {"value": None}},
        ],
    ),
    ("properties.a.b = 0", [{"properties": {"a": 0}}, {"properties": {"a": 0.0}}, {"properties": {"a": False}}]),
    (
        "properties.a.b != null",
        [
            {"properties": {"a": ""}},
            {"properties": {"a": None}},
            {"properties": {"a": {}}},
            {"properties": {"a": []}},
            {"properties": None},
            {"properties": 0},
        ],
    ),
    ("properties.a.b = false", [{"properties": {"a": False}}, {"properties": {"a": {"b": False}}}]),
    ('contains(properties.tags, "x")', [{"properties": {"tags": ["x"]}}, {"properties": {"tags": "xyz"}}]),
    ('!contains(properties.tags, "x")', [{"properties": {"tags": ["y"]}}, {}, {"properties": {"tags": "abc"}}]),
    ('match(context.page.url, "https*")', [{"context": {"page": {"url": "https://x"}}}, {"context": {}}]),
    ('!match(event, "*ed")', [{"event": "Signed"}, {"event": "Sign"}, {"event": 5}, {}]),
    ("userId = true", [{"userId": True}, {"userId": "true"}, {"userId": 1}]),
    ("traits.vip = true", [{"traits": {"vip": True}}, {"traits": {"vip": "true"}}, {"traits": {"vip": 1}}]),
    ("name = null", [{}, {"name": None}, {"name": ""}, {"name": 0}]),
    # JS property reads on non-objects: length, indexes, built-in methods
    (
        "properties.tags.length > 1",
        [
            {"properties": {"tags": ["a", "b"]}},
            {"properties": {"tags": "ab"}},
            {"properties": {"tags": []}},
            {"properties": {"tags": {"length": 3}}},
        ],
    ),
    ("properties.word.length = 2", [{"properties": {"word": "😀"}}, {"properties": {"word": "é"}}]),
    (
        'properties.tags\\.0 = "a"',
        [{"properties": {"tags": ["a"]}}, {"properties": {"tags": "abc"}}, {"properties": {"tags": {"0": "a"}}}],
    ),
    ('properties.s\\[1\\] = "b"', [{"properties": {"s": "abc"}}, {"properties": {"s": "a"}}]),
    ('properties.s\\.01 = "b"', [{"properties": {"s": "abc"}}]),
    (
        "properties.tags.map != null",
        [{"properties": {"tags": [1]}}, {"properties": {"tags": {}}}, {"properties": {"tags": "s"}}],
    ),
    ("properties.n.toFixed.length = 1", [{"properties": {"n": 5}}, {"properties": {"n": 0}}]),
    ('properties.s.trimLeft.name = "trimStart"', [{"properties": {"s": "x"}}]),
    ('properties.s.at != "x"', [{"properties": {"s": "x"}}, {"properties": {"s": True}}]),
    ("properties.s.at.caller != null", [{"properties": {"s": "x"}}, {"properties": {"s": 5}}]),
    # doubles: integers beyond 2**53 are rounded by JSON.parse
    ("properties.n = 9007199254740992", [{"properties": {"n": 2**53 + 1}}, {"properties": {"n": 2**53 + 2}}]),
    ("properties.n > 9007199254740992", [{"properties": {"n": 2**53 + 1}}, {"properties": {"n": 2**53 + 2}}]),
    ("properties.n < 1", [{"properties": {"n": -(10**400)}}, {"properties": {"n": 10**400}}]),
    (
        "properties.n = 12345678901234567890",
        [{"properties": {"n": 12345678901234567890}}, {"properties": {"n": 12345678901234567000}}],
    ),
    # groups: and/or and the Segment reading of a function inside parentheses
    ('(type = "a" or type = "b") and event = "x"', [{"type": "b", "event": "x"}, {"type": "c", "event": "x"}]),
    ('type = "a" or (contains(event, "x") and name = "n")', [{"type": "a"}, {"event": "x", "name": "n"}]),
]


@pytest.mark.parametrize(("text", "events"), CASES, ids=[text for text, _ in CASES])
def test_matches_like_segment(oracle, text: str, events: list[Any]) -> None:
    reply = oracle.call("fql.parseAndMatch", text=text, events=events)
    subscription = fql.parse(text)
    assert subscription.ast == reply["parsed"]["ast"]
    expected = [False if isinstance(r, dict) and "throws" in r else r for r in reply["matches"]]
    assert [subscription.matches(event) for event in events] == expected
    assert [evaluate(subscription.ast, event) for event in events] == expected


def test_where_segment_throws_matches_is_false(oracle) -> None:
    """Reading `caller` of a built-in throws in Segment's validate(); matches answers False instead of raising."""
    text, event = "properties.s.at.caller != null", {"properties": {"s": "x"}}
    assert "throws" in oracle.call("fql.parseAndMatch", text=text, events=[event])["matches"][0]
    assert fql.parse(text).matches(event) is False


def test_null_event_reads_as_an_event_without_fields(oracle) -> None:
    """Segment's validate(ast, null) throws; matches(None) evaluates as for {} (documented difference)."""
    assert "throws" in oracle.call("fql.match", ast=fql.parse('event != "x"').ast, events=[None])[0]
    assert fql.parse('event != "x"').matches(None) is True
    assert fql.parse('type = "track"').matches(None) is False


def test_mapping_events_other_than_dict() -> None:
    from types import MappingProxyType

    event = MappingProxyType({"type": "track", "properties": MappingProxyType({"total": 5})})
    assert fql.parse('type = "track" and properties.total = 5').matches(event) is True


# -- compile_ast -------------------------------------------------------------------------------------------------


def test_compile_ast_takes_segments_verbatim_operators(oracle) -> None:
    asts = [
        {"type": "group", "operator": "and", "children": [{"type": "event-property", "name": "a", "operator": "<",
                                                            "value": "="}]},
        {"type": "group", "operator": "and", "children": [{"type": "event-property", "name": "a",
                                                            "operator": "number_equals", "value": None}]},
        {"type": "group", "operator": "and", "children": [{"type": "event", "operator": "contains"}]},
        {"type": "group", "operator": "xor", "children": []},
        {"type": "group", "operator": "or", "children": []},
        {"type": "group", "operator": "and", "children": []},
        {"type": "group", "operator": "and", "children": [{"type": "mystery", "operator": "="}]},
        {"type": "group", "operator": "and", "children": [{"type": "event-trait", "operator": "not_exists"}]},
        {"type": "group", "operator": "and", "children": [{"type": "event-trait", "name": "",
                                                            "operator": "not_exists"}]},
        {"type": "group", "operator": "and", "children": [{"type": "event-property", "name": "a", "operator": ">",
                                                            "value": "0x10"}]},
        {"type": "group", "operator": "and", "children": [{"type": "event-property", "name": "a", "operator": "<",
                                                            "value": "Infinity"}]},
        {"type": "event", "operator": "=", "value": "x"},
        {"type": "group", "operator": "or", "children": [{"type": ["event"], "operator": "=", "value": "x"},
                                                          {"type": "event", "operator": ["="], "value": "x"},
                                                          {"type": "event", "operator": "=", "value": ["x"]}]},
        {"type": "group", "operator": "and", "children": [{"type": "event-property", "name": "a",
                                                            "operator": "number_equals", "value": [17]}]},
    ]  # fmt: skip
    events = [{}, {"event": "undefined"}, {"properties": {"a": 0}}, {"properties": {"a": 17}},
              {"properties": {"a": 16}}, {"traits": {}}, {"event": "x"}]  # fmt: skip
    for ast in asts:
        expected = oracle.call("fql.match", ast=ast, events=events)
        assert [fql.compile_ast(ast).matches(e) for e in events] == expected, ast


def test_compile_ast_of_the_error_form_never_matches() -> None:
    assert fql.compile_ast({"error": "Value token is missing"}).matches({"type": "track"}) is False


@pytest.mark.parametrize(
    "ast",
    [
        None,
        [],
        {"type": "group", "operator": "and"},
        {"type": "group", "operator": "and", "children": [None]},
        {"type": "group", "operator": "and", "children": [{"type": "event-property", "name": 5, "operator": "="}]},
        {
            "type": "group",
            "operator": "and",
            "children": [{"type": "event-property", "name": "constructor", "operator": "exists"}],
        },
    ],
)
def test_compile_ast_rejects_what_no_parser_produces(ast: Any) -> None:
    with pytest.raises(fql.InvalidAST):
        fql.compile_ast(ast)


def test_compiled_source_binds_values_by_name() -> None:
    """Values never enter the generated source: a value that looks like code stays a value."""
    text = "event = \"x') or True or ('\" and contains(name, \"__import__('os')\")"
    subscription = fql.parse(text)
    assert "__import__" not in subscription.matches.__doc__
    assert subscription.matches({"event": "x') or True or ('", "name": "__import__('os')"}) is True
    assert subscription.matches({}) is False


def test_nan_in_an_event_compares_like_javascript() -> None:
    event = {"properties": {"n": math.nan}}
    assert fql.parse("properties.n != 5").matches(event) is True
    assert fql.parse("properties.n >= 0").matches(event) is False
