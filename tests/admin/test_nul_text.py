"""U+0000 (NUL) wherever text from outside may reach the store, on both backends (issue 22 point 7). PostgreSQL's
`text` cannot hold it: a messageId with one was a poison batch (503 on every retry, its batch-mates with it) and
admin inputs with one a 500. Now the tracking API refuses such a messageId with 400 naming the field, on both
backends, and every other input with a NUL is stored or answered 4xx, never 5xx."""

from __future__ import annotations

import json

import pytest

from tests.admin.conftest import WRITE_KEY, AppClient, bearer, write_config

pytestmark = pytest.mark.anyio


async def test_a_nul_in_a_message_id_is_a_400_naming_the_field(tmp_path, storage_url):
    async with AppClient(write_config(tmp_path, storage_url)) as client:
        batch = {
            "batch": [
                {"type": "track", "event": "E", "userId": "u", "messageId": "ok-1"},
                {"type": "track", "event": "E", "userId": "u", "messageId": "bad\u0000id"},
            ]
        }
        r = await client.post("/v1/batch", json=batch, auth=(WRITE_KEY, ""))
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid_message_id"
        assert "batch[1]" in r.json()["message"] and "messageId" in r.json()["message"]
        assert "U+0000" in r.json()["message"]
        # the same batch without it is stored: the refusal is the client's to fix, not the store's to retry
        batch["batch"].pop()
        assert (await client.post("/v1/batch", json=batch, auth=(WRITE_KEY, ""))).status_code == 200
        # a NUL elsewhere in the event is data, kept as sent (the body is stored as JSON)
        event = {
            "type": "track",
            "event": "E\u0000",
            "userId": "u\u0000",
            "messageId": "ok-2",
            "properties": {"p": "\u0000"},
        }
        assert (await client.post("/v1/track", json=event, auth=(WRITE_KEY, ""))).status_code == 200
        found = await client.get("/admin/api/v1/events/ok-2", headers=bearer())
        assert found.status_code == 200 and found.json()["event"]["properties"] == {"p": "\u0000"}


async def test_a_nul_in_admin_inputs_is_never_a_5xx(tmp_path, storage_url):
    async with AppClient(write_config(tmp_path, storage_url)) as client:
        asks = [
            ("GET", "/admin/api/v1/events?q=a%00b", None),
            ("GET", "/admin/api/v1/events?status=dead%00", None),
            ("GET", "/admin/api/v1/events?destination=x%00", None),
            ("GET", "/admin/api/v1/events/a%00b", None),
            ("GET", "/admin/api/v1/events/a%00b?source=web%00", None),
            ("POST", "/admin/api/v1/replay", {"messageId": "a\u0000b", "dry_run": True}),
            ("POST", "/admin/api/v1/replay", {"messageId": "m", "source": "web\u0000", "dry_run": True}),
            ("POST", "/admin/api/v1/replay", {"since": "1h\u0000", "dry_run": True}),
            ("POST", "/admin/api/v1/test-event", {"event": {"type": "track", "event": "E\u0000", "userId": "u\u0000"}}),
            (
                "POST",
                "/admin/api/v1/mapping-preview",
                {"subscribe": 'type = "a\u0000"', "mapping": {"a\u0000": "b\u0000"}, "event": {}},
            ),
        ]
        for method, url, body in asks:
            r = await client.request(method, url, headers=bearer(), content=json.dumps(body) if body else None)
            assert r.status_code < 500, (url, body, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json"), url


async def test_a_device_report_with_a_nul_is_stored_with_u_fffd_on_both_backends(tmp_path, storage_url):
    config = write_config(
        tmp_path,
        storage_url,
        sources=[{"name": "web", "write_key": WRITE_KEY}],
        destinations=[
            {"name": "browser", "mode": "device", "sources": ["web"], "settings": {"projectApiKey": "k_0123456789"}}
        ],
    )
    async with AppClient(config) as client:
        report = {
            "writeKey": WRITE_KEY,
            "destination": "1Flow Web (Actions)",
            "kind": "sdk-call",
            "message": "m\u0000",
            "messageId": "d\u0000",
            "type": "track",
        }
        r = await client.post("/v1/device-events", content=json.dumps(report), headers={"content-type": "text/plain"})
        assert r.status_code == 204, r.text
        listed = await client.get("/admin/api/v1/device-events", headers=bearer())
        assert listed.status_code == 200
        [stored] = listed.json()["items"]
        assert (stored["message"], stored["messageId"]) == ("m\ufffd", "d\ufffd")  # the same on both backends
