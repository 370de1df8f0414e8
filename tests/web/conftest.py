"""The web plugin's own modules under node (tests/web/runner.mjs), beside the reference oracle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle import NodeOracle

RUNNER = Path(__file__).with_name("runner.mjs")


@pytest.fixture(scope="session")
def plugin_runner() -> NodeOracle:
    """The plugin's evaluators and lifecycle scenarios, one node process for the whole run."""
    with NodeOracle(script=RUNNER) as node:
        assert node.call("ping") == "pong"
        yield node
