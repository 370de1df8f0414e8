"""`actions-1flow status`, `events` and `replay` on a store filled directly (the fault tests drive them end to end),
on both backends (`storage_url` is parametrized over SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import click
import pytest

from actions_1flow.cli.operations import format_age, parse_moment
from actions_1flow.pipeline import DeliveryRecord, DeviceEvent, FilterReason, SQLiteStore, open_store
from tests.helpers.cli import invoke

from .conftest import set_cursor


def write_config(tmp_path, *names: str, storage: str | None = None):
    dests = "".join(
        f"\n  - {{name: {n}, mode: cloud, sources: [web], settings: {{projectApiKey: k_{n}_0123456789, apiBaseUrl: 'http://127.0.0.1:9/v1'}}}}"
        for n in names
    )
    path = tmp_path / "c.yaml"
    path.write_text(
        f"storage: {storage or f'sqlite:///{tmp_path}/db.sqlite'}\nsources:\n  - {{name: web, write_key: wk}}\n"
        f"  - {{name: other, write_key: wk2}}\ndestinations:{dests}\n"
        "  - {name: browser, mode: device, settings: {projectApiKey: k}}\n"
    )
    return path


def ev(mid: str, kind: str = "track") -> dict:
    return {"type": kind, "event": "E", "userId": "u", "messageId": mid}


@pytest.fixture
def filled(tmp_path, storage_url):
    """Destinations a and b: a has delivered, filtered, retrying and dead rows and one event still unread.
    Returns the configuration and the time the store was filled at."""
    now = time.time()
    config = write_config(tmp_path, "a", "b", storage=storage_url)
    store = open_store(storage_url, partitions=1)
    store.append("web", [ev("m1"), ev("m2"), ev("m3", "page")], now - 7200).result()
    store.append("web", [ev("m4"), ev("m5")], now - 60).result()
    store.append("other", [ev("x1")], now).result()
    set_cursor(store, "a", 5)
    set_cursor(store, "b", 0)
    store.record(
        "a",
        [
            DeliveryRecord(
                1,
                "Track Event",
                "delivered",
                attempts=1,
                request="POST http://h/v1/batch [api_key: ****6789]",
                response="200 {}",
            ),
            DeliveryRecord(
                2,
                "Track Event",
                "dead",
                attempts=1,
                error="401 Unauthorized: invalid api_key",
                hint="check the Project API Key",
                request="POST http://h/v1/batch [api_key: ****6789]",
                response='401 {"error":"invalid api_key"}',
            ),
            DeliveryRecord(3, "", "filtered", error="matched no subscription", reason=FilterReason.NO_MATCH),
            DeliveryRecord(
                4,
                "Track Event",
                "retrying",
                attempts=2,
                first_attempt_at=now - 50,
                next_attempt_at=now + 30,
                error="503",
            ),
            DeliveryRecord(
                5, "Track Event", "dead", attempts=1, error="401 Unauthorized", hint="check the Project API Key"
            ),
        ],
    ).result()
    store.close()
    return config, now


def test_status_json_and_table(filled):
    filled, _ = filled
    result = invoke("status", "--config", str(filled), "--json")
    assert result.exit_code == 0
    rows = {r["destination"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(rows) == {"a", "b"}  # device-mode destinations are not in the pipeline
    a = rows["a"]
    assert (a["received"], a["delivered"], a["filtered"], a["retrying"], a["dead"], a["pending"]) == (5, 1, 1, 1, 2, 1)
    assert 55 <= a["oldest_pending_age_s"] <= 600 and 0 < a["next_retry_in_s"] <= 30
    b = rows["b"]
    assert (b["delivered"], b["pending"]) == (0, 5) and b["oldest_pending_age_s"] >= 7200 - 5
    table = invoke("status", "--config", str(filled), env={"COLUMNS": "150"}).stdout  # room for the table
    for text in ("destination", "dead-lettered", "oldest pending", "next retry", "2h", "in "):
        assert text in table


def test_status_and_events_fit_80_columns(filled):
    """`COLUMNS=80`: one block per row instead of a table squeezed letter by letter; no line longer than 80."""
    filled, _ = filled
    status = invoke("status", "--config", str(filled), env={"COLUMNS": "80"}).stdout
    events = invoke("events", "--config", str(filled), env={"COLUMNS": "80"}).stdout
    for out in (status, events):
        assert max(len(line) for line in out.splitlines()) <= 80, out
    status, events = (re.sub(r" +$", "", out, flags=re.M) for out in (status, events))  # cells are padded
    assert re.search(r"^a\n  received +5\n  filtered +1\n +no match 1\n  delivered +1\n", status, re.M), status
    assert re.search(r"^  dead-lettered +2$", status, re.M) and re.search(r"^  next retry +in \d+s$", status, re.M)
    # Each delivery: when, then its fields by name, the event's name and messageId whole.
    assert re.search(r"^  event · messageId +track \"E\"\n +m1$", events, re.M), events
    assert re.search(r"^  status +dead\n +1 attempt$", events, re.M), events
    assert re.search(r"^  event · messageId +page\n +m3$", events, re.M), events  # a page without a name
    wide = invoke("events", "--config", str(filled), env={"COLUMNS": "160"}).stdout
    assert "┃ event · messageId" in wide  # a table when it fits


def test_events_lists_newest_first_with_filters(filled):
    filled, _ = filled
    out = invoke("events", "--config", str(filled), "--json").stdout
    entries = [json.loads(line) for line in out.splitlines()]
    assert len(entries) == 5 and {e["destination"] for e in entries} == {"a"}
    failed = [
        json.loads(line) for line in invoke("events", "--config", str(filled), "--failed", "--json").stdout.splitlines()
    ]
    assert sorted((e["messageId"], e["status"]) for e in failed) == [("m2", "dead"), ("m4", "retrying"), ("m5", "dead")]
    [m2] = [e for e in failed if e["messageId"] == "m2"]
    assert m2["hint"] == "check the Project API Key" and m2["request"].endswith("[api_key: ****6789]")
    assert m2["response"].startswith("401") and m2["type"] == "track"
    limited = invoke("events", "--config", str(filled), "--limit", "2", "--json").stdout.splitlines()
    assert len(limited) == 2
    table = invoke("events", "--config", str(filled), "--failed", env={"COLUMNS": "200"}).stdout
    assert "check the Project API Key" in table and "next in" in table and "m4" in table
    assert "****6789" in table  # `[api_key: …]` is shown as text, not swallowed as rich markup
    assert "from web" in table and all(e["source"] == "web" for e in entries)  # where each event came from
    assert (
        "no failed deliveries recorded for b"
        in invoke("events", "--config", str(filled), "--failed", "--destination", "b").stdout
    )


def test_events_shows_device_mode_reports_next_to_deliveries(filled, storage_url):
    filled, now = filled
    store = open_store(storage_url)
    store.record_device_event(
        DeviceEvent(
            now - 5,
            "web",
            "browser",
            "sdk-load",
            "the 1Flow SDK did not load from http://127.0.0.1:9/js/1flow.js",
            origin="http://shop.example",
        )
    ).result()
    store.close()
    lines = [json.loads(line) for line in invoke("events", "--config", str(filled), "--json").stdout.splitlines()]
    [report] = [e for e in lines if e.get("channel") == "device"]
    assert (report["destination"], report["kind"], report["origin"]) == ("browser", "sdk-load", "http://shop.example")
    assert len(lines) == 6  # the five deliveries are still listed
    table = invoke("events", "--config", str(filled), "--destination", "browser").stdout
    assert "device mode: reports from pages" in table and "sdk-load" in table and "did not load" in table
    assert "no deliveries recorded for browser" in table
    only_cloud = invoke("events", "--config", str(filled), "--destination", "a", "--json").stdout
    assert '"channel"' not in only_cloud


def test_events_escapes_control_characters_from_event_data(filled, storage_url):
    """A page's report (or a messageId) carrying terminal escapes is shown escaped, never acted on by the terminal."""
    filled, now = filled
    store = open_store(storage_url)
    store.record_device_event(
        DeviceEvent(
            now - 5,
            "web",
            "browser",
            "sdk-call",
            "\x1b[41mred alert\x1b[0m\rfake \u202eevil\x9b[2J",
            message_id="m-\x1b]0;owned\x07",
            event_type="track\nforged line",
        )
    ).result()
    store.append("web", [ev("\x1b]0;title\x07")], now).result()
    store.record("a", [DeliveryRecord(7, "Track Event", "dead", attempts=1, error="400 \x1b[2J cleared")]).result()
    store.close()
    table = invoke("events", "--config", str(filled)).stdout
    assert "\x1b" not in table and "\x07" not in table and "\r" not in table
    for shown in ("\\x1b[41mred", "\\x1b]0;owned\\x07", "track\\nforged", "\\x1b]0;title", "\\x1b[2J"):
        assert shown in table.replace("\n", "").replace("│", "").replace(" ", ""), shown
    lines = invoke("events", "--config", str(filled), "--json").stdout
    assert "\x1b" not in lines and "\\u001b[41m" in lines  # JSON escapes C0 controls itself
    # ... and JSON encoders leave C1 controls and bidi overrides raw: escaped as \uXXXX (issue 22 point 11)
    assert "\u202e" not in lines and "\x9b" not in lines and "\\u202eevil\\u009b[2J" in lines
    assert any("\u202eevil\x9b" in json.loads(line).get("message", "") for line in lines.splitlines())


