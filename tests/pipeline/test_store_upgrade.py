"""Stores written before the filter reason was a column open, upgrade in place, and keep every count, on both
backends: an SQLite file (schema 2) and a PostgreSQL schema (version 1) as the code at commit fb59bfb wrote them,
one delivery of every kind in each (tests/fixtures/stores: how they were made, and what that code's `counts()`
said of them)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from actions_1flow.pipeline import DeliveryRecord, FilterReason, open_store

from .conftest import execute, is_postgres, log
from .test_store_counts import reference

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
FIGURES = json.loads((FIXTURES / "figures.json").read_text(encoding="utf-8"))
DESTINATIONS = {"cloud": ["web", "app"], "second": ["web"]}
REASONS = {
    "nomatch-1": FilterReason.NO_MATCH,  # a page: no subscription matched
    "refused-1": FilterReason.REFUSED,  # an Identify without a userId: the action refused it
    "consent-1": FilterReason.CONSENT,
    "suppressed-1": FilterReason.SUPPRESSED,
}
"""The reason each filtered event of the fixtures was filtered for (the message ids say which)."""

COUNT_TABLES = ("received_totals", "passed_totals", "delivery_totals", "delivery_minutes", "received_minutes")


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request, tmp_path) -> tuple[str, str]:
    """The backend and the URL of a store as commit fb59bfb left it."""
    if request.param == "sqlite":
        path = tmp_path / "old.db"
        conn = sqlite3.connect(path)
        conn.executescript((FIXTURES / "sqlite-schema-2.sql").read_text(encoding="utf-8"))
        conn.close()
        return "sqlite", f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((FIXTURES / "postgres-schema-1.sql").read_text(encoding="utf-8"))  # type: ignore[arg-type]
    return "postgresql", url


def drop_kept_counts(backend: str, url: str) -> None:
    """Make the old store one of the weeks before it kept counts."""
    if backend == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {trigger}")
        for table in COUNT_TABLES:
            conn.execute(f"DROP TABLE {table}")
        conn.commit()
        conn.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET search_path TO actions_1flow")
        conn.execute(f"DROP TABLE {', '.join(COUNT_TABLES)}")
        functions = conn.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = %s",
            ("actions_1flow",),
        ).fetchall()
        for (name,) in functions:
            conn.execute(f"DROP FUNCTION {name} CASCADE")


def expected_filtered_by(backend: str) -> dict[str, dict[str, int]]:
    """Per destination, the filtered rows of the fixture by the reason their event was filtered for."""
    out: dict[str, dict[str, int]] = {}
    for dest, _, message_id, status, *_ in FIGURES[backend]["log"]:
        if status == "filtered":
            reason = REASONS[message_id].value
            out.setdefault(dest, {})[reason] = out.setdefault(dest, {}).get(reason, 0) + 1
    return out


def check_figures(store, backend: str) -> None:
    """Every count the old code gave, the filtered ones now split by their real reason."""
    filtered_by = expected_filtered_by(backend)
    for got, was in zip(store.counts(DESTINATIONS), FIGURES[backend]["counts"], strict=True):
        assert (got.destination, got.received, got.pending, got.by_status, got.oldest_pending_at) == (
            was["destination"],
            was["received"],
            was["pending"],
            was["by_status"],
            was["oldest_pending_at"],
        )
        assert got.filtered_by == filtered_by[got.destination]
        assert sum(got.filtered_by.values()) == was["by_status"]["filtered"]
    rows = sorted(
        [e.destination, e.subscription, e.message_id, e.status, e.error, e.attempts, e.replays] for e in log(store, 100)
    )
    assert rows == FIGURES[backend]["log"]
    assert {(e.message_id, e.reason) for e in log(store, 100) if e.status == "filtered"} == {
        (message_id, REASONS[message_id]) for message_id in ("nomatch-1", "refused-1", "consent-1", "suppressed-1")
    }
    assert [[s.kind, s.value, s.dropped] for s in store.suppressions()] == FIGURES[backend]["suppressions"]
    assert len(store.device_events(100)) == FIGURES[backend]["device_events"]


def test_a_store_of_the_layout_before_upgrades_in_place_and_keeps_every_count(old_store):
    backend, url = old_store
    store = open_store(url, partitions=4)
    try:
        check_figures(store, backend)
        # And it counts from then on, by its own writes only (the old layout's triggers are gone: nothing twice).
        store.append(
            "web", [{"type": "track", "event": "E", "userId": "u9", "messageId": "new-1"}], time.time()
        ).result()
        late = store.find_event("new-1", ["web"])
        assert late is not None
        store.record(
            "second", [DeliveryRecord(late.seq, "", "filtered", error="no", reason=FilterReason.NO_MATCH)]
        ).result()
        assert [
            (c.destination, c.received, c.pending, c.by_status, c.filtered_by) for c in store.counts(DESTINATIONS)
        ] == [(d, r, p, s, f) for d, r, p, s, f, _ in reference(store, DESTINATIONS)]
    finally:
        store.close()
    again = open_store(url, partitions=4)  # upgraded once: opening again changes nothing
    try:
        assert again.counts(DESTINATIONS)[0].by_status == FIGURES[backend]["counts"][0]["by_status"]
        if is_postgres(again):
            assert execute(again, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]
        else:
            assert execute(again, "PRAGMA user_version") == [(4,)]
    finally:
        again.close()


def test_a_store_from_before_the_kept_counts_gets_them_from_its_rows(old_store):
    backend, url = old_store
    drop_kept_counts(backend, url)
    store = open_store(url, partitions=4)
    try:
        check_figures(store, backend)
        since = FIGURES[backend]["counts"][0]["oldest_pending_at"] - 3600  # when the fixture was written
        series = store.activity(["cloud"], since, 3600, sources=DESTINATIONS)["cloud"]
        assert sum(b["received"] for _, b in series) == FIGURES[backend]["counts"][0]["received"]
        assert sum(b["delivered"] for _, b in series) == FIGURES[backend]["counts"][0]["by_status"]["delivered"]
    finally:
        store.close()


def test_a_store_of_the_layout_before_backfill_gets_the_replay_columns_and_the_import_keys(storage_url):
    """The layout main had before issue 27 (SQLite schema 3, PostgreSQL 2) is this one without the replay columns
    and the `imported` table: made so by hand here, then opened and upgraded in place, its rows kept."""
    store = open_store(storage_url)
    store.append("web", [{"type": "track", "event": "E", "userId": "u", "messageId": "old-1"}], time.time()).result()
    store.record("d", [DeliveryRecord(1, "s", "delivered")]).result()
    execute(store, "ALTER TABLE deliveries DROP COLUMN replay_of")
    execute(store, "ALTER TABLE deliveries DROP COLUMN replay_config")
    execute(store, "DROP TABLE imported")
    if is_postgres(store):
        execute(store, "UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    else:
        execute(store, "PRAGMA user_version = 3")
    store.close()
    store = open_store(storage_url)
    try:
        assert [(e.message_id, e.status, e.replay_of) for e in log(store, 10)] == [("old-1", "delivered", None)]
        assert (
            store.append_imported("web", [{"type": "track", "userId": "u", "messageId": "old-1"}], 0).result().accepted
            == 0
        )
        assert store.requeue(0, time.time(), "d", time.time() + 1, statuses=("delivered",)).result().moved == 1
        if is_postgres(store):
            assert execute(store, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]
        else:
            assert execute(store, "PRAGMA user_version") == [(4,)]
    finally:
        store.close()
