"""The examples in docs/mapping.md give the documented result, here and in Segment's engine."""

from __future__ import annotations

import json
import re

import pytest

from actions_1flow.mapping import transform
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "mapping.md").read_text(encoding="utf-8")
EXAMPLES = [json.loads(block) for block in re.findall(r"```json example\n(.*?)```", DOC, re.DOTALL)]


def test_every_directive_has_an_example():
    used = {
        key
        for example in EXAMPLES
        for key in re.findall(r'"(@[a-zA-Z]+|__segment_internal_directive)"', json.dumps(example["mapping"]))
    }
    assert used >= {
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
        "__segment_internal_directive",
    }


@pytest.mark.oracle
@pytest.mark.parametrize("example", EXAMPLES, ids=[next(iter(e["mapping"])) for e in EXAMPLES])
def test_documented_example(oracle, example):
    assert transform(example["mapping"], example["event"]) == example["result"]
    assert oracle.call("mapping.transform", mapping=example["mapping"], event=example["event"]) == {
        "output": example["result"]
    }


# --- the differences listed under "Differences from Segment" ----------------------------------------------------


@pytest.mark.oracle
def test_difference_js_object_internals(oracle):
    mapping = {"x": {"@path": "$.a"}, "__proto__": {"@path": "$.b"}, "c": {"@path": "$.constructor.name"}}
    event = {"a": {"__proto__": 5, "k": 1}, "b": 2}
    assert oracle.call("mapping.transform", mapping=mapping, event=event) == {"output": {"x": {"k": 1}, "c": "Object"}}
    assert transform(mapping, event) == {"x": {"__proto__": 5, "k": 1}, "__proto__": 2}


@pytest.mark.oracle
def test_difference_large_integers_pass_through_exactly(oracle):
    mapping = {"n": {"@path": "$.n"}, "text": {"@template": "{{n}}"}}
    event = {"n": 2**53 + 1}
    assert oracle.call("mapping.transform", mapping=mapping, event=event) == {
        "output": {"n": 2**53, "text": "9007199254740992"}
    }
    assert transform(mapping, event) == {"n": 2**53 + 1, "text": "9007199254740992"}