def test_replay_window_destination_dry_run_and_twice(filled, storage_url):
    filled, now = filled
    iso = datetime.fromtimestamp(now - 3600, UTC).isoformat()
    dry = invoke("replay", "--config", str(filled), "--since", "3h", "--dry-run")
    assert "would re-queue 2 dead-lettered deliveries" in dry.stdout and "a: 2" in dry.stdout
    window = invoke("replay", "--config", str(filled), "--since", iso, "--dry-run")
    assert "would re-queue 1 dead-lettered delivery " in window.stdout  # m5 only: m2 was received 2 h ago
    assert (
        "would re-queue 0"
        in invoke("replay", "--config", str(filled), "--since", "3h", "--destination", "b", "--dry-run").stdout
    )
    first = invoke("replay", "--config", str(filled), "--since", "3h", "--destination", "a")
    assert first.exit_code == 0 and "re-queued 2 dead-lettered deliveries" in first.stdout
    assert "nothing to replay" in invoke("replay", "--config", str(filled), "--since", "3h").stdout
    store = open_store(storage_url)
    try:
        due = store.due("a", time.time(), 10)  # m4 is retrying but not due for another 30 s
        assert sorted((d.event.event["messageId"], d.attempts) for d in due) == [("m2", 0), ("m5", 0)]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events", "--destination", "nope"], "unknown destination 'nope'; the destinations are: a, b, browser"),
        (["replay", "--since", "1h", "--destination", "browser"], "the cloud-mode destinations are: a, b"),
        (["replay", "--since", "1h", "--until", "2h"], "--until"),
        (["replay", "--since", "yesterday"], "neither a duration ago"),
    ],
)
def test_operator_mistakes_are_reported(filled, args, message):
    filled, _ = filled
    result = invoke(args[0], "--config", str(filled), *args[1:])
    assert result.exit_code == 2 and message in result.output


