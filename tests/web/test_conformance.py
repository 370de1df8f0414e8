"""One semantics, two runtimes: the plugin's in-page evaluators give Segment's results, case for case.

Each corpus runs through the ES modules ("source") and through the same modules built the way the shipped
bundle is built ("bundle": minified, lowered to es2017), so both what we wrote and what browsers run are held to
the reference.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.web.generators import DIRECTIVES, Generator, condition_grid, directives_in, grid_events

IMPLS = ("source", "bundle")
RANDOM_SEED = 5
RANDOM_MAPPINGS = 3000
RANDOM_TRIGGERS = 2000
RANDOM_TRIGGER_EVENTS = 24


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / name).read_text())["cases"]


def has_liquid(mapping: Any) -> bool:
    return "@liquid" in json.dumps(mapping)


def ordered(value: Any) -> str:
    """JSON text with key order kept: outputs must match exactly, order included."""
    return json.dumps(value, ensure_ascii=False)


FQL_ACCEPT = [c for c in load("fql-public.json") if c["category"] == "accept"]
MAPPING_CASES = [c for c in load("mapping-public.json") if not has_liquid(c["mapping"])]
MAPPING_RUNS = [c for c in MAPPING_CASES if c["category"] != "invalid"]
MAPPING_INVALID = [c for c in MAPPING_CASES if c["category"] == "invalid"]


def test_corpora_are_not_shrinking():
    # The coverage reported in docs/web.md: 220 ASTs / 2,200 evaluations, 258 runs, 25 invalid mappings.
    assert len(FQL_ACCEPT) >= 220
    assert sum(len(c["events"]) for c in FQL_ACCEPT) >= 2200
    assert len(MAPPING_RUNS) >= 258
    assert len(MAPPING_INVALID) >= 25


@pytest.mark.parametrize("impl", IMPLS)
def test_fql_accept_cases_match_segment(plugin_runner, impl):
    cases = [{"ast": c["ast"], "events": [e["event"] for e in c["events"]]} for c in FQL_ACCEPT]
    results = plugin_runner.call("fql.matchMany", impl=impl, cases=cases)
    wrong = [
        (case["fql"], expected["event"], expected["match"], got)
        for case, got_list in zip(FQL_ACCEPT, results, strict=True)
        for expected, got in zip(case["events"], got_list, strict=True)
        if got != expected["match"]
    ]
    assert wrong == []


@pytest.mark.parametrize("impl", IMPLS)
def test_mapping_cases_match_segment(plugin_runner, impl):
    results = plugin_runner.call(
        "mapping.transformMany", impl=impl, cases=[{"mapping": c["mapping"], "event": c["event"]} for c in MAPPING_RUNS]
    )
    outputs = errors = 0
    wrong = []
    for case, got in zip(MAPPING_RUNS, results, strict=True):
        expect = case["expect"]
        if "output" in expect:
            outputs += 1
            ok = "output" in got and ordered(json.loads(got["output"])) == ordered(expect["output"])
        else:
            errors += 1
            assert expect["error"]["kind"] == "runtime"
            # Segment's runtime message, word for word.
            ok = got.get("error", {}).get("messages") == expect["error"]["messages"]
        if not ok:
            wrong.append((case["mapping"], case["event"], expect, got))
    assert wrong == []
    assert outputs >= 243 and errors >= 15


def test_invalid_mappings_are_validation_failures_for_segment(oracle):
    """These never reach the browser: the server's mapping engine rejects them before publishing.

    Here the reference confirms they are validation failures (not run-time ones) with exactly the fixture's
    messages, and that the publish check the plugin relies on (tests/oracle `mapping.checkMany`) refuses them.
    """
    for case in MAPPING_INVALID:
        reply = oracle.call("mapping.transform", mapping=case["mapping"], event=case["event"])
        assert reply == {"error": case["expect"]["error"]}, case["mapping"]
        assert case["expect"]["error"]["kind"] == "validation"
    checks = oracle.call("mapping.checkMany", mappings=[c["mapping"] for c in MAPPING_INVALID])
    assert all(messages for messages in checks)


def random_mapping_cases(seed: int, count: int) -> list[dict[str, Any]]:
    gen = Generator(seed)
    return [{"mapping": gen.mapping(), "event": gen.event()} for _ in range(count)]


@pytest.fixture(scope="module")
def random_mappings(oracle) -> dict[str, Any]:
    """Seeded random mappings, Segment's results for them, and which of them a server could publish."""
    cases = random_mapping_cases(RANDOM_SEED, RANDOM_MAPPINGS)
    checks = oracle.call("mapping.checkMany", mappings=[c["mapping"] for c in cases])
    publishable = [c for c, messages in zip(cases, checks, strict=True) if messages is None]
    expected = oracle.call("mapping.transformMany", cases=publishable)
    return {"all": cases, "cases": publishable, "expected": expected}


