"""The store's device-event log: durable, newest first, limited."""

from __future__ import annotations

from actions_1flow.pipeline import DeviceEvent, SQLiteStore


def test_device_events_are_durable_and_listed_newest_first(tmp_path):
    path = tmp_path / "db.sqlite"
    store = SQLiteStore(path)
    sub = {"id": "d:0", "name": "Orders", "partnerAction": "trackEvent"}
    events = [
        DeviceEvent(
            100.0,
            "web",
            "1flow-web",
            "sdk-load",
            "blocked",
            sdk_url="https://1flow.app/js/1flow.js",
            origin="https://shop.example",
        ),
        DeviceEvent(
            101.0, "web", "1flow-web", "mapping", "failed", subscription=sub, event_type="track", message_id="m1"
        ),
        DeviceEvent(101.0, "app", "1flow-app", "config", "no key"),
    ]
    for event in events:
        store.record_device_event(event).result()
    store.close()

    reopened = SQLiteStore(path)
    try:
        assert reopened.device_events(10) == [events[2], events[1], events[0]]
        assert reopened.device_events(1) == [events[2]]
    finally:
        reopened.close()
