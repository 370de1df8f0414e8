"""The admin API against a running app (in-process, ASGI) delivering to the sandbox subprocess: overview equals
`status --json` on the same store (SQLite and PostgreSQL), the log and an event's detail with request and response,
test-event, mapping-preview's caret and Segment's messages, replay dry-run and real, config/destinations masked,
and /metrics."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.admin.conftest import WRITE_KEY, AppClient, bearer, login, write_config
from tests.helpers.cli import invoke
from tests.helpers.sandbox import US_KEY

pytestmark = pytest.mark.anyio


def batch(*events: dict) -> dict:
    return {"batch": [{"messageId": f"m-{time.time_ns()}-{i}", **e} for i, e in enumerate(events)]}


async def track(client: httpx.AsyncClient, *events: dict) -> None:
    r = await client.post("/v1/batch", json=batch(*events), auth=(WRITE_KEY, ""))
    assert r.status_code == 200, r.text


async def until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def overview_settled(client: httpx.AsyncClient, delivered: int, dead: int = 0) -> dict:
    async def check():
        body = (await client.get("/admin/api/v1/overview?range=1h", headers=bearer())).json()
        d = body["destinations"][0]
        return (
            body
            if d["delivered"] >= delivered and d["dead"] >= dead and d["pending"] == 0 and d["retrying"] == 0
            else None
        )

    return await until(check)


async def test_overview_equals_status_json_and_the_log_shows_request_and_response(tmp_path, storage_url, live_sandbox):
    path = write_config(tmp_path, storage_url, live_sandbox.api_url())
    async with AppClient(path, run_worker=True) as client:
        await track(
            client,
            {"type": "track", "event": "Signed Up", "userId": "u1"},
            {"type": "identify", "userId": "u2", "traits": {"plan": "pro"}},
            {"type": "page", "userId": "u3"},
        )  # page: no subscription matches
        await overview_settled(client, delivered=2)
        live_sandbox.fault(1, status=400)  # a batch of one refused: dead-lettered
        await track(client, {"type": "track", "event": "Broken", "userId": "u4"})
        body = await overview_settled(client, delivered=2, dead=1)
        status = [json.loads(line) for line in invoke("status", "--config", str(path), "--json").stdout.splitlines()]
        (row,), (mine,) = status, body["destinations"]
        for key in ("received", "delivered", "filtered", "retrying", "dead", "pending"):
            assert mine[key] == row[key], key
        assert mine["received"] == 4 and mine["filtered"] == 1 and mine["filtered_by"]["no_match"] == 1
        assert body["range"] == "1h" and body["step_s"] == 60
        series = body["series"]["1flow-cloud"]
        assert len(series) >= 60 and sum(b["delivered"] for b in series) == 2 and sum(b["dead"] for b in series) == 1

        page = (await client.get("/admin/api/v1/events?limit=2", headers=bearer())).json()
        assert len(page["items"]) == 2 and page["next"]
        rest = (await client.get(f"/admin/api/v1/events?limit=50&cursor={page['next']}", headers=bearer())).json()
        assert rest["next"] is None and len(page["items"]) + len(rest["items"]) == 4
        failed = (await client.get("/admin/api/v1/events?status=dead", headers=bearer())).json()["items"]
        assert [i["status"] for i in failed] == ["dead"] and failed[0]["source"] == "web"
        found = (await client.get("/admin/api/v1/events?q=Signed", headers=bearer())).json()["items"]
        assert [i["type"] for i in found] == ["track"] and found[0]["status"] == "delivered"

        detail = (await client.get(f"/admin/api/v1/events/{found[0]['messageId']}", headers=bearer())).json()
        assert detail["event"]["event"] == "Signed Up"
        (delivery,) = detail["deliveries"]
        assert "POST" in delivery["request"] and US_KEY not in delivery["request"] and delivery["response"]
        (verdict,) = [v for v in detail["verdicts"] if v["status"] == "ready"]
        assert verdict["subscription"] == "Track Event" and verdict["payload"]["event_name"] == "Signed Up"
        r = await client.get("/admin/api/v1/events/nope", headers=bearer())
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert (await client.get("/admin/api/v1/events?status=weird", headers=bearer())).status_code == 400
        assert (await client.get("/admin/api/v1/events?cursor=garbage", headers=bearer())).status_code == 400

        # replay: the dead letter, dry run then for real; delivered once
        r = await client.post("/admin/api/v1/replay", json={"since": "1h", "dry_run": True}, headers=bearer())
        assert r.json()["count"] == 1 and r.json()["dry_run"] is True
        r = await client.post("/admin/api/v1/replay", json={"since": "1h", "dry_run": False}, headers=bearer())
        assert r.json() == {"count": 1, "dry_run": False, "statuses": ["dead"]}
        body = await overview_settled(client, delivered=3)
        assert body["destinations"][0]["dead"] == 0
        progress = (await client.get("/admin/api/v1/replay/progress", headers=bearer())).json()
        assert progress == {"replaying": 0, "by_destination": {"1flow-cloud": 0}}
        # after the fix, the filtered page once more (it still matches nothing: filtered again, counted as a replay);
        # delivered ones already replayed with this configuration are left alone
        plan = {"since": "1h", "status": "all", "dry_run": True}
        r = (await client.post("/admin/api/v1/replay", json=plan, headers=bearer())).json()
        assert (r["count"], r["statuses"], r["already_replayed"]) == (
            3,
            ["delivered", "filtered", "dead"],
            {"1flow-cloud": 1},
        )
        r = await client.post(
            "/admin/api/v1/replay", json={**plan, "status": "filtered", "dry_run": False}, headers=bearer()
        )
        assert r.json()["count"] == 1
        await overview_settled(client, delivered=3)
        (page_row,) = (await client.get("/admin/api/v1/events?status=filtered", headers=bearer())).json()["items"]
        assert (page_row["replay_of"], page_row["replays"]) == ("filtered:no_match", 1)
        r = await client.post("/admin/api/v1/replay", json={**plan, "status": "retrying"}, headers=bearer())
        assert r.status_code == 400 and "status must be one of delivered, filtered, dead, all" in r.json()["message"]
        broken = [
            i
            for c in live_sandbox.calls()
            for i in (c.get("body") or {}).get("batch", [])
            if i.get("event") == "Broken"
        ]
        assert len(broken) == 2  # the refused attempt and the replay


async def test_test_event_and_mapping_preview(sqlite_config, live_sandbox, tmp_path):
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/t.db", live_sandbox.api_url())
    async with AppClient(path) as client:
        event = {"type": "track", "event": "Clicked", "userId": "u9", "messageId": "t-1"}
        r = await client.post("/admin/api/v1/test-event", json={"event": event}, headers=bearer())
        body = r.json()
        assert body["sent"] is None and not live_sandbox.calls()
        statuses = {x["subscription"]: x["status"] for x in body["results"]}
        assert statuses == {"Track Event": "ready", "Identify User": "not_subscribed"}
        r = await client.post(
            "/admin/api/v1/test-event",
            json={"event": event, "send": True, "destination": "1flow-cloud"},
            headers=bearer(),
        )
        sent = r.json()["sent"]
        assert (
            sent["response"]["status"] == 200
            and sent["outcome"]["kind"] == "delivered"
            and US_KEY not in json.dumps(sent)
        )
        assert len(live_sandbox.calls()) == 1
        assert (await client.post("/admin/api/v1/test-event", json={"event": []}, headers=bearer())).status_code == 400

        preview = {
            "destination": "1flow-cloud",
            "partnerAction": "trackEvent",
            "subscribe": 'type = "track" and',
            "mapping": {"event_name": {"@path": "$.event"}, "userId": {"@path": "$.userId"}},
            "event": event,
        }
        body = (await client.post("/admin/api/v1/mapping-preview", json=preview, headers=bearer())).json()
        assert body["trigger"]["ok"] is False and "^" in body["trigger"]["error"]
        assert body["mapping"]["ok"] is True and body["mapping"]["payload"]["event_name"] == "Clicked"
        assert "partnerAction: trackEvent" in body["yaml"]
        preview.update(subscribe='event = "Clicked"', mapping={"event_name": {"@path": 42}})
        body = (await client.post("/admin/api/v1/mapping-preview", json=preview, headers=bearer())).json()
        assert body["trigger"] == {"ok": True, "matched": True, "error": None}
        assert body["mapping"]["ok"] is False and "@path" in body["mapping"]["error"]


async def test_config_and_destinations_mask_secrets(sqlite_config):
    async with AppClient(sqlite_config) as client:
        for url in ("/admin/api/v1/config", "/admin/api/v1/destinations", "/admin/api/v1/device-events"):
            r = await client.get(url, headers=bearer())
            assert r.status_code == 200 and US_KEY not in r.text, url
        config = (await client.get("/admin/api/v1/config", headers=bearer())).json()
        sub = config["destinations"][0]["subscriptions"][0]
        assert sub["subscribe"] == 'type = "track"' and sub["mapping"]["event_name"] == {"@path": "$.event"}
        (dest,) = (await client.get("/admin/api/v1/destinations", headers=bearer())).json()
        assert dest["state"] == "idle" and dest["mode"] == "cloud"


async def test_metrics_need_auth_and_count(tmp_path, live_sandbox):
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/m.db", live_sandbox.api_url())
    async with AppClient(path, run_worker=True) as client:
        assert (await client.get("/metrics")).status_code == 401
        await track(client, {"type": "track", "event": "A", "userId": "m1"})
        assert (
            await client.post(
                "/v1/batch", json=batch({"type": "track", "event": "B", "userId": "m2"}), auth=("wrong", "")
            )
        ).status_code == 401
        await overview_settled(client, delivered=1)
        csrf = await login(client)
        assert csrf
        text = (await client.get("/metrics")).text  # a console session works too
        for name in (
            "actions_1flow_events_received_total",
            "actions_1flow_events_rejected_total",
            "actions_1flow_deliveries_total",
            "actions_1flow_pending_events",
            "actions_1flow_oneflow_responses_total",
            "actions_1flow_delivery_seconds_bucket",
        ):
            assert name in text, name
        assert 'actions_1flow_pending_events{destination="1flow-cloud"} 0.0' in text
        assert 'actions_1flow_events_rejected_total{code="unknown_write_key",source=""}' in text
        assert 'actions_1flow_oneflow_responses_total{code="200",destination="1flow-cloud"}' in text


async def test_metrics_public(tmp_path):
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/p.db", metrics={"public": True}, admin=None)
    async with AppClient(path) as client:
        r = await client.get("/metrics")
        assert r.status_code == 200 and "actions_1flow_events_received_total" in r.text
