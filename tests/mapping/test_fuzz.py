"""`transform` raises nothing but MappingError for any JSON mapping and event (fuzzed), however deep."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions_1flow.mapping import MappingError, compile, transform, validate
from tests.mapping.strategies import JSON_VALUES, events, mappings

DIRECTIVE_KEYS = [
    "@path",
    "@template",
    "@if",
    "@case",
    "@replace",
    "@arrayPath",
    "@literal",
    "@flatten",
    "@json",
    "@merge",
    "@transform",
    "@excludeWhenNull",
    "@liquid",
    "@oops",
    "_metadata",
    "__segment_internal_directive",
]
OPTION_KEYS = [
    "exists",
    "blank",
    "then",
    "else",
    "operator",
    "value",
    "pattern",
    "replacement",
    "pattern2",
    "replacement2",
    "ignorecase",
    "global",
    "mode",
    "separator",
    "omitArrays",
    "direction",
    "objects",
    "apply",
    "mapping",
    "a",
    "0",
]
LIQUID_BITS = [
    "{{",
    "}}",
    "{%",
    "%}",
    " if ",
    " a ",
    "|",
    " upcase",
    " plus: ",
    "'x'",
    "endif",
    " for ",
    " in ",
    "assign",
    " = ",
    "date",
    ":",
    ",",
    "capture",
    "endcapture",
    " not ",
    " contains ",
    "..",
    "(",
    ")",
    "[0]",
    ".size",
    "-",
    "raw",
    "endraw",
    "increment",
    "cycle",
    " and ",
    " or ",
    "\n",
]

# Any JSON at all, with keys that make directives and options likely.
ANY_MAPPING = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
        st.lists(st.sampled_from(LIQUID_BITS), max_size=12).map("".join),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(DIRECTIVE_KEYS + OPTION_KEYS), inner, max_size=4),
    ),
    max_leaves=25,
)


def must_not_escape(mapping, event) -> None:
    try:
        transform(mapping, event)
    except MappingError:
        pass


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mapping=ANY_MAPPING, event=st.one_of(events(), JSON_VALUES))
def test_any_json_mapping_fails_only_with_mapping_error(mapping, event):
    must_not_escape(mapping, event)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mapping=mappings(), event=events())
def test_generated_mappings_fail_only_with_mapping_error(mapping, event):
    must_not_escape(mapping, event)


@settings(max_examples=300, deadline=None)
@given(template=st.lists(st.sampled_from(LIQUID_BITS), max_size=30).map("".join), event=events())
def test_any_liquid_template_fails_only_with_mapping_error(template, event):
    must_not_escape({"x": {"@liquid": template}}, event)


def nested(depth: int, leaf, wrap):
    value = leaf
    for _ in range(depth):
        value = wrap(value)
    return value


DEEP = 20_000


@pytest.mark.parametrize(
    "mapping",
    [
        nested(DEEP, {"@path": "$.a"}, lambda v: {"k": v}),
        nested(DEEP, "$.a", lambda v: {"@path": v}),
        nested(DEEP, {"@path": "$.a"}, lambda v: [v]),
        nested(DEEP, "x", lambda v: {"@literal": v}),
        nested(DEEP, {"k": 1}, lambda v: {"@transform": {"apply": {"a": 1}, "mapping": v}}),
    ],
    ids=["objects", "path-directives", "lists", "literals", "transforms"],
)
def test_deeply_nested_mapping_is_a_mapping_error(mapping):
    with pytest.raises(MappingError):
        transform(mapping, {"a": 1})
    with pytest.raises(MappingError):
        compile(mapping)
    try:
        validate(mapping)  # lists are not looked into by validation: this one may pass
    except MappingError:
        pass


@pytest.mark.parametrize(
    "mapping",
    [
        {"x": {"@json": {"mode": "encode", "value": {"@path": "$.deep"}}}},
        {"x": {"@flatten": {"separator": ".", "value": {"@path": "$.deep"}}}},
        {"x": {"@template": "{{deep}}"}},
        {"x": {"@excludeWhenNull": {"@path": "$.obj"}}},
        {"x": {"@transform": {"apply": {"d": {"@path": "$.obj"}}, "mapping": {"@path": "$.d"}}}},
    ],
    ids=["json-encode", "flatten", "template", "exclude-when-null", "transform-cleanup"],
)
def test_deeply_nested_event_is_a_mapping_error(mapping):
    event = {"deep": nested(DEEP, 1, lambda v: [v]), "obj": nested(DEEP, None, lambda v: {"k": v})}
    with pytest.raises(MappingError):
        transform(mapping, event)


def test_deeply_nested_json_text_is_a_mapping_error():
    text = "[" * DEEP + "]" * DEEP
    with pytest.raises(MappingError):
        transform({"x": {"@json": {"mode": "decode", "value": {"@path": "$.t"}}}}, {"t": text})
