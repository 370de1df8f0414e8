"""A newcomer's first hour (issue 26): `actions-1flow init` writes a configuration that runs as written against the
sandbox, in cloud mode and in device mode (real Chromium), without a warning; its store is the configuration's,
whichever directory a command runs in; the shipped example starts without a warning, and a literal secret in a
readable file still gets one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from actions_1flow.config import load_config
from actions_1flow.config.checks import literal_secrets
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.pipeline import wait_until
from tests.helpers.process import CliProcess, cli_command, free_port
from tests.helpers.sandbox import SandboxServer
from tests.server.test_device_mode_browser import DOCS_SERVER, DOCS_WRITE_KEY, docs_snippet

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "actions-1flow.yaml"
SITE = "http://localhost:3000"
"""The page origin the scaffold's `cors_origins` names (served by Playwright's routing, no server behind it)."""


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli_command(), *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60
    )


def warnings_in(log: str) -> list[str]:
    return [line for line in log.splitlines() if "WARNING" in line or "Traceback" in line]


def init(directory: Path) -> tuple[Path, str]:
    """`actions-1flow init team` in `directory`: the configuration's path and the sandbox key it prints."""
    result = run_cli("init", "team", cwd=directory)
    assert result.returncode == 0 and result.stderr == "", result
    key = re.search(r"^  actions-1flow sandbox --key (\S+)$", result.stdout, re.M)
    assert key is not None, result.stdout
    return directory / "team" / "actions-1flow.yaml", key.group(1)


