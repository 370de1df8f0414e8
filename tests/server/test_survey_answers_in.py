"""Issue 25's acceptance, inbound leg, with real processes: the sandbox (`actions-1flow sandbox --webhook-url`) sends
1Flow's `submitted_survey` webhook to the server (`actions-1flow serve`, a `1flow-survey` source); the same
response (one `alert_id`) is sent three times, once while the server is being restarted (that try fails and 1Flow's
retry, here every 300 ms, brings it after the restart), and the store holds one "Survey Submitted" track.
`test_survey_answers_out.py` carries it on to a `webhook` destination."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from actions_1flow.pipeline import SQLiteStore
from tests.helpers.cli import invoke
from tests.helpers.process import free_port
from tests.helpers.sandbox import SandboxServer
from tests.helpers.server import ServeProcess

WRITE_KEY = "wk_survey_in_7f3a9c"
ALERT_ID = "6425124d1b026625c189cac0"


def survey_config(directory: Path, destinations: list[dict] | None = None) -> Path:
    config = {
        "server": {"host": "127.0.0.1"},
        "storage": f"sqlite:///{directory / 'events.db'}",
        "pipeline": {"poll_interval": "50ms", "retry_base": "200ms", "retry_cap": "1s"},
        "sources": [{"name": "answers", "write_key": WRITE_KEY, "webhook": {"preset": "1flow-survey"}}],
        "destinations": destinations or [],
    }
    path = directory / "server.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def wait_for(predicate, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def answer(sandbox: SandboxServer, *extra: str) -> None:
    result = invoke("sandbox", "answer", "--sandbox", sandbox.url, "--user", "user-42", "--alert-id", ALERT_ID, *extra)
    assert result.exit_code == 0, result.output


def send_three_times_across_a_restart(tmp_path: Path, config: Path) -> tuple[SandboxServer, list[dict]]:
    """The three sends of one response; the second while the server is down. Returns the sandbox (running) and
    its record of the three webhooks."""
    port = free_port()
    server = ServeProcess(config, tmp_path / "server.log", port=port)
    sandbox = SandboxServer(
        tmp_path / "sandbox.log",
        webhook_url=f"http://127.0.0.1:{port}/v1/webhook?writeKey={WRITE_KEY}",
        webhook_interval="300ms",
    )
    try:
        answer(sandbox)
        wait_for(lambda: [s for s in sandbox.surveys() if s["state"] == "delivered"], "the first webhook")
        server.stop()
        answer(sandbox)  # 1Flow sends it again (it did not see our 200, say) while the server is down
        wait_for(lambda: sandbox.surveys()[1]["attempts"], "a try while the server is down")
        server = ServeProcess(config, tmp_path / "server.log", port=port)
        wait_for(lambda: sandbox.surveys()[1]["state"] == "delivered", "the retry after the restart")
        answer(sandbox)
        wait_for(lambda: sandbox.surveys()[2]["state"] == "delivered", "the third webhook")
        return sandbox, sandbox.surveys()
    finally:
        server.stop()


def test_three_sends_of_one_response_across_a_restart_are_one_stored_event(tmp_path):
    sandbox, surveys = send_three_times_across_a_restart(tmp_path, survey_config(tmp_path))
    sandbox.stop()
    assert [s["alert_id"] for s in surveys] == [ALERT_ID] * 3
    down = surveys[1]["attempts"]
    assert "status" not in down[0] and "ConnectError" in down[0]["error"]  # refused while restarting
    assert down[-1]["status"] == 200 and len(down) >= 2
    answered = [a for s in surveys for a in s["attempts"] if a.get("status") == 200]
    assert len(answered) == 3 and all(a["ms"] < 10_000 for a in answered)  # 1Flow waits 10 s for its 200
    store = SQLiteStore(tmp_path / "events.db")
    try:
        events = [e.event for e in store.read_after(0, ["answers"], 100)]
    finally:
        store.close()
    assert len(events) == 1
    (event,) = events
    assert (event["type"], event["event"], event["userId"]) == ("track", "Survey Submitted", "user-42")
    assert event["messageId"] == f"1flow-{ALERT_ID}"
    assert [(a["type"], a["answer"]) for a in event["properties"]["answers"]] == [
        ("nps", 10),
        ("text", "best user experience"),
    ]
