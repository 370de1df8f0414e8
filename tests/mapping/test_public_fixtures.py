"""Every case of the public conformance corpus (`@segment/actions-core@3.170.0` outputs) passes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES
from tests.mapping.compare import as_text, outcome, same

CORPUS = json.loads((FIXTURES / "mapping-public.json").read_text(encoding="utf-8"))
CASES = CORPUS["cases"]


def test_corpus_is_the_pinned_reference():
    assert CORPUS["reference"] == "@segment/actions-core@3.170.0"
    assert len(CASES) == 284


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['category']}" for i, c in enumerate(CASES)])
def test_public_case(case):
    ours = outcome(case["mapping"], case["event"])
    # Runtime messages are Segment's too (the corpus has no @liquid runtime failures).
    assert same(ours, case["expect"]), (as_text(ours), as_text(case["expect"]))
