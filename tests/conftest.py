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
from tests.helpers.engines import ENGINES, Engine  # noqa: E402
from tests.helpers.engines import launch as launch_engine  # noqa: E402
from tests.oracle import NodeOracle  # noqa: E402

LONG_FILES = (
    "tests/faults/test_scaleout.py",
    "tests/pipeline/test_backfill.py",
    "tests/fql/test_differential.py",
    "tests/mapping/test_differential.py",
    "tests/faults/test_crash.py",
    "tests/console/test_console_browser.py",
    "tests/pipeline/test_store.py",
    "tests/server/test_device_mode_browser.py",
    "tests/mapping/test_fuzz.py",
    "tests/admin/test_preview_bounds.py",
    "tests/server/test_connection_limits.py",
)
"""The files that take longest (see `make test`'s slowest durations), run first, longest first: with `--dist loadfile
--no-loadscope-reorder` (the Makefile) xdist hands files out in this order, so no long file starts last while the
other worker has nothing left to do."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(LONG_FILES)))  # stable: the rest as is


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on asyncio only, the loop the package is written for. (trio is installed too, as Selenium's
    dependency, and anyio's pytest plugin would otherwise run every async test on it as well.)"""
    return "asyncio"


@pytest.fixture(scope="session")
def oracle() -> NodeOracle:
    """Segment's destination-subscriptions and actions-core under node, shared by the whole run."""
    with NodeOracle() as node:
        assert node.call("ping") == "pong"
        yield node


# --- the 1Flow sandbox ------------------------------------------------------------------------------------------

from tests.helpers.sandbox import InProcessSandbox, SandboxServer  # noqa: E402


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL 15 cluster for the whole run (Debian's; stopped by PID at the end)."""
    from tests.helpers.postgres import PostgresCluster

    cluster = PostgresCluster().start()
    yield cluster
    cluster.kill()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A fresh, empty database of the session's cluster."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


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
    """Debian's Chromium (headless, offline but for 127.0.0.1) through Playwright, one per test module (a test opens
    a context of its own). Not longer: Playwright's sync API keeps an asyncio loop running in the thread while it
    is open, which breaks the `asyncio.run` and trio of tests that run after it in the same worker."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def engines():
    """Firefox and WebKit (tests/helpers/engines), each launched when a test first asks for it and kept for the run
    (they run in processes of their own, outside this thread's event loop)."""
    launched: dict[str, Engine] = {}

    def get(name: str) -> Engine:
        if name not in launched:
            launched[name] = launch_engine(name)
        return launched[name]

    yield get
    for engine in launched.values():
        engine.close()


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest, engines) -> Engine:
    """Each engine in turn (Chromium, Firefox, WebKit): a test that takes it is one scenario run in all three."""
    if request.param == "chromium":
        return launch_engine("chromium", request.getfixturevalue("chromium"))  # the module's Playwright browser
    return engines(request.param)


@pytest.fixture(scope="module")
def site():
    """A customer's site on an origin of its own (`site.add(path, html)` serves a page)."""
    site = Site()
    yield site
    site.stop()


# --- the whole-run secrets scan (tests/helpers/secret_scan.py) -------------------------------------------------

import actions_1flow.config as _config_module  # noqa: E402
import actions_1flow.config.load as _config_load  # noqa: E402
from tests.helpers.sandbox import ALL_KEYS  # noqa: E402
from tests.helpers.secret_scan import SCAN  # noqa: E402
from tests.helpers.secret_scan import report as _scan_report  # noqa: E402

for _key in ALL_KEYS:
    SCAN.add_secret(_key, "a sandbox Project API Key")
_parse_config = _config_module.parse_config


def _recording_parse_config(text, file="<config>", env=None, **options):
    """`parse_config`, remembering the secrets of every configuration a test builds (wrapped before any test
    module imports it, so in-process configurations are scanned for too)."""
    config = _parse_config(text, file, env, **options)
    SCAN.add_config(config.spec.model_dump(), str(file))
    for dest in config.destinations:
        for secret in dest.settings.secrets():
            SCAN.add_secret(secret.get_secret_value(), f"a secret setting of {dest.name} in {file}")
    return config


_config_module.parse_config = _config_load.parse_config = _recording_parse_config  # load_config calls it too


@pytest.fixture(scope="session", autouse=True)
def _scan_run_directory(tmp_path_factory: pytest.TempPathFactory):
    """At the end of the run, the configurations and logs the tests left in the temporary directory."""
    yield
    SCAN.add_directory(tmp_path_factory.getbasetemp())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, text in report.sections:  # captured stdout, stderr and log records of each phase
        SCAN.add_text(text, f"{report.nodeid} ({name})")


_SCAN_DIR = "ACTIONS_1FLOW_SECRET_SCAN_DIR"
"""With pytest-xdist (`make test` runs two workers), each worker scans what its tests configured and left behind and
leaves its verdict in this directory; the controller adds them up, so the run fails on a hit in any worker."""


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and _SCAN_DIR not in os.environ:
        import tempfile

        os.environ[_SCAN_DIR] = tempfile.mkdtemp(prefix="actions-1flow-secret-scan-")  # inherited by the workers
        config._secret_scan_dir_made = True  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import json

    hits = SCAN.hits()
    scan_dir = Path(os.environ.get(_SCAN_DIR, "."))
    worker = getattr(session.config, "workerinput", None)
    if worker is not None:  # an xdist worker: report to the controller
        verdict = {
            "secrets": len(SCAN.secrets),
            "texts": len(SCAN.texts),
            "report": _scan_report(hits) if hits else None,
        }
        (scan_dir / f"{worker['workerid']}.json").write_text(json.dumps(verdict))
        return
    reports = [_scan_report(hits)] if hits else []
    for path in sorted(scan_dir.glob("*.json")):
        verdict = json.loads(path.read_text())
        SCAN.worker_totals.append((verdict["secrets"], verdict["texts"]))
        if verdict["report"]:
            reports.append(f"[{path.stem}] {verdict['report']}")
        path.unlink()
    if getattr(session.config, "_secret_scan_dir_made", False):
        scan_dir.rmdir()  # made by this run's controller, emptied above
    if reports:
        session.config._secret_scan_report = "\n".join(reports)  # type: ignore[attr-defined]
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    text = getattr(config, "_secret_scan_report", None)
    if text:
        terminalreporter.write_line(text, red=True)
    else:
        secrets = len(SCAN.secrets) + sum(n for n, _ in SCAN.worker_totals)
        texts = len(SCAN.texts) + sum(n for _, n in SCAN.worker_totals)
        where = f" (this process and {len(SCAN.worker_totals)} worker(s))" if SCAN.worker_totals else ""
        terminalreporter.write_line(
            f"secrets scan: {secrets} secret(s) looked for in {texts} log(s) and output(s){where}: none found"
        )
