"""The public API: compile/apply, transform's cache, validate, errors, and what transform never changes."""

from __future__ import annotations

import copy

import pytest

from actions_1flow import mapping as mapping_kit
from actions_1flow.mapping import (
    MISSING,
    CompiledMapping,
    MappingError,
    MappingValidationError,
    compile,
    compiler,
    transform,
    validate,
)

PRESET = {
    "event_name": {"@path": "$.event"},
    "userId": {"@path": "$.userId"},
    "anonymousId": {"@path": "$.anonymousId"},
    "properties": {"@path": "$.properties"},
}
EVENT = {"type": "track", "event": "Order Completed", "userId": "u1", "properties": {"total": 10, "coupon": None}}


def test_compile_then_apply_equals_transform():
    compiled = compile(PRESET)
    assert isinstance(compiled, CompiledMapping)
    assert (
        compiled.apply(EVENT)
        == transform(PRESET, EVENT)
        == {"event_name": "Order Completed", "userId": "u1", "properties": {"total": 10, "coupon": None}}
    )


def test_compile_rejects_invalid_mappings_up_front():
    with pytest.raises(MappingValidationError) as failure:
        compile({"b": {"@path": 1}, "a": {"@if": "x"}})
    assert failure.value.messages == [
        "/b/@path should be a string or a mapping directive but it is a number.",
        "/a/@if should be an object but it is a string.",
    ]
    assert isinstance(failure.value, MappingError)


def test_validation_message_order_is_js_key_order():
    # integer-like keys come first in JS, whatever the insertion order
    with pytest.raises(MappingValidationError) as failure:
        validate({"b": {"@oops": 1}, "10": {"@oops": 1}, "2": {"@oops": 1}})
    assert failure.value.messages == [
        "/2 has an invalid directive: @oops.",
        "/10 has an invalid directive: @oops.",
        "/b has an invalid directive: @oops.",
    ]


def test_validate_accepts_valid_mappings():
    assert validate(PRESET) is None
    assert (
        validate(
            {"__segment_internal_directive": {"@transform": {"apply": {"p": {"@path": "$.a"}}}}, "y": {"@path": "$.p"}}
        )
        is None
    )


ROOT_KEY_MAPPINGS = [
    {"__segment_internal_directive": {"@transform": {"apply": {"p": {"@path": "$.a"}}}}, "y": {"@path": "$.p"}},
    {"__segment_internal_directive": 5},
    {"__segment_internal_directive": {"a": 1, "b": 2}},
    {"__segment_internal_directive": {"@transform": {"apply": {"p": {"@path": 3}}}}},
    {"__segment_internal_directive": {"@transform": {"apply": {}, "mapping": {}}}, "y": {"@path": 1}},
]


def _validation(mapping) -> dict:
    try:
        validate(mapping)
    except MappingValidationError as error:
        return {"error": {"kind": "validation", "messages": error.messages}}
    except MappingError as error:
        return {"error": {"kind": "runtime", "messages": [str(error)]}}
    return {"valid": True}


@pytest.mark.oracle
def test_validate_is_the_check_transform_runs_not_the_standalone_validate(oracle):
    """For a mapping whose root holds `__segment_internal_directive`, `validate` gives transform's verdict (after
    the root key is expanded), not that of mapping-kit's standalone `validate()` (docs/mapping.md, Validation)."""
    transforms = oracle.call(
        "mapping.transformMany", cases=[{"mapping": m, "event": {"a": 1}} for m in ROOT_KEY_MAPPINGS]
    )
    standalone = [oracle.call("mapping.validateStandalone", mapping=m) for m in ROOT_KEY_MAPPINGS]
    ours = [_validation(m) for m in ROOT_KEY_MAPPINGS]
    assert ours == [{"valid": True} if "output" in t else t for t in transforms]
    assert [ours[i] != standalone[i] for i in range(len(ROOT_KEY_MAPPINGS))] == [True] * 5
    assert standalone[0]["error"]["messages"] == [
        '/__segment_internal_directive/@transform should have field "mapping" but it doesn\'t.'
    ]
    assert standalone[1] == standalone[2] == {"valid": True}


def test_apply_takes_only_objects_like_segment():
    compiled = compile(PRESET)
    for event, kind in ([1], "array"), (None, "null"), ("x", "string"), (1, "number"), (True, "boolean"):
        with pytest.raises(MappingError, match=f"^data must be an object, got {kind}$"):
            compiled.apply(event)
    assert compiled.apply() == {}  # no event at all is {}, as in Segment


def test_output_keys_follow_js_order():
    result = transform({"b": 1, "10": 2, "a": 3, "2": 4}, {})
    assert list(result) == ["2", "10", "b", "a"]


