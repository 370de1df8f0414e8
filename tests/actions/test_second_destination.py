"""The kit stays generic: a destination defined here, in the test, and registered nowhere in `src/` (one
`REGISTRY.register` line) goes through the configuration, the worker (with a retry), `status` and `events`, and the
configuration reports its settings problems with its own labels."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr

from actions_1flow.actions import (
    Action,
    Destination,
    DestinationSettings,
    Exchange,
    Field,
    Filtered,
    Outcome,
    OutcomeKind,
    PerformInput,
    PerformResult,
    Preset,
    classify,
    default_values,
    not_sent,
    parse_retry_after,
    setting,
)
from actions_1flow.config import ConfigError, load_config, parse_config
from actions_1flow.destinations import REGISTRY
from actions_1flow.pipeline import RetryPolicy, SQLiteStore
from actions_1flow.pipeline.options import DeliveryOptions
from actions_1flow.pipeline.partition import DestinationWorker
from actions_1flow.secrets import mask_secret, secret_value
from tests.helpers.cli import invoke

TOKEN = "hook-secret-token-1234"


class HookSettings(DestinationSettings):
    vendor: ClassVar[str] = "Test Hook"

    url: str = setting("URL", "Where each message is posted as JSON.", example='"http://127.0.0.1:9000/hook"')
    token: SecretStr = setting("Token", "Sent as `Authorization: Bearer <token>`.", example='"${HOOK_TOKEN}"')


class HookClient:
    """One POST per message, judged by the kit's retry contract."""

    def __init__(self, settings: HookSettings) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(timeout=5)

    endpoint = property(lambda self: self.settings.url)

    async def __aenter__(self) -> HookClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(self, message: Any) -> Outcome:
        body = json.dumps(message)
        headers = {"authorization": f"Bearer {secret_value(self.settings.token)}"}
        shown = {"authorization": f"Bearer {mask_secret(self.settings.token)}"}
        response = await self.http.post(self.settings.url, content=body, headers=headers)
        kind = classify(response.status_code)
        exchange = Exchange("POST", self.settings.url, shown, body, status=response.status_code)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return Outcome(kind, (message,), status=response.status_code, retry_after=retry_after, exchange=exchange)

    async def send_batch(self, messages: list[Any], *, stop_on_retryable: bool = False) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for index, message in enumerate(messages):
            outcomes.append(outcome := await self.send(message))
            if stop_on_retryable and outcome.kind is OutcomeKind.RETRYABLE and index + 1 < len(messages):
                outcomes.append(not_sent(tuple(messages[index + 1 :]), outcome))
                break
        return outcomes


POST_FIELDS = {
    "name": Field(label="Name", required=True, default={"@path": "$.event"}),
    "user": Field(label="User", default={"@path": "$.userId"}),
}


def perform_post(data: PerformInput) -> PerformResult:
    if not data.payload.get("user"):
        return Filtered("not sent: no user")
    return [{"name": data.payload["name"], "user": data.payload["user"]}]


HOOK = Destination(
    name="Test Hook",
    slug="test-hook",
    mode="cloud",
    description="Posts each track event as JSON (this test only).",
    settings_model=HookSettings,
    actions={"post": Action("Post", "Post the event.", POST_FIELDS, perform_post, 'type = "track"', platform="cloud")},
    presets=(Preset("Post Tracks", "post", 'type = "track"', default_values(POST_FIELDS)),),
    type="test-hook",
    vendor="Test Hook",
    create_client=lambda settings, **options: HookClient(settings),
)


@pytest.fixture
def webhook_registered():
    REGISTRY.register(HOOK)  # the one registry line
    yield HOOK
    REGISTRY.unregister(HOOK.type)


class Hook:
    """A local HTTP server that records what it receives; answers 503 (Retry-After: 1) `fail_first` times."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict, str]] = []
        self.fail_first = fail_first
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if hook.fail_first > 0:
                    hook.fail_first -= 1
                    self.send_response(503)
                    self.send_header("retry-after", "1")
                else:
                    hook.received.append((body, self.headers["authorization"]))
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def config_text(tmp_path, url: str) -> str:
    return f"""\
