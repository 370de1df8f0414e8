"""The plugin's lifecycle under node with a fake DOM (tests/web/lifecycle.mjs), one pytest test per scenario.

Covers: script injection with data-api-key, readiness that ignores stubs, queue then flush, the load deadline
(one report, nothing after), both SDK call forms, no Identify without a userId, triggers and mappings from the
settings, disabled subscriptions, error reports, and the plugins inside stock analytics-next's own queue.
Real-browser tests live with the server (Chromium end to end).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

LIFECYCLE = Path(__file__).with_name("lifecycle.mjs")


def scenario_names() -> list[str]:
    """The scenarios lifecycle.mjs exports, read once at collection time."""
    script = (
        f"import {{ scenarios }} from {json.dumps(LIFECYCLE.as_uri())};"
        "console.log(JSON.stringify(Object.keys(scenarios)))"
    )
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


SCENARIOS = scenario_names()


def test_all_scenarios_are_collected(plugin_runner):
    assert len(SCENARIOS) >= 25
    assert plugin_runner.call("lifecycle.list") == SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
def test_lifecycle(plugin_runner, name):
    result = plugin_runner.call("lifecycle.run", name=name)
    assert result["passed"], result.get("message")
