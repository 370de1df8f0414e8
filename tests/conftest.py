"""Shared fixtures: the node oracle (Segment's packages) and paths to fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.oracle import NodeOracle  # noqa: E402


@pytest.fixture(scope="session")
def oracle() -> NodeOracle:
    """Segment's destination-subscriptions and actions-core under node, shared by the whole run."""
    with NodeOracle() as node:
        assert node.call("ping") == "pong"
        yield node
