"""The PostgreSQL store's tables, created (and checked) at start under an advisory lock, so that several processes
starting at once agree on one layout.

Everything lives in its own schema, `actions_1flow`, so the store can share a database with an application's
tables. The schema's `meta` table records the layout's version and the partition count; a schema of another
version, or an `actions_1flow` schema without that table (someone else's), is refused with a reason.
"""

from __future__ import annotations

import psycopg

from ..store import StoreError

SCHEMA = "actions_1flow"
SCHEMA_VERSION = 1
MIGRATION_LOCK = 0x1F10_0001
"""The advisory lock id held while the layout is checked or created (one process at a time)."""

TABLES = """
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),  -- the writing transaction: cursors order by (xid, seq)
    part smallint NOT NULL,
    source text NOT NULL,
    message_id text NOT NULL,
    received_at double precision NOT NULL,
    body bytea NOT NULL,
    UNIQUE (source, message_id)  -- dedup, enforced across every server writing to the database
);
CREATE INDEX events_log ON events (part, xid, seq);
CREATE TABLE cursors (
    destination text NOT NULL,
    part smallint NOT NULL,
    xid xid8 NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (destination, part)
);
CREATE TABLE exchanges (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at double precision NOT NULL,
    request text,
    response text
);
CREATE TABLE deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq bigint NOT NULL,
    destination text NOT NULL,
    part smallint NOT NULL,
    subscription text NOT NULL,
    status text NOT NULL CHECK (status IN ('delivered', 'filtered', 'retrying', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    first_attempt_at double precision,
    next_attempt_at double precision,
    updated_at double precision NOT NULL,
    error text,
    hint text,
    exchange_id bigint,
    replays integer NOT NULL DEFAULT 0,
    UNIQUE (event_seq, destination, subscription)
);
CREATE INDEX deliveries_retrying ON deliveries (destination, part, next_attempt_at) WHERE status = 'retrying';
CREATE INDEX deliveries_failed ON deliveries (updated_at) WHERE status IN ('retrying', 'dead');
CREATE INDEX deliveries_recent ON deliveries (updated_at);
CREATE TABLE device_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at double precision NOT NULL,
    source text NOT NULL,
    destination text NOT NULL,
    kind text NOT NULL,
    message text NOT NULL,
    subscription text,
    event_type text,
    message_id text,
    sdk_url text,
    origin text
);
CREATE INDEX device_events_recent ON device_events (received_at);
CREATE TABLE leases (
    destination text NOT NULL,
    part smallint NOT NULL,
    owner text,
    epoch bigint NOT NULL DEFAULT 0,  -- grows with every new holder; writes are fenced on it
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (destination, part)
);
CREATE TABLE workers (
    id text PRIMARY KEY,
    seen_at timestamptz NOT NULL
);
CREATE TABLE suppressions (
    kind text NOT NULL CHECK (kind IN ('userId', 'anonymousId')),
    value text NOT NULL,
    created_at double precision NOT NULL,
    dropped bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, value)
);
"""


def prepare(conn: psycopg.Connection, where: str, partitions: int) -> int:
    """Create the layout in an empty database, or check the one there; returns the store's partition count (fixed
    when the store was created: changing it would reorder users' events)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
        if exists is None:
            conn.execute(f"CREATE SCHEMA {SCHEMA}")
            conn.execute(f"SET LOCAL search_path TO {SCHEMA}")
            conn.execute(TABLES)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', %s), ('partitions', %s)",
                (str(SCHEMA_VERSION), str(partitions)),
            )
            return partitions
        has_meta = conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'meta'", (SCHEMA,)
        ).fetchone()
        if has_meta is None:
            raise StoreError(
                f"{where} has a schema {SCHEMA!r} that actions-1flow did not create; point `storage:` at another "
                "database, or drop that schema if it is a leftover"
            )
        meta: dict[str, str] = dict(conn.execute(f"SELECT key, value FROM {SCHEMA}.meta").fetchall())
        version = int(meta.get("schema_version", "0"))
        if version != SCHEMA_VERSION:
            newer = "a newer" if version > SCHEMA_VERSION else "an older"
            raise StoreError(
                f"{where} was written by {newer} version of actions-1flow (store schema {version}, this version reads "
                f"{SCHEMA_VERSION}); deliver what it holds with that version, or point `storage:` at another database"
            )
        return int(meta["partitions"])