def test_whole_result_can_be_missing():
    assert transform({"__segment_internal_directive": {"@literal": {}}}, {}) == {"mapping": {}}
    assert transform({"@path": "$.nothing"}, {}) is MISSING


def test_transform_caches_compiled_mappings():
    compiler._compiled.cache_clear()
    for _ in range(5):
        transform(PRESET, EVENT)
    info = compiler._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_cache_is_keyed_by_content_not_identity():
    compiler._compiled.cache_clear()
    mapping = {"x": {"@path": "$.a"}}
    assert transform(mapping, {"a": 1, "b": 2}) == {"x": 1}
    mapping["x"]["@path"] = "$.b"  # the caller changes its mapping afterwards
    assert transform(mapping, {"a": 1, "b": 2}) == {"x": 2}
    assert transform({"x": {"@path": "$.a"}}, {"a": 1, "b": 2}) == {"x": 1}


def test_cached_failures_are_raised_again_each_time():
    for _ in range(2):
        with pytest.raises(MappingValidationError) as failure:
            transform({"x": {"@path": 5}}, {})
        assert failure.value.messages == ["/x/@path should be a string or a mapping directive but it is a number."]
        with pytest.raises(MappingError, match=r"^The root directive must be an object$"):
            transform({"__segment_internal_directive": {"@transform": 5}}, {})


def test_transform_changes_neither_mapping_nor_event():
    mapping = {
        "__segment_internal_directive": {
            "@transform": {"apply": {"r": {"@replace": {"pattern": "a", "value": {"@path": "$.s"}}}}}
        },
        "y": {"@path": "$.r"},
        "z": {"@liquid": "{% increment n %}"},
    }
    event = {"s": "banana", "n": 1}
    before_mapping, before_event = copy.deepcopy(mapping), copy.deepcopy(event)
    assert transform(mapping, event) == {"y": "bnn", "z": "0"}  # z sees the applied payload
    assert compile(mapping).apply(event) == {"y": "bnn", "z": "0"}
    assert (mapping, event) == (before_mapping, before_event)


def test_changing_an_output_does_not_change_later_outputs():
    mapping = {"x": {"@literal": {"a": [1, {"b": 2}]}}}
    first = transform(mapping, {})
    first["x"]["a"][1]["b"] = 99
    first["x"]["a"].append(3)
    assert transform(mapping, {}) == {"x": {"a": [1, {"b": 2}]}}


def test_booleans_are_not_numbers():
    m = {
        "t": {"@template": "{{a}}"},
        "r": {"@replace": {"pattern": "1", "replacement": "one", "value": {"@path": "$.a"}}},
        "j": {"@json": {"mode": "encode", "value": {"@path": "$.a"}}},
        "i": {"@if": {"blank": {"@path": "$.a"}, "then": "filled", "else": "blank"}},
    }
    assert transform(m, {"a": True}) == {"t": "true", "r": "true", "j": "true", "i": "filled"}
    assert transform(m, {"a": 1}) == {"t": "1", "r": "one", "j": "1", "i": "filled"}
    assert transform(m, {"a": False}) == {"t": "false", "r": "false", "j": "false", "i": "blank"}
    assert transform(m, {"a": 0}) == {"t": "0", "r": "0", "j": "0", "i": "blank"}


@pytest.mark.parametrize(
    "number, text",
    [
        (1.0, "1"),
        (1e21, "1e+21"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1.5e-7, "1.5e-7"),
        (123456789012345680000.0, "123456789012345680000"),
        (2**53 + 1, "9007199254740992"),
        (10**21, "1e+21"),
        (-1e-7, "-1e-7"),
    ],
)
def test_numbers_print_like_javascript(number, text):
    assert transform({"x": {"@template": "{{n}}"}}, {"n": number}) == {"x": text}


def test_flatten_collisions_follow_js_key_order():
    # With separator "0", "1" + "0" + "0" collides with the top-level key "100"; JS visits "1" first.
    result = transform(
        {"x": {"@flatten": {"separator": "0", "value": {"@path": "$.o"}}}}, {"o": {"100": "top", "1": {"0": "nested"}}}
    )
    assert result == {"x": {"100": "top"}}


def test_replace_ignorecase_folds_like_a_js_regexp():
    # The RegExp `i` flag (without `u`) does not fold ſ (long s) to s, nor K (Kelvin) to k; Python's re would.
    m = {"x": {"@replace": {"pattern": "s", "replacement": "_", "ignorecase": True, "value": {"@path": "$.v"}}}}
    assert transform(m, {"v": "SsſẞßS"}) == {"x": "__ſẞß_"}


def test_public_names():
    assert set(mapping_kit.__all__) == {
        "CompiledMapping",
        "MISSING",
        "MappingError",
        "MappingValidationError",
        "compile",
        "transform",
        "validate",
    }
