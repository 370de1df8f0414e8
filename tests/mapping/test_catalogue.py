"""One test per row of the spec's §8.1 mapping-kit edge-case catalogue (observed outputs of Segment's transform)."""

from __future__ import annotations

import pytest

from actions_1flow.mapping import MappingError, MappingValidationError, transform


def runtime(message: str) -> tuple[str, str]:
    return ("runtime", message)


def invalid(*messages: str) -> tuple[str, list[str]]:
    return ("validation", list(messages))


IF_BLANK = {"x": {"@if": {"blank": {"@path": "$.a"}, "then": "y", "else": "n"}}}

CATALOGUE = [
    ("M1", {"x": {"@path": "$.a.b"}}, {"a": None}, {"x": None}),
    ("M2", {"x": {"@path": "$.a.b"}}, {"a": 0}, {"x": 0}),
    ("M3", {"x": {"@path": "$.a.length"}}, {"a": "abc"}, {"x": 3}),
    ("M4", {"x": {"@path": '$.a["x.y"]'}}, {"a": {"x.y": 3, "x": {"y": 4}}}, {"x": 4}),
    ("M5", {"x": {"@path": "$.a[b]"}}, {"a[b]": 9}, {"x": 9}),
    ("M6", {"x": {"@path": "$.oops"}, "y": None}, {}, {"y": None}),
    ("M7", {"x": [{"@path": "$.m"}, 1]}, {}, {"x": [None, 1]}),
    ("M8", {"@path": ""}, {"foo": "bar"}, {"foo": "bar"}),
    ("M9", {"x": {"@template": "{{a}}"}}, {"a": [1, [2, 3], None, "x"]}, {"x": "1,2,3,,x"}),
    ("M10", {"x": {"@template": "{{a}}"}}, {"a": {"b": 1}}, {"x": "[object Object]"}),
    ("M11", {"x": {"@template": "{{{a}}}"}}, {"a": "{{b}}", "b": "X"}, {"x": "X"}),
    ("M12", {"x": {"@template": "{{$.a}}"}}, {"a": 1}, {"x": ""}),
    ("M13", {"x": {"@template": {"@path": "$.m"}}}, {}, runtime("@template: expected string, got undefined")),
    ("M14", IF_BLANK, {"a": 0}, {"x": "n"}),
    ("M15", IF_BLANK, {"a": " "}, {"x": "y"}),
    ("M16", {"x": {"@if": {"exists": {"@path": "$.a"}, "then": "y", "else": False}}}, {}, {}),
    ("M17", {"x": {"@if": {"exists": False, "then": 1}}}, {}, runtime('@if requires an "exists" key or a "blank" key')),
    (
        "M18",
        {"x": {"@if": {"exists": {"@path": "$.m"}, "blank": {"@path": "$.a"}, "then": 1, "else": 2}}},
        {"a": "v"},
        {"x": 2},
    ),
    ("M19a", {"x": {"@case": {"operator": "title", "value": {"@path": "$.a"}}}}, {"a": 5}, {"x": 5}),
    (
        "M19b",
        {"x": {"@case": {"operator": "title", "value": {"@path": "$.a"}}}},
        {"a": "x"},
        runtime('operator key should have a value of "lower" or "upper"'),
    ),
    (
        "M20",
        {"x": {"@case": {"operator": "upper", "value": 5}}},
        {},
        invalid("/x/@case/value should be a string or a mapping directive but it is a number."),
    ),
    ("M21", {"x": {"@replace": {"pattern": "a", "value": {"@path": "$.m"}}}}, {}, {"x": ""}),
    ("M22", {"x": {"@replace": {"pattern": "a", "value": ""}}}, {}, {}),
    (
        "M23",
        {"x": {"@replace": {"pattern": ".", "replacement": ",", "value": {"@path": "$.a"}}}},
        {"a": 1.5},
        {"x": "1,5"},
    ),
    ("M24", {"x": {"@replace": {"pattern": "b", "replacement": "[$&]", "value": "abc"}}}, {}, {"x": "a[b]c"}),
    (
        "M25",
        {
            "x": {
                "@replace": {
                    "pattern": "true",
                    "replacement": "granted",
                    "pattern2": "false",
                    "replacement2": "denied",
                    "value": {"@path": "$.a"},
                }
            }
        },
        {"a": False},
        {"x": "denied"},
    ),
    (
        "M26",
        {"x": {"@arrayPath": ["$.products", {"id": {"@path": "$.productId"}}]}},
        {"products": {"notAnArray": True}},
        {"x": [{}]},
    ),
    ("M27", {"x": {"@arrayPath": ["$.a", {"v": {"@path": "$.b"}}]}}, {"a": "str"}, {"x": "str"}),
    ("M28", {"x": {"@literal": {"@path": "$.a"}}}, {"a": 1}, {"x": 1}),
    ("M29a", {"x": {"@json": {"mode": "decode", "value": {"@path": "$.a"}}}}, {"a": "NaN"}, {"x": "NaN"}),
    ("M29b", {"x": {"@json": {"mode": "decode", "value": {"@path": "$.a"}}}}, {"a": " 12 "}, {"x": 12}),
    ("M30", {"x": {"@json": {"mode": "encode", "value": None}}}, {}, runtime('@json requires a "value" key')),
    ("M31", {"x": {"@json": {"mode": "encode", "value": {"@path": "$.m"}}}}, {}, {}),
    ("M32", {"x": {"@flatten": {"separator": ".", "value": "abc"}}}, {}, {"x": {"": "abc"}}),
    (
        "M33",
        {"x": {"@flatten": {"separator": "_", "value": {"@path": "$.a"}}}},
        {"a": {"b": {}, "c": [], "d": None, "e": 1}},
        {"x": {"d": None, "e": 1}},
    ),
    ("M34", {"x": {"@merge": {"direction": "right", "objects": [{"a": 1}, {"a": {"@path": "$.m"}}]}}}, {}, {"x": {}}),
    (
        "M35",
        {"x": {"@merge": {"direction": "right", "objects": [{"a": 1}, {"@path": "$.s"}]}}},
        {"s": "hi"},
        {"x": {"0": "h", "1": "i", "a": 1}},
    ),
    ("M36", {"x": {"@merge": {"direction": "LEFT", "objects": [{"a": 1}, {"a": 2}]}}}, {}, {"x": {"a": 2}}),
    (
        "M37",
        {"x": {"@excludeWhenNull": {"@path": "$.a"}}},
        {"a": {"b": [None, {"c": None}], "d": None}},
        {"x": {"b": [None, {"c": None}]}},
    ),
    ("M38", {"x": [{"@oops": 1}]}, {}, runtime("@oops is not a valid directive, got undefined")),
    (
        "M39",
        {"obj": {"@path": "foo.bar", "oops": True}, "hash": {"@template": {}}},
        {},
        invalid(
            "/obj should only have one @-prefixed key but it has 2 keys.",
            "/hash/@template should be a string or a mapping directive but it is an object.",
        ),
    ),
    (
        "M40",
        {"x": {"@merge": {"direction": "right", "objects": [{"a": 1}, 5]}}},
        {},
        invalid("/ should be a object or a mapping directive but it is a number."),
    ),
    ("M41", {"x": {"@liquid": "{{ a }}"}}, {"a": [1, 2, "x"]}, {"x": "12x"}),
    ("M42", {"x": {"@liquid": "{% if a %}T{% else %}F{% endif %}"}}, {"a": 0}, {"x": "T"}),
    ("M43", {"x": {"@liquid": "{{ a | nosuchfilter }}"}}, {"a": "v"}, {"x": "v"}),
    (
        "M44",
        {"x": {"@liquid": "{{ properties.test | sort }}"}},
        {"properties": {"test": [2, 1]}},
        runtime('filter "sort" is disabled'),
    ),
    (
        "M45",
        {
            "x": {
                "@transform": {
                    "apply": {"p": {"@flatten": {"value": {"@path": "$.p"}, "separator": "_"}}},
                    "mapping": {"q": {"@path": "$.p.n_a"}},
                }
            }
        },
        {"p": {"n": {"a": 1}}},
        {"x": {"q": 1}},
    ),
]


@pytest.mark.parametrize("row, mapping, data, expected", CATALOGUE, ids=[row[0] for row in CATALOGUE])
def test_catalogue_row(row, mapping, data, expected):
    if isinstance(expected, tuple) and expected[0] == "validation":
        with pytest.raises(MappingValidationError) as failure:
            transform(mapping, data)
        assert failure.value.messages == expected[1]
    elif isinstance(expected, tuple):
        with pytest.raises(MappingError) as failure:
            transform(mapping, data)
        assert not isinstance(failure.value, MappingValidationError)
        assert str(failure.value) == expected[1]
    else:
        result = transform(mapping, data)
        assert result == expected
        assert repr(result) == repr(expected)  # types too: True is not 1, 1.5 is not "1.5"
