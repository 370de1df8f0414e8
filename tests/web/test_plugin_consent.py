"""The plugin's consent verdict and privacy.drop (web/consent.js) on the shared cases the Python engine also passes
(tests/fixtures/consent-cases.json), as source and as built into the bundle browsers run."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT

CASES = json.loads((ROOT / "tests/fixtures/consent-cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("impl", ["source", "bundle"])
def test_consent_verdicts_match_the_shared_cases(plugin_runner, impl):
    got = plugin_runner.call("consent.verdictMany", impl=impl, cases=CASES["consent"])
    assert got == [case["verdict"] for case in CASES["consent"]]
    assert {"allow", "deny"} <= set(got)


@pytest.mark.parametrize("impl", ["source", "bundle"])
def test_privacy_drop_matches_the_shared_cases_and_never_mutates(plugin_runner, impl):
    got = plugin_runner.call("privacy.dropMany", impl=impl, cases=CASES["drop"])
    for case, outcome in zip(CASES["drop"], got, strict=True):
        assert outcome["result"] == case["result"], case
        # Key order too: the mapping sees the event in its original order.
        assert list(outcome["result"]) == list(case["result"])
        assert outcome["unchanged"] and outcome["copied"], case
