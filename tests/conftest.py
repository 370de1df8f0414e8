"""Shared fixtures: the node oracle (Segment's packages) and paths to fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Property tests run on a fixed seed, so a CI run is reproducible; HYPOTHESIS_PROFILE=explore draws fresh examples
# (that is how new differences with Segment are looked for, before they become fixed cases).
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

from tests.helpers.browser import Site, launch_chromium  # noqa: E402
from tests.oracle import NodeOracle  # noqa: E402


@pytest.fixture(scope="session")
def oracle() -> NodeOracle:
    """Segment's destination-subscriptions and actions-core under node, shared by the whole run."""
    with NodeOracle() as node:
        assert node.call("ping") == "pong"
        yield node


# --- the 1Flow sandbox ------------------------------------------------------------------------------------------

from tests.helpers.sandbox import InProcessSandbox, SandboxServer  # noqa: E402


@pytest.fixture
def sandbox() -> InProcessSandbox:
    """A fresh in-process 1Flow sandbox (keys from tests.helpers.sandbox); reach it with `sandbox.client(...)`."""
    return InProcessSandbox()


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory):
    """`actions-1flow sandbox` running as a subprocess for the whole session (log in `sandbox_server.log_path`)."""
    server = SandboxServer(tmp_path_factory.mktemp("sandbox") / "sandbox.log")
    yield server
    server.stop()


@pytest.fixture
def live_sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The session's sandbox subprocess, with calls and faults reset before the test."""
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium (headless, offline but for 127.0.0.1), one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site():
    """A customer's site on an origin of its own (`site.add(path, html)` serves a page)."""
    site = Site()
    yield site
    site.stop()
