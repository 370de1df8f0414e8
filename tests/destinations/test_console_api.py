"""The console's side of the two destinations, through the admin API it reads: the Event Tester sends through
them (secrets masked), the mappings editor previews their actions, and the configuration and destination views
mask their secrets, with nothing in the admin API or the console knowing them."""

from __future__ import annotations

import gzip
import json

import pytest
import yaml

from tests.admin.conftest import TOKEN, AppClient, bearer
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.anyio
WRITE_KEY = "wk_segment_source_0123"
SECRET = "hook-secret-for-console-42"


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_event_tester_mapping_preview_and_masked_views(tmp_path):
    receiver = Receiver()
    config = {
        "storage": f"sqlite:///{tmp_path}/c.db",
        "admin": {"token": TOKEN},
        "sources": [{"name": "web", "write_key": "wk_web"}],
        "destinations": [
            {
                "name": "up",
                "type": "segment",
                "mode": "cloud",
                "settings": {"source_write_key": WRITE_KEY, "apiBaseUrl": receiver.url + "/v1"},
            },
            {
                "name": "hook",
                "type": "webhook",
                "mode": "cloud",
                "settings": {"sharedSecret": SECRET},
                "subscriptions": [
                    {
                        "name": "All tracks",
                        "subscribe": 'type = "track"',
                        "partnerAction": "send",
                        "mapping": {"url": receiver.url + "/hook", "method": "POST", "data": {"@path": "$."}},
                    }
                ],
            },
        ],
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)
    event = {"type": "track", "event": "Clicked", "userId": "u1", "messageId": "c-1"}
    try:
        async with AppClient(path) as client:
            for name, expected in (("up", "/v1/batch"), ("hook", "/hook")):
                body = {"event": event, "send": True, "destination": name}
                r = await client.post("/admin/api/v1/test-event", json=body, headers=bearer())
                sent = r.json()["sent"]
                assert r.status_code == 200 and sent["outcome"]["kind"] == "delivered", r.text
                assert receiver.requests[-1].path == expected
                assert WRITE_KEY not in r.text and SECRET not in r.text
            forwarded = json.loads(gzip.decompress(receiver.at("/v1/batch")[0].raw))["batch"]
            assert forwarded == [event]

            preview = {
                "destination": "up",
                "partnerAction": "sendTrack",
                "subscribe": 'type = "track"',
                "mapping": {"event_name": {"@path": "$.event"}, "user_id": {"@path": "$.userId"}},
                "event": event,
            }
            body = (await client.post("/admin/api/v1/mapping-preview", json=preview, headers=bearer())).json()
            assert body["mapping"]["ok"] is True and body["mapping"]["payload"]["event_name"] == "Clicked"

            for url in ("/admin/api/v1/config", "/admin/api/v1/destinations"):
                r = await client.get(url, headers=bearer())
                assert r.status_code == 200 and WRITE_KEY not in r.text and SECRET not in r.text, url
    finally:
        receiver.close()
