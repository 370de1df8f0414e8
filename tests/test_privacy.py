"""The consent verdict and privacy.drop of the engine against the cases shared with the browser plugin."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from actions_1flow.config import ConsentConfig
from actions_1flow.privacy import consent_verdict, drop_paths

CASES = json.loads((Path(__file__).parent / "fixtures" / "consent-cases.json").read_text())


@pytest.mark.parametrize("case", CASES["consent"], ids=lambda c: json.dumps(c, separators=(",", ":"))[:90])
def test_consent_verdict_follows_the_shared_cases(case):
    for rule in (case["consent"], None if case["consent"] is None else ConsentConfig(**case["consent"])):
        reason = consent_verdict(case["event"], rule)
        assert ("allow" if reason is None else "deny") == case["verdict"]
        assert reason is None or reason.startswith("consent: ")


def test_the_reason_names_what_is_missing():
    rule = ConsentConfig(categories=["C0002", "C0004"])
    assert consent_verdict({"type": "track"}, rule) == "consent: no consent stamp (context.consent.categoryPreferences)"
    stamped = {"context": {"consent": {"categoryPreferences": {"C0002": True, "C0004": False}}}}
    assert consent_verdict(stamped, rule) == "consent: C0004 not granted"


@pytest.mark.parametrize("case", CASES["drop"], ids=lambda c: ",".join(c["paths"]))
def test_drop_paths_follows_the_shared_cases_and_never_changes_the_input(case):
    before = copy.deepcopy(case["event"])
    assert drop_paths(case["event"], case["paths"]) == case["result"]
    assert case["event"] == before


def test_drop_paths_shares_what_it_does_not_change():
    event = {"traits": {"email": "a@b.c"}, "properties": {"big": list(range(10))}}
    out = drop_paths(event, ["traits.email", "traits.phone"])
    assert out == {"traits": {}, "properties": {"big": list(range(10))}}
    assert out["properties"] is event["properties"] and event["traits"] == {"email": "a@b.c"}
