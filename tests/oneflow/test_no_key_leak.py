"""No output or log shows an unmasked Project API Key: the CLI as real processes, the sandbox's own log at debug
level, and every Python log record (httpx and httpcore at DEBUG included) while the client works."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess

from actions_1flow.destinations.oneflow import wire
from tests.helpers.cli import write_config, write_events
from tests.helpers.process import cli_command
from tests.helpers.sandbox import ALL_KEYS, EU_KEY, UNKNOWN_KEY, US_KEY, InProcessSandbox, SandboxServer

TRACK = {"type": "track", "event": "Signed Up", "userId": "u-1", "properties": {"plan": "pro"}}
IDENTIFY = {"type": "identify", "userId": "u-1", "traits": {"email": "a@example.com"}}


def run_cli(*args: str, env_key: str | None = None, stdin: str | None = None) -> str:
    env = {**os.environ}
    if env_key is not None:
        env["ONEFLOW_PROJECT_KEY"] = env_key
    result = subprocess.run([*cli_command(), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
    return result.stdout + result.stderr


def test_no_output_or_log_shows_an_unmasked_key(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server = SandboxServer(tmp_path / "sandbox.log", keys=[US_KEY, f"{EU_KEY}:us,eu"])
    outputs: list[str] = []
    try:
        for sub in ("wrong", "eu", "debug"):
            (tmp_path / sub).mkdir()
        good = write_config(tmp_path, server.api_url())
        wrong = write_config(tmp_path / "wrong", server.api_url(), UNKNOWN_KEY)
        eu = write_config(tmp_path / "eu", server.api_url("eu"), region="eu")
        events = write_events(tmp_path, [TRACK, IDENTIFY, {"type": "identify", "anonymousId": "a"}])
        event = write_events(tmp_path, TRACK, "one.json")
        server.fault(status=429, retry_after="2")
        outputs += [
            run_cli("send", "--config", str(good), str(events), env_key=US_KEY),
            run_cli("send", "--config", str(good), str(events), "--json", env_key=US_KEY),
            run_cli("send", "--config", str(wrong), str(events), "--json"),
            run_cli("send", "--config", str(eu), str(events), env_key=US_KEY),
            run_cli("test-event", "--config", str(good), str(event), env_key=US_KEY),
            run_cli("test-event", "--config", str(good), str(event), "--json", env_key=US_KEY),
            run_cli("test-event", "--config", str(wrong), "-", stdin=json.dumps(IDENTIFY)),
            run_cli("definition", "--json"),
            run_cli("definition"),
        ]
        broken = tmp_path / "broken.yaml"
        broken.write_text(
            good.read_text().replace("region: us", "region: eu").replace(f"apiBaseUrl: {server.api_url()}", "sdkUrl: x")
        )
        outputs.append(run_cli("send", "--config", str(broken), str(events), env_key=US_KEY))
        # The CLI really delivered: the keys went over the wire, so a leak would have had its chance.
        assert {c["status"] for c in server.calls()} >= {200, 401, 404, 429}
        debug_server = SandboxServer(tmp_path / "debug.log", keys=[US_KEY], log_level="debug")
        try:
            config = write_config(tmp_path / "debug", debug_server.api_url())
            outputs.append(run_cli("send", "--config", str(config), str(events), env_key=US_KEY))
        finally:
            debug_server.stop()
        outputs += [server.log_text(), debug_server.log_text()]
    finally:
        server.stop()

    sandbox = InProcessSandbox()

    async def client_calls():
        for key in (US_KEY, UNKNOWN_KEY):
            async with sandbox.client(key) as client:
                outcome = await client.send(wire.track("E", user_id="u"))
                logging.getLogger("test").info("outcome %s %r %s", outcome.summary(), client, outcome.to_dict())

    asyncio.run(client_calls())
    outputs.append(caplog.text)
    assert any("delivered" in text for text in outputs) and any("401" in text for text in outputs)
    for text in outputs:
        for key in ALL_KEYS:
            assert key not in text, f"unmasked key in output:\n{text}"