storage: sqlite:///{tmp_path}/hook.db
sources:
  - {{name: web, write_key: wk}}
destinations:
  - name: hook
    type: test-hook
    mode: cloud
    settings: {{url: "{url}", token: "${{HOOK_TOKEN}}"}}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_config_worker_retry_status_and_events(tmp_path, monkeypatch, webhook_registered):
    hook = Hook(fail_first=1)
    try:
        monkeypatch.setenv("HOOK_TOKEN", TOKEN)
        path = tmp_path / "hook.yaml"
        path.write_text(config_text(tmp_path, hook.url), encoding="utf-8")
        config = load_config(path)
        [dest] = config.destinations
        assert dest.definition is HOOK and dest.settings.url == hook.url
        assert dest.settings.masked()["token"] == "****" + TOKEN[-4:]

        store = SQLiteStore(config.storage_path())
        clock = Clock()
        worker = DestinationWorker(
            store, dest, ["web"], RetryPolicy(base=1, cap=5, window=3600), DeliveryOptions(clock=clock, batch_age=0)
        )
        events = [
            {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1"},
            {"type": "track", "event": "Anonymous", "messageId": "m2"},
            {"type": "identify", "userId": "u1", "messageId": "m3"},
        ]

        async def deliver() -> None:
            await worker.load_cursor()
            store.append("web", events, clock.now).result()
            assert await worker.step()  # 503: the track is retrying, the destination paused
            assert hook.received == []
            clock.now += 60
            assert await worker.step()  # the retry is due and delivered
            await worker.client.aclose()

        asyncio.run(deliver())
        store.close()
        assert hook.received == [({"name": "Signed Up", "user": "u1"}, f"Bearer {TOKEN}")]

        status = invoke("status", "--config", str(path), "--json")
        assert status.exit_code == 0, status.stderr
        row = json.loads(status.stdout)
        assert (row["destination"], row["received"], row["delivered"], row["filtered"], row["retrying"]) == (
            "hook",
            3,
            1,
            2,
            0,
        )

        log = invoke("events", "--config", str(path), "--json")
        assert log.exit_code == 0, log.stderr
        entries = {e["messageId"]: e for e in map(json.loads, log.stdout.splitlines())}
        assert entries["m1"]["status"] == "delivered" and entries["m1"]["attempts"] == 2
        assert entries["m2"]["status"] == "filtered" and "no user" in entries["m2"]["error"]
        assert entries["m3"]["status"] == "filtered"
        assert TOKEN not in status.stdout + log.stdout
    finally:
        hook.close()


def test_settings_problems_use_the_destinations_own_model(tmp_path, webhook_registered):
    text = """\
sources: [{name: web, write_key: wk}]
destinations:
  - {name: hook, type: test-hook, mode: cloud, settings: {url: "http://x", extra: 1}}
  - {name: dev, type: test-hook, mode: device, settings: {url: "http://x", token: t}}
  - {name: bad, type: nope, settings: {}}
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text, "hook.yaml")
    reasons = {p.key_path: p.reason for p in err.value.problems}
    assert reasons["destinations[0].settings.token"] == (
        'token is missing: the Test Hook Token is required (e.g. token: "${HOOK_TOKEN}")'
    )
    assert reasons["destinations[0].settings.extra"] == "is not a known key here (the keys here: url, token)"
    assert reasons["destinations[2].type"].startswith(
        "unknown destination type 'nope'; this server has 1flow, webhook, segment, test-hook"
    )


def test_device_mode_is_refused_for_a_destination_without_a_plugin(webhook_registered):
    text = """\
sources: [{name: web, write_key: wk}]
destinations:
  - {name: dev, type: test-hook, mode: device, settings: {url: "http://x", token: t}}
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text, "hook.yaml")
    [problem] = err.value.problems
    assert (problem.key_path, problem.reason) == ("destinations[0].mode", "Test Hook has no device mode (it has cloud)")


def test_unregistered_the_type_is_unknown():
    assert "test-hook" not in REGISTRY
    with pytest.raises(ConfigError, match="unknown destination type 'test-hook'"):
        parse_config("destinations: [{name: h, type: test-hook, settings: {url: x, token: t}}]", "x.yaml")
