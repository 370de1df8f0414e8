"""The pipeline suite runs against both storage backends: `store` is parametrized over SQLite and PostgreSQL (a
fresh file, or a fresh database of the session's real cluster). Tests of one backend's own behaviour (files and
permissions, the lock file) use `sqlite_store`."""

from __future__ import annotations

import pytest

from actions_1flow.pipeline import LogEntry, SQLiteStore, Store, open_store, queries

LOW_BITS = (1 << 64) - 1


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path) -> str:
    """A `storage:` URL of a new, empty store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/db.sqlite"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def open_store_at(storage_url):
    """`open_store_at(partitions=1)`: open the parametrized store (again, as another process would); all closed
    at the end."""
    opened: list[Store] = []

    def open_(partitions: int = 1) -> Store:
        store = open_store(storage_url, partitions=partitions)
        opened.append(store)
        return store

    yield open_
    for store in reversed(opened):
        store.close()


@pytest.fixture
def store(open_store_at) -> Store:
    """A new, empty store of each backend, with one partition (so positions follow arrival, as in SQLite)."""
    return open_store_at()


@pytest.fixture
def sqlite_store(tmp_path):
    store = SQLiteStore(tmp_path / "db" / "pipeline.db")
    yield store
    store.close()


def seq_of(position: int) -> int:
    """The event id in a position (PostgreSQL positions also carry the writing transaction's id)."""
    return position & LOW_BITS


def is_postgres(store: Store) -> bool:
    return not isinstance(store, SQLiteStore)


def execute(store: Store, query: str, args: tuple = ()) -> list[tuple]:
    """Raw SQL in the store's next write transaction, for set-ups the contract has no call for (`?` placeholders,
    turned into PostgreSQL's where needed); returns the rows it selected."""
    if is_postgres(store):
        query = query.replace("?", "%s")

    def run(conn):
        cur = conn.execute(query, args)
        return cur.fetchall() if cur.description else []

    return store.submit(run).result()  # type: ignore[attr-defined]


def log(store: Store, limit: int, failed_only: bool = False) -> list[LogEntry]:
    """The newest delivery-log rows, as `actions-1flow events` reads them."""
    return [row.entry for row in queries.recent_log(store, limit, failed_only=failed_only)]


def recount(store: Store) -> None:
    """Recount the kept totals from the rows, as after any hand edit of the tables (the store counts its own
    writes only)."""
    store.submit(type(store).kept_counts().rebuild_totals).result()  # type: ignore[attr-defined]


def set_cursor(store: Store, destination: str, seq: int) -> None:
    """Put `destination`'s cursor (partition 0) right after event id `seq`, forwards or backwards, by hand."""
    if not is_postgres(store):
        execute(
            store,
            "INSERT INTO cursors VALUES (?, ?) ON CONFLICT (destination) DO UPDATE SET seq = excluded.seq",
            (destination, seq),
        )
    else:
        rows = execute(store, "SELECT xid::text FROM events WHERE seq = ?", (seq,))
        xid = rows[0][0] if rows else "0"
        execute(
            store,
            "INSERT INTO cursors VALUES (?, 0, ?::xid8, ?) "
            "ON CONFLICT (destination, part) DO UPDATE SET xid = excluded.xid, seq = excluded.seq",
            (destination, xid, seq),
        )
    recount(store)
