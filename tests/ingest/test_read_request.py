"""Tracking-API input rules: each limit and refusal with its status and JSON reason, and Segment's enrichment."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime

import pytest

from actions_1flow.ingest import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    IngestError,
    endpoint_kind,
    read_request,
)

NOW = datetime(2026, 11, 29, 12, 0, 0, 500_000, tzinfo=UTC)


def body(obj) -> bytes:
    return json.dumps(obj).encode()


def refuse(kind, raw, headers=None) -> IngestError:
    with pytest.raises(IngestError) as info:
        read_request(kind, raw, headers or {}, "10.0.0.1", NOW)
    err = info.value
    assert 400 <= err.status < 500
    assert err.to_json()["success"] is False
    return err


def test_short_paths_map_to_types():
    assert [endpoint_kind(n) for n in "itpsgab"] == ["identify", "track", "page", "screen", "group", "alias", "batch"]
    assert endpoint_kind("track") == "track" and endpoint_kind("batch") == "batch"
    assert endpoint_kind("x") is None and endpoint_kind("batches") is None
    # Segment's classic mobile libraries (analytics-android, which 1Flow's Android plugin needs) post to /v1/import.
    assert endpoint_kind("import") == "batch"


def test_single_event_takes_its_type_from_the_path_and_is_enriched():
    req = read_request(
        "t", body({"event": "Order Completed", "userId": "u1", "writeKey": "wk", "type": "page"}), {}, "10.0.0.1", NOW
    )
    assert req.write_key == "wk"
    [event] = req.events
    assert event["type"] == "track"
    assert "writeKey" not in event
    assert event["messageId"].startswith("api-") and len(event["messageId"]) == 40
    assert event["receivedAt"] == "2026-11-29T12:00:00.500Z"
    assert event["timestamp"] == "2026-11-29T12:00:00.500Z"
    assert event["context"] == {"ip": "10.0.0.1"}


def test_client_message_id_and_ip_are_kept():
    raw = body({"userId": "u", "messageId": "m-1", "context": {"ip": "1.1.1.1", "locale": "de"}})
    [event] = read_request("identify", raw, {}, "10.0.0.1", NOW).events
    assert event["messageId"] == "m-1"
    assert event["context"] == {"ip": "1.1.1.1", "locale": "de"}


def test_timestamp_is_corrected_for_client_clock_skew():
    # The client clock runs 1 h fast: it stamped the call 10 s before it sent it.
    raw = body({"userId": "u", "timestamp": "2026-11-29T13:00:00.000Z", "sentAt": "2026-11-29T13:00:10.000Z"})
    [event] = read_request("track", raw, {}, None, NOW).events
    assert event["timestamp"] == "2026-11-29T11:59:50.500Z"
    assert event["originalTimestamp"] == "2026-11-29T13:00:00.000Z"
    assert "context" not in event  # no connection address known, nothing invented


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-11-29T10:00:00+02:00", "2026-11-29T08:00:00.000Z"),
        ("2026-11-29T08:00:00.123Z", "2026-11-29T08:00:00.123Z"),  # as Segment writes it: kept as it is
        ("2026-11-29t08:00:00.123z", "2026-11-29T08:00:00.123Z"),
        ("2026-11-29T08:00:00.123456Z", "2026-11-29T08:00:00.123Z"),
        (" 2026-11-29T08:00:00.123Z", "2026-11-29T08:00:00.123Z"),
        ("2026-11-29T08:00:00Z", "2026-11-29T08:00:00.000Z"),
        ("2026-11-29", "2026-11-29T00:00:00.000Z"),
        ("2026-11-29Z", "2026-11-29T00:00:00.000Z"),
        ("2026-W48-7z", "2026-11-29T00:00:00.000Z"),
        ("0001-01-01T00:30:00+01:00", "2026-11-29T12:00:00.500Z"),  # before year 1 in UTC: unusable, receipt time
        ("2026-02-30T08:00:00.000Z", "2026-11-29T12:00:00.500Z"),  # no such day
    ],
)
def test_timestamp_without_sent_at_is_kept_in_utc_with_milliseconds(sent, stored):
    raw = body({"userId": "u", "timestamp": sent})
    [event] = read_request("track", raw, {}, None, NOW).events
    assert (event["timestamp"], event["originalTimestamp"]) == (stored, sent)


def test_batch_sent_at_and_shared_context_apply_to_every_event():
    raw = body(
        {
            "batch": [
                {"type": "track", "event": "a", "userId": "u", "timestamp": "2026-11-29T12:00:00Z"},
                {"type": "identify", "anonymousId": "x", "context": {"own": True}},
            ],
            "sentAt": "2026-11-29T12:00:05Z",
            "context": {"library": {"name": "analytics-python"}},
        }
    )
    a, b = read_request("batch", raw, {}, None, NOW).events
    assert a["timestamp"] == "2026-11-29T11:59:55.500Z"
    assert a["context"] == {"library": {"name": "analytics-python"}}
    assert b["context"] == {"own": True}


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Basic " + base64.b64encode(b"wk_basic:").decode()},
        {"authorization": "Basic " + base64.b64encode(b"wk_basic").decode()},
    ],
)
def test_basic_auth_names_the_write_key(headers):
    assert read_request("track", body({"userId": "u"}), headers).write_key == "wk_basic"


def test_bearer_with_body_write_key():
    headers = {"authorization": "Bearer some-token"}
    assert read_request("track", body({"userId": "u", "writeKey": "wk_body"}), headers).write_key == "wk_body"
    assert read_request("track", body({"userId": "u"}), headers).write_key is None


def test_missing_write_key_is_none_for_the_server_to_refuse():
    assert read_request("track", body({"userId": "u"}), {}).write_key is None


def test_bad_basic_header():
    err = refuse("track", body({"userId": "u"}), {"authorization": "Basic %%%"})
    assert (err.status, err.code) == (401, "invalid_authorization")


def test_gzip_body():
    raw = gzip.compress(body({"userId": "u", "event": "e"}))
    [event] = read_request("track", raw, {"content-encoding": "gzip"}).events
    assert event["event"] == "e"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'"text"', "invalid_json"),
        (b'{"a": NaN}', "invalid_json"),
        (b'{"userId": "\xff"}', "invalid_json"),
    ],
)
def test_invalid_json_is_400(raw, code):
    err = refuse("track", raw)
    assert (err.status, err.code) == (400, code)


def test_no_user_or_anonymous_id():
    for event in ({}, {"userId": None, "anonymousId": ""}, {"userId": ""}):
        err = refuse("track", body(event))
        assert (err.status, err.code) == (400, "no_user_anon_id")


def test_unknown_type_in_batch():
    err = refuse("batch", body({"batch": [{"type": "track", "userId": "u"}, {"type": "purchase", "userId": "u"}]}))
    assert (err.status, err.code) == (400, "invalid_type")
    assert "batch[1]" in err.message and "'purchase'" in err.message


def test_batch_must_be_a_list_of_objects():
    assert refuse("batch", body({"batch": {"type": "track"}})).code == "invalid_batch"
    assert refuse("batch", body({"batch": [1]})).code == "invalid_event"


def test_event_over_32_kb():
    big = {"userId": "u", "properties": {"blob": "x" * MAX_EVENT_BYTES}}
    err = refuse("track", body(big))
    assert (err.status, err.code) == (400, "event_too_large")
    assert "32 KB" in err.message


def test_event_just_under_32_kb_is_accepted():
    event = {"userId": "u", "properties": {"blob": ""}}
    event["properties"]["blob"] = "x" * (MAX_EVENT_BYTES - len(json.dumps(event, separators=(",", ":"))) - 40)
    assert len(read_request("track", body(event), {}).events) == 1


def test_batch_over_500_kb():
    events = [{"type": "track", "userId": "u", "properties": {"blob": "x" * 20_000}} for _ in range(30)]
    err = refuse("batch", body({"batch": events}))
    assert (err.status, err.code) == (400, "batch_too_large")
    assert f"{MAX_BATCH_BYTES:,}" in err.message


def test_gzip_bomb_is_refused_without_inflating_it():
    raw = gzip.compress(b'{"batch": [' + b" " * (50 * MAX_BATCH_BYTES) + b"]}")
    assert len(raw) < MAX_BATCH_BYTES
    err = refuse("batch", raw, {"content-encoding": "gzip"})
    assert (err.status, err.code) == (400, "batch_too_large")


def test_batch_over_2500_events():
    events = [{"type": "track", "userId": "u"}] * (MAX_BATCH_EVENTS + 1)
    err = refuse("batch", body({"batch": events}))
    assert (err.status, err.code) == (400, "batch_too_many_events")
    assert "2,500" in err.message


def test_corrupt_gzip_and_unknown_encoding():
    assert refuse("track", b"\x1f\x8b garbage", {"content-encoding": "gzip"}).code == "invalid_encoding"
    assert (
        refuse("track", gzip.compress(body({"userId": "u"}))[:-9], {"content-encoding": "gzip"}).code
        == "invalid_encoding"
    )
    err = refuse("track", body({"userId": "u"}), {"content-encoding": "br"})
    assert (err.status, err.code) == (415, "unsupported_encoding")


def test_every_gzip_member_is_read():
    """A gzip body may be several members back to back (RFC 1952); the data after the first one is not dropped."""
    whole = body(
        {
            "batch": [
                {"type": "track", "userId": "u", "event": "first"},
                {"type": "track", "userId": "u", "event": "second"},
            ]
        }
    )
    raw = gzip.compress(whole[:20]) + gzip.compress(whole[20:])
    events = read_request("batch", raw, {"content-encoding": "gzip"}, "10.0.0.1", NOW).events
    assert [e["event"] for e in events] == ["first", "second"]


def test_members_together_keep_the_inflated_limit():
    half = gzip.compress(b" " * (MAX_BATCH_BYTES // 2 + 1))
    err = refuse("batch", half + half + gzip.compress(b"{}"), {"content-encoding": "gzip"})
    assert (err.status, err.code) == (400, "batch_too_large")


@pytest.mark.parametrize("trailer", [b"garbage after the member", b"\x1f\x8b\x08"])
def test_bytes_after_a_gzip_member_that_are_no_member_are_refused(trailer):
    err = refuse("track", gzip.compress(body({"userId": "u", "event": "e"})) + trailer, {"content-encoding": "gzip"})
    assert (err.status, err.code) == (400, "invalid_encoding")


def test_bytes_after_a_deflate_stream_are_refused():
    import zlib

    err = refuse(
        "track",
        zlib.compress(body({"userId": "u", "event": "e"})) + b'{"userId": "x"}',
        {"content-encoding": "deflate"},
    )
    assert (err.status, err.code) == (400, "invalid_encoding")
    assert "follow the end" in err.message


def test_too_deep_to_store():
    deep = {"userId": "u", "properties": json.loads("[" * 300 + "]" * 300)}
    assert refuse("track", body(deep)).code == "event_too_deep"
    nested = json.dumps({"userId": "u", "properties": {}}).replace("{}", "[" * 2000 + "]" * 2000).encode()
    assert refuse("track", nested).code == "invalid_json"


def test_a_refused_batch_leaves_nothing_half_read():
    """All events are checked before any is returned: the request is accepted or refused as a whole."""
    raw = body({"batch": [{"type": "track", "userId": "u"}, {"type": "track"}]})
    assert refuse("batch", raw).code == "no_user_anon_id"
