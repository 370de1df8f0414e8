"""Why an event was not sent, named alike everywhere an operator looks, on both backends: one event of each kind
through the running app and its worker (a page no subscription matches, an Identify without a userId that the
action refuses, a visitor without consent, a suppressed user), then the admin API's overview (`filtered_by`) and
delivery log, `status --json` and `events --json`."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import yaml

from actions_1flow.pipeline import open_store
from tests.admin.conftest import WRITE_KEY, AppClient, bearer, write_config
from tests.helpers.cli import invoke

pytestmark = pytest.mark.anyio

EXPECTED = {"page-1": "no_match", "anonymous-identify-1": "refused", "no-consent-1": "consent", "gone-1": "suppressed"}


def event(message_id: str, **fields: object) -> dict:
    return {"messageId": message_id, **fields}


async def test_every_view_names_the_reason_each_event_was_filtered_for(tmp_path, storage_url, live_sandbox):
    path = write_config(tmp_path, storage_url, live_sandbox.api_url())
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["destinations"][0]["consent"] = {"categories": ["C0001"], "missing": "allow"}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    store = open_store(storage_url)
    store.suppress("userId", "gone", time.time()).result()  # known to the app from its start
    store.close()

    app = AppClient(path, run_worker=True)
    async with app as client:
        batch = [
            event("sent-1", type="track", event="Signed Up", userId="u1"),
            event("page-1", type="page", name="Home", userId="u1"),
            event("anonymous-identify-1", type="identify", anonymousId="a1", traits={"plan": "pro"}),
            event(
                "no-consent-1",
                type="track",
                event="Signed Up",
                userId="u2",
                context={"consent": {"categoryPreferences": {"C0001": False}}},
            ),
        ]
        r = await client.post("/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
        assert r.status_code == 200, r.text
        # Ingest drops a suppressed user's new events; one stored before the suppression reached it is the worker's.
        gone = event("gone-1", type="track", event="Signed Up", userId="gone")
        app.state.store.append("web", [gone], time.time()).result()
        app.state.events_stored()

        deadline = time.monotonic() + 20
        while True:
            overview = (await client.get("/admin/api/v1/overview?range=1h", headers=bearer())).json()
            (row,) = overview["destinations"]
            if row["pending"] == 0 and row["delivered"] + row["filtered"] == 5:
                break
            assert time.monotonic() < deadline, row
            await asyncio.sleep(0.05)
        assert row["filtered_by"] == {"no_match": 1, "consent": 1, "suppressed": 1, "refused": 1}
        assert row["delivered"] == 1

        items = (await client.get("/admin/api/v1/events?limit=50", headers=bearer())).json()["items"]
        assert {i["messageId"]: i["reason"] for i in items if i["status"] == "filtered"} == EXPECTED
        assert [i["reason"] for i in items if i["status"] != "filtered"] == [None]
        detail = (await client.get("/admin/api/v1/events/anonymous-identify-1", headers=bearer())).json()
        [delivery] = [d for d in detail["deliveries"] if d["status"] == "filtered"]
        assert delivery["reason"] == "refused" and "userId" in delivery["error"]

    status, suppressed = [
        json.loads(line) for line in invoke("status", "--config", str(path), "--json").stdout.splitlines()
    ]
    assert suppressed["suppressed_ids"] == 1
    assert {k: v for k, v in status.items() if k.startswith("filtered_")} == {
        "filtered_no_match": 1,
        "filtered_consent": 1,
        "filtered_suppressed": 1,
        "filtered_refused": 1,
    }
    lines = [json.loads(line) for line in invoke("events", "--config", str(path), "--json").stdout.splitlines()]
    assert {e["messageId"]: e["reason"] for e in lines if e.get("status") == "filtered"} == EXPECTED
