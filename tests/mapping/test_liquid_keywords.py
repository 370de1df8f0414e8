"""Liquid's keywords as names (issue 29): every case of `tests/fixtures/liquid-keywords.json` renders as Segment's
liquidjs renders it, but for the one documented difference (an operator word standing alone where a value goes)."""

from __future__ import annotations

import json

import pytest

from actions_1flow.mapping import MappingError, transform
from tests.mapping.compare import as_text, outcome, reference_replies, same
from tests.mapping.liquid_keywords import EVENTS, FIXTURE, KEYWORDS, OPERATORS, REFERENCE, SHAPES, cases, mapping

CORPUS = json.loads(FIXTURE.read_text(encoding="utf-8"))
CASES = CORPUS["cases"]
FIELDS = ("keyword", "template", "event", "category")


def test_fixture_holds_every_generated_case():
    assert CORPUS["reference"] == REFERENCE and CORPUS["events"] == EVENTS
    assert [{k: c[k] for k in FIELDS} for c in CASES] == cases()
    assert len(CASES) == len(SHAPES) * len(KEYWORDS) * len(EVENTS) == 1914
    assert sum(c["category"] == "operator-alone" for c in CASES) == 84


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_keyword_reads_as_segment_reads_it(keyword):
    mine = [c for c in CASES if c["keyword"] == keyword and c["category"] == "identical"]
    mismatches = [
        (case["template"], case["event"], as_text(ours), as_text(case["expect"]))
        for case in mine
        if not same(ours := outcome(mapping(case), EVENTS[case["event"]]), case["expect"], runtime_messages=False)
    ]
    assert mismatches == []
    shapes = sum(not (alone and keyword in OPERATORS) for _, alone in SHAPES)
    assert len(mine) == shapes * len(EVENTS)
    assert sum("error" in c["expect"] for c in mine) == 6  # only the disabled `case` and `for` fail, on both sides


def test_the_issues_examples():
    assert transform({"f": {"@liquid": "{{ properties.empty }}"}}, {"properties": {"empty": []}}) == {"f": ""}
    assert transform({"f": {"@liquid": "{{ properties.limit }}"}}, {"properties": {"limit": 10}}) == {"f": "10"}
    assert transform({"f": {"@liquid": "{{ limit }}"}}, {"limit": 10}) == {"f": "10"}
    assert transform({"f": {"@liquid": "{{ properties.if }}"}}, {"properties": {"if": "x"}}) == {"f": "x"}
    assert transform({"f": {"@liquid": "{{ empty }}{{ blank }}"}}, {}) == {"f": ""}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["category"] == "operator-alone"], ids=lambda c: f"{c['template']}-{c['event']}"
)
def test_difference_operator_word_alone_is_refused_with_the_fix(case):
    """liquidjs reads `and`, `or`, `contains`, `not` as the operator wherever an expression may hold one, even where
    a value must stand, and applies it to nothing (`{{ and }}` prints `false`): the variable is never read. Here
    that is an error that says how to read it."""
    assert "output" in case["expect"]
    word = case["keyword"]
    with pytest.raises(MappingError, match=rf"^'{word}' is an operator \(.*\) with no value (before|after) it; "):
        transform(mapping(case), EVENTS[case["event"]])
    with pytest.raises(MappingError, match=rf"to read a variable named {word}, write \['{word}'\]$"):
        transform(mapping(case), EVENTS[case["event"]])


@pytest.mark.oracle
@pytest.mark.parametrize("word", OPERATORS)
def test_the_fix_reads_the_variable_at_segment_too(oracle, word):
    templates = [
        f"{{{{ ['{word}'] }}}}",
        f"{{% if ['{word}'] == 'v' %}}T{{% endif %}}",
        f"{{% assign x = ['{word}'] | upcase %}}{{{{ x }}}}",
    ]
    cases_ = [{"mapping": {"x": {"@liquid": t}}, "event": {word: "v"}} for t in templates]
    references = reference_replies(oracle, cases_)
    assert references == [{"output": {"x": "v"}}, {"output": {"x": "T"}}, {"output": {"x": "V"}}]
    assert [outcome(c["mapping"], c["event"]) for c in cases_] == references


@pytest.mark.oracle
def test_fixture_is_what_segment_gives_today(oracle):
    """The fixture is the installed reference's output, message for message."""
    references = reference_replies(oracle, [{"mapping": mapping(c), "event": EVENTS[c["event"]]} for c in CASES])
    assert [c["expect"] for c in CASES] == references
