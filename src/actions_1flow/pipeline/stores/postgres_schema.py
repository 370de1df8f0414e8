"""The PostgreSQL store's tables, created (and checked) at start under an advisory lock, so that several processes
starting at once agree on one layout.

Everything lives in its own schema, `actions_1flow`, so the store can share a database with an application's
tables. The schema's `meta` table records the layout's version and the partition count; a schema of another
version, or an `actions_1flow` schema without that table (someone else's), is refused with a reason.
"""

from __future__ import annotations

import psycopg

from ..store import FILTER_REASONS, StoreError

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


_REASON = (
    "CASE "
    + " ".join(f"WHEN status = 'filtered' AND left(error, {len(r)}) = '{r}' THEN '{r}'" for r in FILTER_REASONS)
    + " ELSE '' END"
)


def _add(table: str, keys: str, select: str) -> str:
    """Add grouped counts to a kept-counts table (`select` yields the keys, then n)."""
    return (
        f"INSERT INTO {table} ({keys}, slot, n) SELECT {keys}, counted_slot(), n FROM ({select}) t WHERE n <> 0 "
        f"ON CONFLICT ({keys}, slot) DO UPDATE SET n = {table}.n + excluded.n;"
    )


def _trigger(table: str, name: str, event: str, tables: str, body: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET search_path = {SCHEMA} AS $$
BEGIN
{body}
RETURN NULL;
END $$;
CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {name}();
"""


_AFTER = "(e.xid, e.seq) > (c.xid, c.seq)"

COUNTS = (
    """
CREATE TABLE received_totals (source text, part smallint, slot smallint, n bigint NOT NULL,
                              PRIMARY KEY (source, part, slot));
CREATE TABLE passed_totals (destination text, source text, slot smallint, n bigint NOT NULL,
                            PRIMARY KEY (destination, source, slot));
CREATE TABLE delivery_totals (destination text, status text, reason text, slot smallint, n bigint NOT NULL,
                              PRIMARY KEY (destination, status, reason, slot));
CREATE TABLE delivery_minutes (destination text, minute bigint, status text, slot smallint, n bigint NOT NULL,
                               PRIMARY KEY (destination, minute, status, slot));
CREATE TABLE received_minutes (source text, minute bigint, slot smallint, n bigint NOT NULL,
                               PRIMARY KEY (source, minute, slot));
CREATE FUNCTION counted_slot() RETURNS smallint LANGUAGE sql STABLE AS $$ SELECT (pg_backend_pid() % 64)::smallint $$;
"""
    + _trigger(
        "events",
        "events_counted_in",
        "INSERT",
        "NEW TABLE AS new_rows",
        f"""
{_add("received_totals", "source, part", "SELECT source, part, count(*) AS n FROM new_rows GROUP BY 1, 2")}
{
            _add(
                "received_minutes",
                "source, minute",
                "SELECT source, floor(received_at / 60)::bigint * 60 AS minute, count(*) AS n "
                "FROM new_rows GROUP BY 1, 2",
            )
        }
{
            _add(
                "passed_totals",
                "destination, source",
                "SELECT c.destination, e.source, count(*) AS n FROM new_rows e JOIN cursors c ON c.part = e.part "
                "AND (e.xid, e.seq) <= (c.xid, c.seq) GROUP BY 1, 2",
            )
        }
""",
    )
    + _trigger(
        "events",
        "events_counted_out",
        "DELETE",
        "OLD TABLE AS old_rows",
        f"""
{_add("received_totals", "source, part", "SELECT source, part, -count(*) AS n FROM old_rows GROUP BY 1, 2")}
{
            _add(
                "passed_totals",
                "destination, source",
                "SELECT c.destination, e.source, -count(*) AS n FROM old_rows e JOIN cursors c ON c.part = e.part "
                "AND (e.xid, e.seq) <= (c.xid, c.seq) GROUP BY 1, 2",
            )
        }
""",
    )
    + _trigger(
        "cursors",
        "cursors_counted_in",
        "INSERT",
        "NEW TABLE AS new_rows",
        f"""
{
            _add(
                "passed_totals",
                "destination, source",
                "SELECT destination, source, sum(n) AS n FROM ("
                " SELECT c.destination, r.source, r.n FROM new_rows c JOIN received_totals r ON r.part = c.part"
                " UNION ALL SELECT c.destination, e.source, -1 FROM new_rows c"
                f" JOIN events e ON e.part = c.part AND {_AFTER}"
                ") t GROUP BY 1, 2",
            )
        }
""",
    )
    + _trigger(
        "cursors",
        "cursors_counted_move",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        f"""
{
            _add(
                "passed_totals",
                "destination, source",
                "SELECT destination, source, sum(n) AS n FROM ("
                " SELECT c.destination, e.source, 1 AS n FROM old_rows o JOIN new_rows c USING (destination, part)"
                "  JOIN events e ON e.part = c.part"
                " AND (e.xid, e.seq) > (o.xid, o.seq) AND (e.xid, e.seq) <= (c.xid, c.seq)"
                " UNION ALL SELECT c.destination, e.source, -1"
                " FROM old_rows o JOIN new_rows c USING (destination, part)"
                "  JOIN events e ON e.part = c.part"
                " AND (e.xid, e.seq) > (c.xid, c.seq) AND (e.xid, e.seq) <= (o.xid, o.seq)"
                ") t GROUP BY 1, 2",
            )
        }
""",
    )
    + _trigger(
        "cursors",
        "cursors_counted_out",
        "DELETE",
        "OLD TABLE AS old_rows",
        f"""
{
            _add(
                "passed_totals",
                "destination, source",
                "SELECT destination, source, -sum(n) AS n FROM ("
                " SELECT c.destination, r.source, r.n FROM old_rows c JOIN received_totals r ON r.part = c.part"
                " UNION ALL SELECT c.destination, e.source, -1 FROM old_rows c"
                f" JOIN events e ON e.part = c.part AND {_AFTER}"
                ") t GROUP BY 1, 2",
            )
        }
""",
    )
    + _trigger(
        "deliveries",
        "deliveries_counted_in",
        "INSERT",
        "NEW TABLE AS new_rows",
        f"""
{
            _add(
                "delivery_totals",
                "destination, status, reason",
                f"SELECT destination, status, {_REASON} AS reason, count(*) AS n FROM new_rows GROUP BY 1, 2, 3",
            )
        }
{
            _add(
                "delivery_minutes",
                "destination, minute, status",
                "SELECT destination, floor(updated_at / 60)::bigint * 60 AS minute, status, count(*) AS n "
                "FROM new_rows GROUP BY 1, 2, 3",
            )
        }
""",
    )
    + _trigger(
        "deliveries",
        "deliveries_counted_change",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        f"""
{
            _add(
                "delivery_totals",
                "destination, status, reason",
                "SELECT destination, status, reason, sum(n) AS n FROM ("
                f" SELECT destination, status, {_REASON} AS reason, -1 AS n FROM old_rows"
                f" UNION ALL SELECT destination, status, {_REASON}, 1 FROM new_rows) t GROUP BY 1, 2, 3",
            )
        }
{
            _add(
                "delivery_minutes",
                "destination, minute, status",
                "SELECT n.destination, floor(n.updated_at / 60)::bigint * 60 AS minute, n.status, count(*) AS n "
                "FROM old_rows o JOIN new_rows n USING (id) WHERE o.status <> n.status GROUP BY 1, 2, 3",
            )
        }
""",
    )
    + _trigger(
        "deliveries",
        "deliveries_counted_out",
        "DELETE",
        "OLD TABLE AS old_rows",
        f"""
{
            _add(
                "delivery_totals",
                "destination, status, reason",
                f"SELECT destination, status, {_REASON} AS reason, -count(*) AS n FROM old_rows GROUP BY 1, 2, 3",
            )
        }
""",
    )
)
"""Counts kept as rows are written, by triggers in the writing transaction (so `migrate`'s and any other writes
keep them too): events received per source and partition, events at or before each destination's cursors per
source, deliveries per destination, status and filter reason, and per minute the deliveries entering each status and
the events received. Statement triggers over transition tables: one grouped upsert per statement, not per row.
Each writing connection adds to its own `slot` of a count (its backend pid mod 64), and readers sum the slots, so
servers and workers writing at once do not queue on (or deadlock over) the same counter rows."""


BACKFILL = f"""
LOCK TABLE events, cursors, deliveries IN EXCLUSIVE MODE;
INSERT INTO received_totals SELECT source, part, 0, count(*) FROM events GROUP BY 1, 2;
INSERT INTO received_minutes SELECT source, floor(received_at / 60)::bigint * 60, 0, count(*) FROM events GROUP BY 1, 2;
INSERT INTO passed_totals SELECT c.destination, e.source, 0, count(*) FROM cursors c
    JOIN events e ON e.part = c.part AND (e.xid, e.seq) <= (c.xid, c.seq) GROUP BY 1, 2;
INSERT INTO delivery_totals SELECT destination, status, {_REASON}, 0, count(*) FROM deliveries GROUP BY 1, 2, 3;
INSERT INTO delivery_minutes SELECT destination, floor(updated_at / 60)::bigint * 60, status, 0, count(*)
    FROM deliveries GROUP BY 1, 2, 3;
"""
"""Counts for a store created before they were kept (once, with writes held off meanwhile)."""


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
            conn.execute(COUNTS)
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
        counted = conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'delivery_totals'", (SCHEMA,)
        ).fetchone()
        if counted is None:  # a store of this week's first layout: add the kept counts, from its rows
            conn.execute(f"SET LOCAL search_path TO {SCHEMA}")
            conn.execute(COUNTS)
            conn.execute(BACKFILL)
        return int(meta["partitions"])
