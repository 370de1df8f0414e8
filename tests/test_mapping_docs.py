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
    used = {key for example in EXAMPLES for key in re.findall(r'"(@[a-zA-Z]+|__segment_internal_directive)"',
                                                                json.dumps(example["mapping"]))}
    assert used >= {"@path", "@template", "@if", "@case", "@replace", "@arrayPath", "@literal", "@flatten", "@json",
                    "@merge", "@transform", "@excludeWhenNull", "@liquid", "__segment_internal_directive"}


@pytest.mark.oracle
@pytest.mark.parametrize("example", EXAMPLES, ids=[next(iter(e["mapping"])) for e in EXAMPLES])
def test_documented_example(oracle, example):
    assert transform(example["mapping"], example["event"]) == example["result"]
    assert oracle.call("mapping.transform", mapping=example["mapping"], event=example["event"]) == {
        "output": example["result"]}
