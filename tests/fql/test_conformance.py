"""Every case of the public conformance fixtures (Segment's own outputs for destination-subscriptions 3.37.0)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actions_1flow import fql
from tests.conftest import FIXTURES

CASES: list[dict[str, Any]] = json.loads((FIXTURES / "fql-public.json").read_text(encoding="utf-8"))["cases"]
ACCEPT = [case for case in CASES if case["category"] == "accept"]
REJECT = [case for case in CASES if case["category"] == "reject"]


def test_fixture_inventory() -> None:
    assert (len(ACCEPT), len(REJECT)) == (220, 47)


@pytest.mark.parametrize("case", ACCEPT, ids=[case["fql"] for case in ACCEPT])
def test_accepted_text_gives_segments_ast_and_matches(case: dict[str, Any]) -> None:
    subscription = fql.parse(case["fql"])
    assert subscription.ast == case["ast"]
    assert subscription.text == case["fql"]
    assert [subscription.matches(e["event"]) for e in case["events"]] == [e["match"] for e in case["events"]]


@pytest.mark.parametrize("case", REJECT, ids=[f"{case['why']}:{case['fql']}" for case in REJECT])
def test_rejected_text_raises_syntax_error(case: dict[str, Any]) -> None:
    with pytest.raises(fql.FQLSyntaxError) as caught:
        fql.parse(case["fql"])
    assert 0 <= caught.value.position <= len(case["fql"])
    assert caught.value.text == case["fql"]


SEGMENT_ASTS = [case for case in REJECT if "ast" in case["segment"]]
EVENT_POOL = [e["event"] for case in ACCEPT[:40] for e in case["events"]]


@pytest.mark.oracle
@pytest.mark.parametrize("case", SEGMENT_ASTS, ids=[case["fql"] for case in SEGMENT_ASTS])
def test_compile_ast_evaluates_segments_misreadings_as_segment_does(oracle, case: dict[str, Any]) -> None:
    """compile_ast takes any AST Segment produced, quirks included (op "<" with value "=", NaN read back as null)."""
    ast = case["segment"]["ast"]
    expected = oracle.call("fql.match", ast=ast, events=EVENT_POOL)
    subscription = fql.compile_ast(ast)
    assert [subscription.matches(event) for event in EVENT_POOL] == expected
