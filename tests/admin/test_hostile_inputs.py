"""The admin API against the low-severity attacks of issue 22 point 11: a forged `cursor` with a huge number (a 400
on both backends, not a 500), the event list of a damaged store (a 503 JSON answer, not a 500), and the Event
Tester's `send: true` for a suppressed user or without consent (not sent: the worker's privacy rules apply)."""

from __future__ import annotations

import base64
import json

import pytest

from actions_1flow.pipeline import DeliveryRecord, SQLiteStore
from tests.admin.conftest import SUBSCRIPTIONS, AppClient, bearer, write_config
from tests.helpers.sandbox import US_KEY
from tests.pipeline.test_store_integrity import PAGE, filled_store, overwrite_pages

pytestmark = pytest.mark.anyio


def forged(updated_at: object, row_id: object) -> str:
    """A cursor as the server encodes one (JSON in base64), holding what an attacker chose."""
    return base64.urlsafe_b64encode(json.dumps([updated_at, row_id]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [forged(1.0, 10**30), forged(1.0, -1), forged(float("inf"), 1), forged(1.0, 2**63), "x" * 5000],
    ids=["huge", "negative", "infinite", "just-past-int64", "garbage"],
)
async def test_a_forged_cursor_is_a_400(tmp_path, storage_url, cursor):
    async with AppClient(write_config(tmp_path, storage_url)) as client:
        r = await client.get(f"/admin/api/v1/events?cursor={cursor}", headers=bearer())
        assert r.status_code == 400 and r.json()["code"] == "invalid_parameter", r.text
        assert "cursor" in r.json()["message"]
        largest = forged(1.0, 2**63 - 1)  # the largest row id either backend has is a cursor, on an empty page
        r = await client.get(f"/admin/api/v1/events?cursor={largest}", headers=bearer())
        assert r.status_code == 200 and r.json() == {"items": [], "next": None}


async def test_the_event_list_of_a_damaged_store_is_a_503(tmp_path):
    store_path = tmp_path / "events.db"
    filled_store(store_path)
    store = SQLiteStore(store_path)  # and a delivery log to list
    rows = [
        DeliveryRecord(seq, "Track Event", "delivered", attempts=1, response="200 " + "x" * 300)
        for seq in range(1, 2001)
    ]
    store.record("1flow-cloud", rows).result()
    store.close()
    async with AppClient(write_config(tmp_path, f"sqlite:///{store_path}")) as client:
        overwrite_pages(store_path, range(2, store_path.stat().st_size // PAGE))
        for url in (
            "/admin/api/v1/events",
            "/admin/api/v1/events?q=b1",
            "/admin/api/v1/events/b1-1",
            "/admin/api/v1/overview",
        ):
            r = await client.get(url, headers=bearer())
            assert r.status_code == 503, (url, r.status_code, r.text)
            assert r.json()["code"] == "store_unavailable"
            assert "is damaged" in r.json()["message"]  # the operator (authenticated) is told what to do


async def test_the_tester_never_sends_what_delivery_would_not(tmp_path, live_sandbox):
    destination = {
        "name": "1flow-cloud",
        "mode": "cloud",
        "sources": ["web"],
        "consent": {"categories": ["Analytics"]},
        "settings": {"projectApiKey": US_KEY, "apiBaseUrl": live_sandbox.api_url()},
        "subscriptions": SUBSCRIPTIONS,
    }
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/t.db", destinations=[destination])
    app = AppClient(path)
    async with app as client:
        app.state.store.suppress("userId", "8675309", 1.0).result()
        app.state.suppressions.load()
        cases = {
            "suppressed": {
                "type": "track",
                "event": "E",
                "userId": 8675309.0,
                "context": {"consent": {"categoryPreferences": {"Analytics": True}}},
            },
            "consent": {"type": "track", "event": "E", "userId": "u1"},
        }
        for reason, event in cases.items():
            for send in (False, True):
                r = await client.post("/admin/api/v1/test-event", json={"event": event, "send": send}, headers=bearer())
                assert r.status_code == 200, r.text
                (result,) = r.json()["results"]
                assert result["status"] == "filtered" and result["filter_reason"] == reason, result
                assert r.json()["sent"] is None
        assert not live_sandbox.calls()  # nothing reached 1Flow
        allowed = {**cases["consent"], "context": {"consent": {"categoryPreferences": {"Analytics": True}}}}
        r = await client.post("/admin/api/v1/test-event", json={"event": allowed, "send": True}, headers=bearer())
        assert r.json()["sent"]["outcome"]["kind"] == "delivered" and len(live_sandbox.calls()) == 1
