"""`actions-1flow suppress` / `unsuppress` / `suppressions` against a running server on both stores: the purge,
new events of the id answered 200 but never stored or delivered (and counted), and `unsuppress` restoring
delivery. The server reads the list every `REFRESH_S`, shortened here."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest
import yaml

from actions_1flow.app import create_app
from actions_1flow.config import load_config
from actions_1flow.pipeline import open_store, suppression
from tests.helpers.cli import invoke
from tests.helpers.sandbox import US_KEY, InProcessSandbox

from .conftest import execute, log

pytestmark = pytest.mark.anyio

AUTH = {"authorization": "Basic " + base64.b64encode(b"wk:").decode()}


def write_config(tmp_path, storage_url: str, api_url: str):
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "storage": storage_url,
                "pipeline": {"poll_interval": 0.02, "batch_age": 0, "partitions": 1},
                "sources": [{"name": "web", "write_key": "wk"}],
                "destinations": [
                    {
                        "name": "a",
                        "mode": "cloud",
                        "sources": ["web"],
                        "settings": {"projectApiKey": US_KEY, "apiBaseUrl": api_url},
                    }
                ],
            }
        )
    )
    path.chmod(0o600)
    return path


def track(mid: str, user: str) -> dict:
    return {"type": "track", "event": "E", "userId": user, "messageId": mid, "properties": {"mid": mid}}


async def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_suppress_purges_drops_new_events_and_unsuppress_restores(tmp_path, storage_url, monkeypatch):
    monkeypatch.setattr(suppression, "REFRESH_S", 0.05)
    sandbox = InProcessSandbox()
    path = write_config(tmp_path, storage_url, sandbox.api_url())
    app = create_app(load_config(path), client_factory=lambda d: d.create_client(transport=sandbox.transport()))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://server.test")
    delivered = lambda: [m["properties"]["mid"] for c in sandbox.calls("http") for m in c["body"]["batch"]]  # noqa: E731
    async with app.router.lifespan_context(app):
        store = app.state.server.store
        batch = {"batch": [track("m1", "u1"), track("m2", "u2"), track("m3", "u1")]}
        assert (await http.post("/v1/batch", json=batch, headers=AUTH)).status_code == 200
        await wait_for(lambda: sorted(delivered()) == ["m1", "m2", "m3"])

        # In a thread, as from another process: the server's loop runs on (and reads the list again) meanwhile.
        result = await asyncio.to_thread(
            invoke, "suppress", "--config", str(path), "--user-id", "u1", "--settle", "0.2"
        )
        assert result.exit_code == 0, result.output
        assert "userId 'u1': suppressed; purged 2 stored events, 2 delivery-log rows (0 dead letters)" in result.stdout
        assert sorted(r[0] for r in execute(store, "SELECT message_id FROM events")) == ["m2"]
        assert [e.message_id for e in log(store, 100)] == ["m2"]

        # The server has read the list again by now (--settle waited longer than the server's refresh).
        batch = {"batch": [track("m4", "u1"), track("m5", "u2")]}
        assert (await http.post("/v1/batch", json=batch, headers=AUTH)).status_code == 200
        answer = await http.post("/v1/track", json=track("m6", "u1"), headers=AUTH)
        assert answer.status_code == 200 and answer.json() == {"success": True}  # the client must not retry
        await wait_for(lambda: "m5" in delivered())
        assert sorted(r[0] for r in execute(store, "SELECT message_id FROM events")) == ["m2", "m5"]
        await wait_for(lambda: store.suppressions()[0].dropped == 2)  # reported at the server's next refresh
        listed = [
            json.loads(line) for line in invoke("suppressions", "--config", str(path), "--json").stdout.splitlines()
        ]
        assert [(r["kind"], r["id"], r["dropped"]) for r in listed] == [("userId", "u1", 2)]
        status = [json.loads(line) for line in invoke("status", "--config", str(path), "--json").stdout.splitlines()]
        assert status[-1] == {"suppressed_ids": 1, "dropped_at_ingest": 2}
        assert "1 suppressed id: 2 events dropped at ingest" in invoke("status", "--config", str(path)).stdout
        assert "u1" in invoke("suppress", "--config", str(path), "--list").stdout

        result = invoke("unsuppress", "--config", str(path), "--user-id", "u1")
        assert "userId 'u1': no longer suppressed" in result.stdout
        await asyncio.sleep(0.2)
        assert (await http.post("/v1/track", json=track("m7", "u1"), headers=AUTH)).status_code == 200
        await wait_for(lambda: "m7" in delivered())
        assert sorted(delivered()) == ["m1", "m2", "m3", "m5", "m7"]  # m4 and m6 never went out
        assert "was not suppressed" in invoke("unsuppress", "--config", str(path), "--user-id", "u1").stdout
    await http.aclose()


def test_suppress_refuses_without_an_id(tmp_path, storage_url):
    path = write_config(tmp_path, storage_url, "http://127.0.0.1:9/v1")
    open_store(storage_url).close()
    result = invoke("suppress", "--config", str(path))
    assert result.exit_code == 2 and "--user-id" in result.stderr
    assert invoke("suppressions", "--config", str(path)).stdout.strip() == "no suppressions"
