"""Differential property test: our transform against Segment's (`@segment/actions-core@3.170.0` + liquidjs
10.30.1 under node) on generated mappings and events.

Each example is one generated mapping (all 13 directives, nested three deep, valid and invalid) applied to
up to three generated events, sent to the oracle in one batch. Outputs must print identically (as JS
prints them), validation failures must carry identical messages, runtime failures must be runtime failures
on both sides (with Segment's message, except for `@liquid`, whose parser and limits word errors their own way).
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.mapping.compare import as_text, outcome, reference_replies, same
from tests.mapping.strategies import events, mappings

EXAMPLES = 3000
EXPLORE = int(os.environ.get("MAPPING_EXPLORE", "0"))
"""CI runs a fixed seed (reproducible, like the FQL differential tests); MAPPING_EXPLORE=N runs N times the
examples from fresh random seeds."""


@pytest.mark.oracle
@settings(
    max_examples=EXAMPLES * max(EXPLORE, 1),
    deadline=None,
    derandomize=not EXPLORE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mapping=mappings(), batch=st.lists(events(), min_size=1, max_size=3))
def test_transform_matches_segment(oracle, mapping, batch):
    cases = [{"mapping": mapping, "event": event} for event in batch]
    references = reference_replies(oracle, cases)
    liquid = "@liquid" in json.dumps(mapping)
    for case, reference in zip(cases, references):
        ours = outcome(case["mapping"], case["event"])
        event(f"outcome: {ours['error']['kind'] if 'error' in ours else 'output'}")
        assert same(ours, reference, runtime_messages=not liquid), (
            json.dumps(case, ensure_ascii=False),
            as_text(ours),
            as_text(reference),
        )