def test_no_store_yet_is_a_clear_error(tmp_path):
    config = write_config(tmp_path, "a")
    result = invoke("status", "--config", str(config))
    assert result.exit_code == 2 and "no event store at" in result.output
    assert not (tmp_path / "db.sqlite").exists()  # looking does not create it


def test_parse_moment_and_format_age():
    now = 1_700_000_000.0
    assert parse_moment("2h", now) == now - 7200 and parse_moment("90s", now) == now - 90
    assert parse_moment("2024-05-01T09:00:00Z", now) == datetime(2024, 5, 1, 9, tzinfo=UTC).timestamp()
    assert parse_moment("2024-05-01", now) == datetime(2024, 5, 1).astimezone().timestamp()
    with pytest.raises(click.BadParameter):
        parse_moment("soon", now)
    assert [format_age(s) for s in (None, 5, 65, 3600, 3 * 3600 + 1200, 2 * 86400 + 3600)] == [
        "",
        "5s",
        "1m 5s",
        "1h",
        "3h 20m",
        "2d 1h",
    ]


def test_reading_the_pipeline_needs_no_destination_secret(tmp_path):
    """`status`, `events` and `replay` read the store: an unset `${ONEFLOW_PROJECT_KEY}` must not stop them,
    while anything that delivers (`send`) still refuses without it."""
    config = tmp_path / "c.yaml"
    config.write_text(
        f"storage: sqlite:///{tmp_path}/db.sqlite\nsources:\n  - {{name: web, write_key: wk}}\ndestinations:\n"
        "  - {name: a, mode: cloud, sources: [web], settings: {projectApiKey: '${ONEFLOW_PROJECT_KEY}', "
        "apiBaseUrl: 'http://127.0.0.1:9/v1'}}\n"
    )
    store = SQLiteStore(tmp_path / "db.sqlite")
    store.append("web", [ev("m1")], time.time()).result()
    store.close()
    no_key = {"ONEFLOW_PROJECT_KEY": None}
    status = invoke("status", "--config", str(config), "--json", env=no_key)
    assert status.exit_code == 0 and json.loads(status.stdout)["received"] == 1
    assert invoke("events", "--config", str(config), env=no_key).exit_code == 0
    assert invoke("replay", "--config", str(config), "--since", "1h", "--dry-run", env=no_key).exit_code == 0
    refused = invoke("send", "--config", str(config), "-", input=json.dumps(ev("m2")), env=no_key)
    assert refused.exit_code == 2 and "environment variable ONEFLOW_PROJECT_KEY is not set" in refused.stderr
