"""Tracking API → store → worker → 1Flow (the in-process sandbox): the cloud-mode path end to end."""

from __future__ import annotations

import asyncio
import base64
import time

import httpx
import pytest

from actions_1flow.app import create_app
from actions_1flow.config import parse_config
from actions_1flow.pipeline import queries
from tests.helpers.sandbox import US_KEY, InProcessSandbox


def config_for(tmp_path, sandbox: InProcessSandbox, **pipeline):
    text = f"""
storage: sqlite:///{tmp_path}/db.sqlite
pipeline: {{poll_interval: 0.02, retry_base: 0.2, retry_cap: 1, retry_window: 30s}}
sources:
  - {{name: server, write_key: wk_server}}
destinations:
  - name: oneflow
    mode: cloud
    sources: [server]
    settings: {{projectApiKey: "{US_KEY}", apiBaseUrl: "{sandbox.api_url()}"}}
"""
    return parse_config(text, "test.yaml")


class Running:
    """The server app with its lifespan (store + worker) entered, and an HTTP client on it."""

    def __init__(self, config, sandbox: InProcessSandbox) -> None:
        self.app = create_app(config, client_factory=lambda d: d.create_client(transport=sandbox.transport()))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://server.test")

    async def __aenter__(self):
        self._ctx = self.app.router.lifespan_context(self.app)
        await self._ctx.__aenter__()
        return self

    async def __aexit__(self, *exc):
        await self.http.aclose()
        await self._ctx.__aexit__(*exc)


def basic(key: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


async def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.mark.anyio
async def test_track_and_identify_reach_1flow_once(tmp_path):
    sandbox = InProcessSandbox()
    async with Running(config_for(tmp_path, sandbox), sandbox) as srv:
        batch = {
            "batch": [
                {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}, "messageId": "m1"},
                {
                    "type": "track",
                    "userId": "u1",
                    "event": "Order Completed",
                    "properties": {"total": 10},
                    "messageId": "m2",
                },
                {"type": "identify", "anonymousId": "a1", "traits": {}, "messageId": "m3"},
            ]
        }
        r = await srv.http.post("/v1/batch", json=batch, headers=basic("wk_server"))
        assert r.status_code == 200 and r.json() == {"success": True}
        again = await srv.http.post("/v1/batch", json=batch, headers=basic("wk_server"))
        assert again.status_code == 200  # a client retry: acknowledged, not delivered twice
        await wait_for(lambda: len([i for c in sandbox.calls("http") for i in c.get("body", {}).get("batch", [])]) >= 2)
        await asyncio.sleep(0.2)
        items = [i for c in sandbox.calls("http") for i in c["body"]["batch"]]
        assert [(i["type"], i.get("user_id"), i.get("event")) for i in items] == [
            ("identify", "u1", None),
            ("track", "u1", "Order Completed"),
        ]
        counts = srv.app.state.server.store.counts({"oneflow": ["server"]})[0]
        assert counts.received == 3
        assert counts.by_status == {"delivered": 2, "filtered": 1}
        filtered = [r.entry for r in queries.recent_log(srv.app.state.server.store, 10) if r.entry.status == "filtered"]
        assert "userId" in filtered[0].error


@pytest.mark.anyio
async def test_unknown_write_key_is_401(tmp_path):
    sandbox = InProcessSandbox()
    async with Running(config_for(tmp_path, sandbox), sandbox) as srv:
        r = await srv.http.post("/v1/track", json={"userId": "u", "event": "x"}, headers=basic("nope"))
        assert r.status_code == 401 and r.json()["code"] == "unknown_write_key"
        r = await srv.http.post("/v1/track", json={"userId": "u", "event": "x"})
        assert r.status_code == 401 and r.json()["code"] == "missing_write_key"


@pytest.mark.anyio
async def test_retryable_outage_then_delivery(tmp_path):
    sandbox = InProcessSandbox()
    sandbox.fault(2, status=503)
    async with Running(config_for(tmp_path, sandbox), sandbox) as srv:
        r = await srv.http.post("/v1/track", json={"userId": "u", "event": "E", "writeKey": "wk_server"})
        assert r.status_code == 200
        store = srv.app.state.server.store
        await wait_for(lambda: store.counts({"oneflow": ["server"]})[0].by_status.get("delivered") == 1)
        [entry] = [r.entry for r in queries.recent_log(store, 5)]
        assert entry.attempts == 3 and entry.status == "delivered"
