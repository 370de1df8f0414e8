"""`import` in the store, on both backends: files as Segment's archives are written (gzip told by content), bad lines
counted with file and line, the imported keys kept past the events themselves, suppressed users dropped, and the
pace kept to the destinations' delivery."""

from __future__ import annotations

import gzip
import time

import orjson
import pytest

from actions_1flow.pipeline import DeliveryRecord
from actions_1flow.pipeline.backfill import Importer, ImportStalled, archive_files
from actions_1flow.pipeline.suppression import SuppressionList

from .conftest import execute, set_cursor


def event(n: int, **extra) -> dict:
    return {"type": "track", "event": "E", "userId": f"u{n}", "messageId": f"m{n}", "properties": {"n": n}, **extra}


def lines(*items) -> bytes:
    return b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in items)


def test_files_directories_gzip_by_content_and_bad_lines_with_their_place(tmp_path, store):
    (tmp_path / "day1").mkdir()
    (tmp_path / "day1" / "a.gz").write_bytes(gzip.compress(lines(event(1), event(2), b"", b"[1]")))
    (tmp_path / "day1" / "b.json").write_bytes(gzip.compress(lines(event(3))))  # gzip, whatever the name says
    (tmp_path / "day1" / "notes.txt").write_text("not an archive")
    plain = tmp_path / "export.jsonl"
    plain.write_bytes(lines(event(4), {"type": "track", "event": "E"}, event(5, type="purchase")))
    files = archive_files([tmp_path / "day1", plain])
    assert [f.name for f in files] == ["a.gz", "b.json", "export.jsonl"]
    report = Importer(store, "web", {}, max_lag=None).run(files)
    assert (report.files, report.lines, report.stored, report.duplicates) == (3, 7, 4, 0)
    assert dict(report.refused) == {"invalid_event": 1, "no_user_anon_id": 1, "invalid_type": 1}
    assert report.problems == [
        f"{tmp_path}/day1/a.gz:4: the event is not a JSON object",
        f"{plain}:2: the event has neither a userId nor an anonymousId",
        f"{plain}:3: the event has type 'purchase'; expected one of identify, track, page, screen, group, alias",
    ]
    with pytest.raises(FileNotFoundError, match="nope: no such file"):
        archive_files([tmp_path / "nope"])


def test_a_truncated_gzip_keeps_what_was_read_and_goes_on_to_the_next_file(tmp_path, store):
    whole = gzip.compress(lines(*(event(n) for n in range(2000))))
    (tmp_path / "a.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "b.gz").write_bytes(gzip.compress(lines(event(5000))))
    report = Importer(store, "web", {}, max_lag=None).run(archive_files([tmp_path]))
    assert 0 < report.stored < 2001 and store.find_event("m5000", ["web"]) is not None
    assert report.refused["unreadable"] == 1 and "a.gz" in report.problems[0]


def test_the_same_files_store_nothing_new_even_after_the_events_are_pruned(tmp_path, store):
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(event(1), event(2), event(2), {"type": "identify", "userId": "u9", "traits": {"a": 1}}))
    first = Importer(store, "web", {}, max_lag=None).run([path])
    assert (first.stored, first.duplicates) == (3, 1)  # the line repeated in the file, once
    derived = [r for (r,) in execute(store, "SELECT message_id FROM events WHERE message_id LIKE ?", ("import-%",))]
    assert len(derived) == 1  # the line without a messageId got one from its content
    # Weeks later every event is delivered and pruned (past the dedup window and the retention) …
    store.record("d", [DeliveryRecord(seq, "s", "delivered") for seq in range(1, 4)]).result()
    set_cursor(store, "d", store.last_seq())
    removed, _ = store.prune(time.time() + 1, time.time() + 1, ["d"]).result()
    assert removed >= 3 and store.find_event("m1", ["web"]) is None
    again = Importer(store, "web", {}, max_lag=None).run([path])
    assert (again.stored, again.duplicates) == (0, 4)  # … and the imported keys still know them
    assert Importer(store, "app", {}, max_lag=None).run([path]).stored == 3  # another source has its own keys
    # A live event's messageId counts too: import after receipt stores nothing twice.
    store.append("web", [event(7)], time.time()).result()
    path.write_bytes(lines(event(7), event(8)))
    assert Importer(store, "web", {}, max_lag=None).run([path]).stored == 1


def test_suppressed_users_are_dropped_as_at_ingest(tmp_path, store):
    store.suppress("userId", "u2", time.time()).result()
    suppressions = SuppressionList(store)
    suppressions.load()
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(event(1), event(2), event(3)))
    report = Importer(store, "web", {}, max_lag=None, suppressions=suppressions).run([path])
    assert (report.stored, report.suppressed) == (2, 1) and store.find_event("m2", ["web"]) is None


def test_the_import_waits_for_delivery_and_stops_when_nobody_delivers(tmp_path, store, monkeypatch):
    from actions_1flow.pipeline import backfill

    monkeypatch.setattr(backfill, "IMPORT_BATCH", 100)
    monkeypatch.setattr(backfill, "MIN_BACKLOG", 150)
    monkeypatch.setattr(backfill, "STALL_S", 0.5)
    store.ensure_cursor("d").result()
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(*(event(n) for n in range(1000))))
    waited = []
    importer = Importer(store, "web", {"d": ["web"]}, max_lag=1.0, on_wait=waited.append)
    with pytest.raises(ImportStalled, match="none was delivered for 0s: start `actions-1flow serve` or `worker`"):
        importer.run([path])
    report = importer.report  # a batch or two past the backlog (the next is written while one is counted) …
    assert report.stored in (200, 300) and waited
    assert report.stored == report.lines  # … and every batch written is counted