@pytest.mark.parametrize("impl", IMPLS)
def test_random_mappings_match_segment(plugin_runner, random_mappings, impl):
    cases, expected = random_mappings["cases"], random_mappings["expected"]
    got = plugin_runner.call("mapping.transformMany", impl=impl, cases=cases)
    wrong = []
    for case, want, have in zip(cases, expected, got, strict=True):
        if "output" in want:
            same = "output" in have and ordered(json.loads(have["output"])) == ordered(want["output"])
        else:
            same = want["error"]["kind"] == "runtime" and have.get("error") == want["error"]
        if not same:
            wrong.append((case, want, have))
    assert not wrong, wrong[:3]


def test_random_mapping_corpus_is_broad(random_mappings):
    """The generator really exercises the directives and both outcomes (so 'all identical' means something)."""
    cases, expected = random_mappings["cases"], random_mappings["expected"]
    assert len(cases) >= 0.6 * RANDOM_MAPPINGS
    assert len(random_mappings["all"]) - len(cases) >= 100, "invalid mappings are generated too (and set aside)"
    errors = sum("error" in e for e in expected)
    assert errors >= 150 and len(cases) - errors >= 1500
    usage = {name: sum(name in directives_in(c["mapping"]) for c in cases) for name in DIRECTIVES}
    assert min(usage.values()) >= 100, usage
    assert sum("__segment_internal_directive" in c["mapping"] for c in cases) >= 30


@pytest.fixture(scope="module")
def random_triggers(oracle) -> dict[str, Any]:
    """Seeded random groups of conditions (nesting, and/or/unknown connectives, empty groups) and Segment's answers."""
    gen = Generator(RANDOM_SEED)
    asts = [gen.trigger() for _ in range(RANDOM_TRIGGERS)]
    events = [gen.event() for _ in range(RANDOM_TRIGGER_EVENTS)]
    return {"asts": asts, "events": events, "expected": oracle.call("fql.matchGrid", asts=asts, events=events)}


@pytest.mark.parametrize("impl", IMPLS)
def test_random_triggers_match_segment(plugin_runner, random_triggers, impl):
    expected = random_triggers["expected"]
    asts, events = random_triggers["asts"], random_triggers["events"]
    assert plugin_runner.call("fql.matchGrid", impl=impl, asts=asts, events=events) == expected
    flat = [r for results in expected for r in results]
    assert len(flat) == RANDOM_TRIGGERS * RANDOM_TRIGGER_EVENTS
    assert 0.1 < sum(r is True for r in flat) / len(flat) < 0.9, "both outcomes are well represented"


@pytest.mark.parametrize("impl", IMPLS)
def test_every_condition_kind_matches_segment(oracle, plugin_runner, impl):
    """Each field kind x operator x value (x names), alone in a trigger, against events holding every value."""
    asts = condition_grid()
    events = grid_events(Generator(RANDOM_SEED))
    expected = oracle.call("fql.matchGrid", asts=asts, events=events)
    got = plugin_runner.call("fql.matchGrid", impl=impl, asts=asts, events=events)
    wrong = [
        (ast, event, want, have)
        for ast, wants, haves in zip(asts, expected, got, strict=True)
        for event, want, have in zip(events, wants, haves, strict=True)
        if want != have
    ]
    assert not wrong, wrong[:5]
    flat = [r for row in expected for r in row]
    assert sum(r is True for r in flat) >= 10_000 and sum(r is False for r in flat) >= 10_000
