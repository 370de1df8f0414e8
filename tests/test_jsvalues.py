"""JS value semantics (`actions_1flow/jsvalues.py`): checked against node where JS itself is the reference."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions_1flow.jsvalues import (
    MISSING,
    json_parse,
    json_stringify,
    loose_equals_empty_string,
    number_to_string,
    object_keys,
    to_number,
    to_string,
    trim,
    truthy,
    utf16_length,
    utf16_units,
)
from tests.mapping.compare import outcome

NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0.0, -0.0, 1e21, 1e-7, 1e-6, 123e-20, 5e-324, 1.7976931348623157e308]),
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


@pytest.mark.oracle
@settings(max_examples=60, deadline=None)
@given(numbers=st.lists(NUMBERS, min_size=1, max_size=40))
def test_numbers_print_like_node(oracle, numbers):
    mapping = {"s": {"@template": "{{n}}"}, "j": {"@json": {"mode": "encode", "value": {"@path": "$.n"}}}}
    references = oracle.call("mapping.transformMany", cases=[{"mapping": mapping, "event": {"n": n}} for n in numbers])
    assert [{"s": number_to_string(n), "j": json_stringify(n)} for n in numbers] == [r["output"] for r in references]


@pytest.mark.oracle
@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.recursive(
            st.one_of(st.none(), st.booleans(), NUMBERS, TEXT),
            lambda inner: st.one_of(
                st.lists(inner, max_size=3),
                st.dictionaries(st.sampled_from(["a", "1", "0", "é", "10", "b"]), inner, max_size=3),
            ),
            max_leaves=8,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_json_and_string_conversion_like_node(oracle, values):
    mapping = {
        "j": {"@json": {"mode": "encode", "value": {"@path": "$.v"}}},
        "s": {"@template": "{{v}}"},
        "b": {"@if": {"blank": {"@path": "$.v"}, "then": "y", "else": "n"}},
    }
    references = oracle.call("mapping.transformMany", cases=[{"mapping": mapping, "event": {"v": v}} for v in values])
    ours = [
        {
            "j": json_stringify(v),
            "s": "" if v is None else to_string(v),
            "b": "n" if v is None or loose_equals_empty_string(v) else "y",
        }
        for v in values
    ]
    assert ours == [r["output"] for r in references]


def test_missing_is_a_falsy_singleton():
    assert not MISSING and repr(MISSING) == "MISSING" and type(MISSING)() is MISSING


@pytest.mark.parametrize(
    "value, expected",
    [
        ([], True),
        ({}, True),
        ("0", True),
        (" ", True),
        (math.nan, False),
        (-0.0, False),
        (0, False),
        ("", False),
        (None, False),
        (MISSING, False),
        (False, False),
        (True, True),
        (0.5, True),
    ],
)
def test_js_truthiness(value, expected):
    assert truthy(value) is expected


@pytest.mark.parametrize(
    "value, equal",
    [
        ("", True),
        (0, True),
        (-0.0, True),
        (False, True),
        ([], True),
        ([""], True),
        ([None], True),
        ([[]], True),
        (" ", False),
        ("0", False),
        ({}, False),
        (math.nan, False),
        ([0], False),
        (True, False),
    ],
)
def test_loose_equality_with_empty_string(value, equal):
    assert loose_equals_empty_string(value) is equal


def test_js_key_order():
    assert object_keys({"b": 1, "10": 1, "a": 1, "2": 1, "01": 1, "4294967295": 1, "4294967294": 1, "-1": 1}) == [
        "2",
        "10",
        "4294967294",
        "b",
        "a",
        "01",
        "4294967295",
        "-1",
    ]


@pytest.mark.oracle
def test_keys_of_many_digits_are_plain_keys_like_node(oracle):
    """Past 10 digits a key is never an array index; past 4300 digits Python's int() would also refuse it."""
    key = "1" * 5000
    event = {"a": {"b": 1, key: 2, "2": 3}, "l": [1, 2]}
    mapping = {
        "x": {"@path": f"$.a.{key}"},
        "y": {"@json": {"mode": "encode", "value": {"@path": "$.a"}}},
        "z": {"@path": f"$.l.{key}"},
        "w": {"@path": "$.l.12345678901"},
    }
    (reference,) = oracle.call("mapping.transformMany", cases=[{"mapping": mapping, "event": event}])
    assert (
        outcome(mapping, event)
        == reference
        == {"output": {"x": 2, "y": json.dumps({"2": 3, "b": 1, key: 2}, separators=(",", ":"))}}
    )


def test_strings_are_utf16_for_length_and_indexing():
    assert utf16_length("a😀") == 3
    assert utf16_units("a😀") == ["a", "\ud83d", "\ude00"]
    assert json_stringify(["\ud83d", "\ud83d\ude00", "\x7f\u2028\x1f"]) == '["\\ud83d","😀","\x7f\u2028\\u001f"]'


def test_js_trim_is_not_python_strip():
    assert trim("\ufeff x \u00a0") == "x"
    assert trim("\x1c x \x85") == "\x1c x \x85"  # Python's str.strip() would remove these


@pytest.mark.parametrize(
    "text, number",
    [
        ("", 0),
        ("  12 ", 12),
        ("0x1F", 31),
        ("0b11", 3),
        ("-0x1", math.nan),
        ("1e3", 1000),
        (".5", 0.5),
        ("5.", 5),
        ("Infinity", math.inf),
        ("inf", math.nan),
        ("1_000", math.nan),
        ("12px", math.nan),
    ],
)
def test_number_conversion(text, number):
    got = to_number(text)
    assert (got != got and number != number) or got == number


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "", " ", "{'a':1}", "[1,]", "01", "\ufeff1"])
def test_json_parse_rejects_what_js_rejects(text):
    with pytest.raises(ValueError):
        json_parse(text)


def test_json_parse_reads_like_js():
    assert json_parse(" 12 ") == 12
    assert json_parse('{"a":1,"a":2}') == {"a": 2}
    assert json_parse("1" * 400) == float("1" * 400)


def test_pretty_json_like_js():
    assert json_stringify({"a": [1, {}], "b": [], "c": MISSING}, indent="  ") == (
        '{\n  "a": [\n    1,\n    {}\n  ],\n  "b": []\n}'
    )
