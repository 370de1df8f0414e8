"""Real Segment clients against `actions-1flow serve` (a subprocess on loopback) feeding the 1Flow sandbox.

One server per module; each test tags its events with its own `run` id and counts, in what the sandbox received,
exactly the events the client was told were accepted.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers.sandbox import SandboxServer
from tests.helpers.server import ServeProcess, cloud_config

SOURCES = [
    {"name": "python", "write_key": "wk_python"},
    {"name": "node", "write_key": "wk_node"},
    {"name": "limited", "write_key": "wk_limited", "rate_limit": {"events_per_second": 100, "burst": 100}},
]


@pytest.fixture(scope="module")
def tracking_server(sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory):
    """`serve` with sources python and node → one cloud-mode 1Flow destination → the session's sandbox."""
    directory = tmp_path_factory.mktemp("serve")
    config = cloud_config(directory, sandbox_server.api_url(), SOURCES, body_timeout=1)
    server = ServeProcess(config, directory / "serve.log", "--log-level", "warning")
    yield server
    assert server.stop() in (0, -15), server.log_text()
    assert "Traceback" not in server.log_text(), server.log_text()


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:12]


def delivered(sandbox: SandboxServer, run: str) -> Counter[tuple[str, str, Any]]:
    """(1Flow type, event name or user id, n) of every item the sandbox accepted that mentions `run`."""
    found: Counter[tuple[str, str, Any]] = Counter()
    for call in sandbox.calls("http"):
        if call.get("status") != 200 or not isinstance(call.get("body"), dict):
            continue
        body = call["body"]
        items = body["batch"] if call["endpoint"] == "batch" else [{"type": call["endpoint"], **body}]
        for item in items:
            data = item.get("properties") if item["type"] == "track" else item.get("traits")
            if isinstance(data, dict) and run in json.dumps(data):  # a field or, for a page view, its URL
                name = item.get("event") if item["type"] == "track" else item.get("user_id")
                found[(item["type"], name, data.get("n"))] += 1
    return found


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout}s")


def wait_for_delivery(sandbox: SandboxServer, run: str, expected: Counter[tuple[str, str, Any]]) -> None:
    """Until the sandbox has every expected item; then a moment more, to catch any extra (duplicated) delivery."""
    wait_for(
        lambda: sum(delivered(sandbox, run).values()) >= sum(expected.values()), what="delivery of every accepted event"
    )
    time.sleep(0.5)
    assert delivered(sandbox, run) == expected
