"""Webhooks (Actions) end to end: `actions-1flow serve` delivers to a real HTTP receiver in this test, which checks
`X-Signature` with its own HMAC-SHA1 over the raw body; a 503 with `Retry-After` is retried after the delay; a 400
dead-letters with the receiver's answer in `events` and the admin API's event detail (what the console's event page
shows); `replay` delivers it once. Batching (Segment's `enable_batching`) posts arrays, signed the same way."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers.cli import invoke
from tests.helpers.pipeline import ServerProcess, wait_until
from tests.helpers.process import free_port
from tests.helpers.receiver import Answer, Receiver, Request

SECRET = "whsec-shared-0123456789"
WRITE_KEY = "wk_hooks"
ADMIN_TOKEN = "test-admin-token-0123456789"
RETRY_AFTER_S = 2
TRACKS = 120
IDENTIFIES = 75
REFUSAL = {"error": "amount must be a number"}


class Hooks:
    """The webhook receiver of this test: the signature checked with its own HMAC-SHA1 over the raw body (401 when
    it does not match); `/flaky` answers 503 (Retry-After) once, `/reject` answers 400 while `rejecting`."""

    def __init__(self) -> None:
        self.bad_signatures: list[str] = []
        self.flaky_left = 1
        self.rejecting = True
        self.receiver = Receiver(self.answer)
        self.url = self.receiver.url

    def answer(self, request: Request) -> Answer:
        expected = hmac.new(SECRET.encode(), request.raw, hashlib.sha1).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Signature", ""), expected):
            self.bad_signatures.append(request.path)
            return Answer(401, b"bad signature")
        if request.path == "/flaky" and self.flaky_left > 0:
            self.flaky_left -= 1
            return Answer(503, b"busy", {"Retry-After": str(RETRY_AFTER_S)})
        if request.path == "/reject" and self.rejecting:
            return Answer(400, json.dumps(REFUSAL).encode())
        return Answer(200, b"ok")

    def at(self, path: str, status: int | None = None) -> list[dict[str, Any]]:
        return [
            {"method": r.method, "headers": r.headers, "body": json.loads(r.raw) if r.raw else None, "at": r.at}
            for r in self.receiver.at(path, status)
        ]


def write_config(directory: Path, url: str) -> Path:
    subscriptions = [
        {
            "name": "Orders",
            "subscribe": 'type = "track" and event = "Order Completed"',
            "partnerAction": "send",
            "mapping": {"url": f"{url}/orders", "method": "PUT", "data": {"@path": "$."}},
        },
        {
            "name": "Users in batches",
            "subscribe": 'type = "identify"',
            "partnerAction": "send",
            "mapping": {
                "url": f"{url}/users",
                "method": "POST",
                "headers": {"X-Team": "growth"},
                "data": {"id": {"@path": "$.userId"}, "traits": {"@path": "$.traits"}},
                "enable_batching": True,
                "batch_size": 20,
            },
        },
        {
            "name": "Flaky",
            "subscribe": 'event = "Flaky"',
            "partnerAction": "send",
            "mapping": {"url": f"{url}/flaky", "method": "POST", "data": {"@path": "$.properties"}},
        },
        {
            "name": "Refunds",
            "subscribe": 'event = "Refund"',
            "partnerAction": "send",
            "mapping": {"url": f"{url}/reject", "method": "POST", "data": {"@path": "$.properties"}},
        },
    ]
    config = {
        "storage": f"sqlite:///{directory / 'hooks.db'}",
        "pipeline": {"poll_interval": "50ms", "batch_age": "50ms", "retry_base": "200ms", "retry_cap": "1s"},
        "admin": {"token": ADMIN_TOKEN},
        "sources": [{"name": "web", "write_key": WRITE_KEY}],
        "destinations": [
            {
                "name": "hooks",
                "type": "webhook",
                "mode": "cloud",
                "settings": {"sharedSecret": SECRET},
                "subscriptions": subscriptions,
            }
        ],
    }
    path = directory / "hooks.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def post(server: ServerProcess, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 50):
        answer = httpx.post(server.url + "/v1/batch", json={"batch": events[start : start + 50]}, auth=(WRITE_KEY, ""))
        assert answer.status_code == 200, answer.text


def entries(config: Path, *args: str) -> list[dict[str, Any]]:
    result = invoke("events", "--config", str(config), "--limit", "1000", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def receiver():
    hooks = Hooks()
    yield hooks
    hooks.receiver.close()


def test_signed_deliveries_retry_after_dead_letter_and_replay(tmp_path, receiver):
    config = write_config(tmp_path, receiver.url)
    port = free_port()
    server = ServerProcess(config, port, tmp_path / "serve.log")
    orders = [
        {"type": "track", "event": "Order Completed", "userId": f"u{n}", "messageId": f"order-{n}",
         "properties": {"n": n, "note": "naïve ☕"}}
        for n in range(TRACKS)
    ]  # fmt: skip
    users = [
        {"type": "identify", "userId": f"u{n}", "messageId": f"user-{n}", "traits": {"n": n}} for n in range(IDENTIFIES)
    ]
    try:
        server.wait_ready(60)
        post(server, [*orders, *users])
        post(
            server, [{"type": "track", "event": "Flaky", "userId": "f", "messageId": "flaky-1", "properties": {"x": 1}}]
        )
        wait_until(lambda: len(receiver.at("/flaky", 200)) == 1, 30, "the flaky delivery retried and accepted")
        refund = {"type": "track", "event": "Refund", "userId": "r", "messageId": "refund-1"}
        post(server, [{**refund, "properties": {"amount": "ten"}}])
        wait_until(lambda: any(e["status"] == "dead" for e in entries(config, "--failed")), 20, "the refund dead")
        wait_until(
            lambda: (
                len(receiver.at("/orders", 200)) == TRACKS
                and sum(len(r["body"]) for r in receiver.at("/users", 200)) == IDENTIFIES
            ),
            30,
            "every order and user delivered",
        )

        # Signed: the receiver's own HMAC-SHA1 of the raw body matched every request.
        assert receiver.bad_signatures == []
        # Every event, once, whole, with the method and headers mapped.
        bodies = [r["body"] for r in receiver.at("/orders", 200)]
        assert sorted(b["messageId"] for b in bodies) == sorted(e["messageId"] for e in orders)
        assert all(r["method"] == "PUT" for r in receiver.at("/orders"))
        sent = {e["messageId"]: e for e in orders}
        assert all(
            b["properties"] == sent[b["messageId"]]["properties"] and b["event"] == "Order Completed" for b in bodies
        )
        batches = receiver.at("/users", 200)
        assert all(isinstance(r["body"], list) and len(r["body"]) <= 20 for r in batches)
        assert sorted(item["id"] for r in batches for item in r["body"]) == sorted(u["userId"] for u in users)
        assert all(r["headers"]["X-Team"] == "growth" for r in batches)
        assert len(batches) < IDENTIFIES  # batched, not one request each

        # 503 with Retry-After: the retry came no sooner than the delay asked for.
        [busy] = receiver.at("/flaky", 503)
        [accepted] = receiver.at("/flaky", 200)
        assert accepted["at"] - busy["at"] >= RETRY_AFTER_S - 0.05
        [flaky] = [e for e in entries(config) if e["messageId"] == "flaky-1"]
        assert (flaky["status"], flaky["attempts"]) == ("delivered", 2)

        # 400: dead-lettered at once, the receiver's answer in `events`, its hint, and the event detail.
        [dead] = [e for e in entries(config, "--failed") if e["messageId"] == "refund-1"]
        assert (dead["status"], dead["attempts"]) == ("dead", 1)
        assert dead["error"] == "400 Bad Request: amount must be a number"
        assert dead["hint"] == "the receiver refused the request; its response says why"
        assert "amount must be a number" in dead["response"]
        assert f"{receiver.url}/reject" in dead["request"]
        detail = httpx.get(
            f"{server.url}/admin/api/v1/events/refund-1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ).json()
        [delivery] = detail["deliveries"]
        assert delivery["status"] == "dead" and "amount must be a number" in delivery["response"]
        assert len(receiver.at("/reject")) == 1  # not retried

        # Fixed on the receiver's side: replay delivers it once; a second replay has nothing to do.
        receiver.rejecting = False
        first = invoke("replay", "--config", str(config), "--since", "1h")
        assert first.exit_code == 0 and "re-queued 1 dead-lettered delivery " in first.stdout, first.stdout
        wait_until(lambda: len(receiver.at("/reject", 200)) == 1, 20, "the replayed refund")
        second = invoke("replay", "--config", str(config), "--since", "1h")
        assert "nothing to replay" in second.stdout
        time.sleep(0.5)
        assert len(receiver.at("/reject", 200)) == 1
        assert receiver.at("/reject", 200)[0]["body"] == {"amount": "ten"}
    finally:
        server.stop()
    assert SECRET not in (tmp_path / "serve.log").read_text(encoding="utf-8")
    shown = invoke("events", "--config", str(config), "--limit", "1000", "--json").stdout
    assert SECRET not in shown