def env_file(config: Path) -> dict[str, str]:
    lines = config.with_name(".env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_init_writes_a_commented_configuration_and_a_private_env_file(tmp_path, monkeypatch):
    config, key = init(tmp_path)
    dot_env = config.with_name(".env")
    assert (config.stat().st_mode & 0o777, dot_env.stat().st_mode & 0o777) == (0o600, 0o600)
    text = config.read_text(encoding="utf-8")
    assert literal_secrets(yaml.safe_load(text)) == []  # only ${VAR} references
    values = env_file(config)
    assert set(values) == {"ACTIONS_1FLOW_ADMIN_TOKEN", "ONEFLOW_PROJECT_KEY", "ONEFLOW_SANDBOX"}
    assert len(values["ACTIONS_1FLOW_ADMIN_TOKEN"]) >= 40 and values["ONEFLOW_PROJECT_KEY"] == key
    for name in values:
        monkeypatch.delenv(name, raising=False)

    # As written: both destinations at the sandbox, the store beside the file, the console on.
    loaded = load_config(config)
    web, server = loaded.destinations
    assert (web.mode, web.sources, server.mode, server.sources) == ("device", ["web"], "cloud", ["backend"])
    assert web.settings.sdk_url() == "http://127.0.0.1:8787/js/1flow.js"
    assert server.settings.api_base_url() == "http://127.0.0.1:8787/v1"
    assert loaded.storage_path() == config.parent / "var" / "events.db"
    assert loaded.admin is not None and [c.name for c in server.compiled] == ["Track Event", "Identify User"]

    # Going live is one change in .env: the real key, and no ONEFLOW_SANDBOX line. The configuration is unchanged.
    env = dot_env.read_text(encoding="utf-8").replace(key, "1f_live_project_key_0000")
    dot_env.write_text(re.sub(r"^ONEFLOW_SANDBOX=.*\n", "", env, flags=re.M), encoding="utf-8")
    web, server = load_config(config).destinations
    assert web.settings.sdk_url() == "https://1flow.app/js/1flow.js"
    assert server.settings.api_base_url() == "https://api.1flow.app/v1"
    assert server.settings.projectApiKey.get_secret_value() == "1f_live_project_key_0000"

    again = run_cli("init", "team", cwd=tmp_path)  # never overwrites
    assert again.returncode == 2 and "already exist: nothing written" in again.stderr
    assert config.read_text(encoding="utf-8") == text


@pytest.mark.browser
def test_the_scaffold_runs_against_the_sandbox_in_both_modes_and_status_finds_its_store_from_anywhere(tmp_path):
    from playwright.sync_api import sync_playwright

    config, key = init(tmp_path)
    values = env_file(config)
    sources = {s["name"]: s["write_key"] for s in yaml.safe_load(config.read_text())["sources"]}
    sandbox = SandboxServer(tmp_path / "sandbox.log", keys=[key], log_level="warning")
    port = free_port()
    # Started from tmp_path with a relative --config (the store is still beside the file); the sandbox's port is
    # a free one, so ONEFLOW_SANDBOX comes from the environment, which wins over .env.
    serve = CliProcess(
        ["serve", "--config", "team/actions-1flow.yaml", "--port", str(port)],
        tmp_path / "serve.log",
        cwd=tmp_path,
        env={"ONEFLOW_SANDBOX": sandbox.url},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        serve.wait_answering(url + "/health")
        # Cloud mode: a back-end library's batch, delivered to the sandbox's HTTP API.
        batch = {"batch": [{"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": "m-1"}]}
        assert httpx.post(url + "/v1/batch", json=batch, auth=(sources["backend"], ""), timeout=5).status_code == 200

        def delivered() -> list[dict]:
            return [i for c in sandbox.calls("http") if c["status"] == 200 for i in c["body"].get("batch", [])]

        wait_until(delivered, 15, "the track delivered to the sandbox")
        assert [(i["type"], i["event"], i["user_id"]) for i in delivered()] == [("track", "Order Completed", "u-1")]

        # Device mode: the website's page (the origin cors_origins names) with the docs' snippet, in Chromium.
        snippet = (
            docs_snippet().replace(DOCS_SERVER, json.dumps(url)).replace(DOCS_WRITE_KEY, json.dumps(sources["web"]))
        )
        with sync_playwright() as playwright:
            # The page is served by Playwright's routing, which Chromium places in no address space of its own: its
            # Local Network Access checks would then treat it as a public page calling 127.0.0.1. A dev server on
            # localhost:3000 is loopback itself, which those checks let through; the flag restores that.
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"]
            )
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.route(
                SITE + "/",
                lambda route: route.fulfill(content_type="text/html", body=f"<!doctype html><head>{snippet}</head>"),
            )
            page.goto(SITE + "/")
            page.wait_for_function("() => window.analytics && window.analytics.initialized === true", timeout=15_000)
            page.evaluate("() => { analytics.identify('u-7', {plan: 'pro'}); analytics.track('Signed Up') }")

            def sdk_calls() -> list[dict]:
                found = [c for c in sandbox.calls("sdk") if c["method"] in ("identify", "track")]
                return found if len(found) >= 2 else []

            wait_until(sdk_calls, 15, "the identify and the track in the page's 1Flow SDK")
            calls = sdk_calls()
            assert [(c["method"], c["args"][0]) for c in calls] == [("identify", "u-7"), ("track", "Signed Up")]
            assert errors == []
            browser.close()

        # The console logs in with the token init put in .env; the browser's icon request is answered.
        with httpx.Client(base_url=url, timeout=5) as http:
            assert http.post("/console/login", data={"token": values["ACTIONS_1FLOW_ADMIN_TOKEN"]}).status_code == 303
            icon = http.get("/favicon.ico")
            assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"

        # `status` from another directory, with the absolute path, sees what the server stored.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        status = run_cli("status", "--config", str(config), "--json", cwd=elsewhere)
        assert status.returncode == 0, status.stderr
        row = json.loads(status.stdout.splitlines()[0])
        assert (row["destination"], row["received"], row["delivered"]) == ("1flow-server", 1, 1)
        table = run_cli("status", "--config", str(config), cwd=elsewhere, env={"COLUMNS": "160"})
        assert f"delivery pipeline — {config.parent / 'var' / 'events.db'}" in table.stdout
    finally:
        serve.stop()
        sandbox.stop()
    log = serve.log_text()
    assert f"actions-1flow on {url}, events stored in {config.parent / 'var' / 'events.db'}" in log
    assert f"console: {url}/console (log in with the admin token)" in log
    assert warnings_in(log) == []
    assert values["ACTIONS_1FLOW_ADMIN_TOKEN"] not in log and key not in log


def test_the_example_starts_without_a_warning_and_a_literal_key_still_gets_one(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "actions-1flow.yaml")
    config = tmp_path / "actions-1flow.yaml"
    config.chmod(0o644)  # as a clone checks it out
    env = {
        "ONEFLOW_PROJECT_KEY": "1f_example_key_0123456789",
        "ACTIONS_1FLOW_ADMIN_TOKEN": "example-admin-token-0123456789",
    }

    def start() -> str:
        port = free_port()
        serve = CliProcess(
            ["serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            tmp_path / f"serve-{port}.log",
            env=env,
        )
        try:
            serve.wait_answering(f"http://127.0.0.1:{port}/health")
        finally:
            serve.stop()
        return serve.log_text()

    log = start()
    assert warnings_in(log) == [] and f"events stored in {tmp_path / 'var' / 'actions-1flow.db'}" in log
    config.write_text(config.read_text().replace("${ONEFLOW_PROJECT_KEY}", "1f_literal_key_0123456789"))
    [warning] = warnings_in(start())
    assert warning.endswith(
        f"{config} is readable by every user of this machine (mode 644) and holds "
        "destinations[0].settings.projectApiKey, destinations[1].settings.projectApiKey in plain text: "
        f"chmod 600 {config}, or take the secrets from the environment (${{VAR}})"
    )
