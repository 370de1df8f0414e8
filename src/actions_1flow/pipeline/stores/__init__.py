"""The two `Store` backends, chosen by the configuration's `storage:` URL."""

from __future__ import annotations

from ..store import Store
from .sqlite import SQLiteStore


def open_store(storage: str, *, partitions: int | None = None) -> Store:
    """The store at `storage` (`sqlite:///PATH` or `postgresql://…`); StoreError saying why when it is unusable.
    `partitions` applies to a PostgreSQL store created now (an existing one keeps its own)."""
    if storage.startswith(("postgresql://", "postgres://")):
        from .postgres import DEFAULT_PARTITIONS, PostgresStore  # psycopg is loaded only by those who use it

        return PostgresStore(storage, partitions or DEFAULT_PARTITIONS)
    return SQLiteStore(storage.removeprefix("sqlite:///"))


__all__ = ["SQLiteStore", "open_store"]
