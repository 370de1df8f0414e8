"""The store's file, its WAL companions, the delivery lock and a directory created for it are the owner's only."""

from __future__ import annotations

import stat
import time

from actions_1flow.pipeline import SQLiteStore


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_and_its_directory_are_owner_only(tmp_path):
    path = tmp_path / "new" / "dir" / "events.db"
    store = SQLiteStore(path)
    try:
        store.append("web", [{"type": "track", "messageId": "m1", "userId": "u"}], time.time()).result()
        assert store.acquire_delivery_lock() is None
        assert mode(path.parent) == 0o700
        files = [
            path,
            path.with_name("events.db-wal"),
            path.with_name("events.db-shm"),
            path.with_name("events.db.delivery.lock"),
        ]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        store.close()


def test_an_existing_directory_keeps_its_permissions(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)  # chosen by the operator (say, a group running serve and worker)
    store = SQLiteStore(shared / "events.db")
    store.close()
    assert mode(shared) == 0o750
    assert mode(shared / "events.db") == 0o600
