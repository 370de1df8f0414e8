"""The pipeline's storage contract, split by who uses it: each consumer is typed against the part it needs.

| part | used by |
|---|---|
| `EventLog` | ingest: the tracking API's group appender, `/ready` |
| `Backfill` | `import`: history stored with its keys kept for good |
| `DeviceReports` | the device-mode report endpoint |
| `DeliveryLedger` | a partition's delivery task: cursors, new events, due retries, outcomes |
| `Leases` | the worker's supervisor: who delivers which partition |
| `Housekeeping` | the worker's supervisor: forgetting what is past the dedup window and the retentions |
| `PrivacyStore` | suppressions (ingest, worker, `suppress`), erasure |
| `OperatorQueries` | `pipeline.queries`: `status`, `events`, `replay`, the admin API, the console |

Two backends implement all of them (`Store`): `stores/sqlite.py`, the embedded default, and `stores/postgres.py`,
for many servers and workers. Writes return futures that complete only once the change is durable (so the
tracking API acknowledges an event only once it is safely stored); reads see every completed write; every method
is thread-safe. The records and errors are `records`' (re-exported here).
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Protocol

from .records import (
    ACTIVITY_RETENTION_S,
    ACTIVITY_STEP_S,
    FILTER_REASONS,
    PURGE_CHUNK,
    REPLAYABLE,
    REQUEUE_CHUNK,
    STATUSES,
    SUBJECT_KINDS,
    AppendResult,
    DeliveryRecord,
    DestinationCounts,
    DeviceEvent,
    DueDelivery,
    FilterReason,
    Lease,
    LeaseLost,
    LeaseState,
    LogEntry,
    LogRow,
    PurgeResult,
    Replay,
    RequeueStep,
    Status,
    StoredEvent,
    StoreError,
    StoreUnavailable,
    SubjectKind,
    Suppression,
    activity_buckets,
    partition_of,
)


class StoreHealth(Protocol):
    """What every consumer may ask of the store's state (for `/health`, `/ready` and messages)."""

    damaged: str | None
    """Why the store is known to be corrupt (writes are refused from then on), or None."""

    unavailable: str | None
    """Why the store cannot be reached right now (the database is down), or None. Clears by itself once it can."""

    description: str
    """Where the store is, for messages (a path, or a URL without its password)."""


class EventLog(StoreHealth, Protocol):
    """Ingest: events in, deduplicated by source + messageId."""

    def append(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        """Store events (dedup by source + messageId); the future completes once they are durable."""

    def last_seq(self) -> int:
        """The newest event id (0 when empty); also what `/ready` asks to see that the store answers."""


class Backfill(StoreHealth, Protocol):
    """`import`: history in, deduplicated for good."""

    def append_imported(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        """Store imported events; one whose messageId this source ever imported (kept for good, not only for the
        dedup window) or still holds is a duplicate. The future completes once they are durable."""

    def counts(self, destinations: dict[str, list[str]]) -> list[DestinationCounts]:
        """As `OperatorQueries.counts` (the import waits while the destinations' backlog is long)."""


class DeviceReports(StoreHealth, Protocol):
    """Errors device-mode plugins report from pages, stored next to the server-side deliveries."""

    def record_device_event(self, event: DeviceEvent) -> Future[None]:
        """Store one device-mode report; the future completes once it is durable."""


class DeliveryLedger(StoreHealth, Protocol):
    """A partition's delivery: its cursor, the events after it, retries due, and outcomes recorded."""

    partitions: int
    """Partitions of each destination's log (1 for SQLite)."""

    def read_after(self, position: int, sources: list[str], limit: int, partition: int = 0) -> list[StoredEvent]:
        """Events of these sources in `partition` after `position`, oldest first."""

    def ensure_cursor(self, destination: str, partition: int = 0) -> Future[int]:
        """The destination's cursor in `partition`. A destination without cursors gets them in every partition at
        once, at the end of the log (a new destination receives events from then on, not the history)."""

    def cursor(self, destination: str, partition: int = 0) -> int:
        """The last position in `partition` this destination's worker has fully recorded."""

    def record(
        self,
        destination: str,
        records: list[DeliveryRecord],
        cursor: int | None = None,
        partition: int = 0,
        lease: Lease | None = None,
        replaced: list[int] | None = None,
    ) -> Future[None]:
        """Upsert delivery-log rows of events in `partition` and (optionally) advance the destination's cursor
        there, atomically. With a `lease`, the write happens only while it is held (else `LeaseLost`). `replaced`:
        events whose single no-subscription row (replayed) the records' subscription rows stand for now."""

    def due(self, destination: str, now: float, limit: int, partition: int = 0) -> list[DueDelivery]:
        """Deliveries of `partition` in `retrying` whose next attempt is due, earliest first."""

    def next_due_at(self, destination: str, partition: int = 0) -> float | None:
        """When this destination's earliest retry in `partition` is due (None when nothing is retrying)."""


class Leases(Protocol):
    """Who delivers which partition: one process on SQLite, a fair share among the live workers on PostgreSQL."""

    partitions: int

    def heartbeat(self, worker: str, destinations: list[str], ttl: float) -> LeaseState:
        """Say `worker` is alive; renew the leases it holds for `ttl` seconds and take free ones (never held, or
        expired) up to its fair share of all partitions of `destinations` among the live workers."""

    def release(self, worker: str, leases: list[Lease]) -> None:
        """Hand leases back at once (a worker stopping, or giving up its surplus), so others need not wait."""


class Housekeeping(Protocol):
    """Forgetting what no one needs any more."""

    def prune(
        self,
        before: float,
        dead_before: float,
        destinations: list[str],
        after: int = 0,
        kept: dict[str, float] | None = None,
    ) -> Future[tuple[int, int | None]]:
        """Forget one chunk of events received before `before` (before `kept[source]` for the sources there, each
        earlier than `before`: a longer dedup window) that every destination has passed, with their
        delivered/filtered log rows and dead-lettered rows last updated before `dead_before`. Returns the rows
        removed and where the next chunk starts (None when done)."""


class PrivacyStore(Protocol):
    """Suppressed users and erasure (`actions-1flow suppress`)."""

    def suppress(self, kind: SubjectKind, value: str, at: float) -> Future[bool]:
        """Record a suppression durably; True when it is new (False when that id was already suppressed)."""

    def unsuppress(self, kind: SubjectKind, value: str) -> Future[bool]:
        """Lift a suppression; True when there was one."""

    def suppressions(self) -> list[Suppression]:
        """Every suppression, oldest first."""

    def count_suppressed(self, dropped: dict[tuple[SubjectKind, str], int]) -> Future[None]:
        """Add events dropped at ingest to their suppressions' counts (ids no longer suppressed are ignored)."""

    def purge(self, kind: SubjectKind, value: str, after: int = 0) -> Future[PurgeResult]:
        """Erase one chunk (`PURGE_CHUNK` events from event id `after` on) of the stored events whose `kind` field
        is `value`, with every delivery-log row of theirs (dead letters included); call again from `next`."""


class SessionRevocations(Protocol):
    """Console sessions logged out before their expiry, shared by every server of the store."""

    def revoke_session(self, sid: str, expires_at: float, now: float) -> Future[None]:
        """Record a logged-out session durably (and prune those expired by `now`)."""

    def revoked_sessions(self, now: float) -> dict[str, float]:
        """The sessions logged out that have not expired by `now`: session id → expiry."""


class OperatorQueries(StoreHealth, Protocol):
    """What operators read (and replay re-queues): figures, series, the delivery log, device reports."""

    def counts(self, destinations: dict[str, list[str]]) -> list[DestinationCounts]:
        """Per destination (name → its sources): received, pending and delivery-log counts by status, and the
        filtered ones by reason."""

    def activity(
        self, destinations: list[str], since: float, step_s: int, sources: dict[str, list[str]] | None = None
    ) -> dict[str, list[tuple[int, dict[str, int]]]]:
        """Per destination, outcomes recorded per `step_s` bucket (a multiple of 60) from the bucket holding `since`
        to the current one, every bucket present (zeros included), oldest first: `(bucket start, {status: n})`.

        A delivery counts once per status it enters, in the minute it entered it (`updated_at`; Segment's Delivery
        Overview also counts by outcome time): a first outcome, a change of status, a replay (dead → retrying) each
        count; another failed attempt of a delivery already retrying does not. Pruning and erasure remove rows, not
        history: the series keep what was recorded (for `ACTIVITY_RETENTION_S`). With `sources` (destination → its
        sources), each bucket also has `received`: events accepted from those sources in it (by receipt time).
        Kept per minute as the rows are written (same transaction), so this reads at most a few rows per minute."""

    def next_due_at(self, destination: str, partition: int = 0) -> float | None:
        """When this destination's earliest retry in `partition` is due (None when nothing is retrying)."""

    def log_page(
        self,
        *,
        destination: str | None = None,
        status: str | None = None,
        text: str | None = None,
        before: tuple[float, int] | None = None,
        limit: int = 50,
        source: str | None = None,
    ) -> list[LogRow]:
        """Delivery-log rows newest first (by last update, then id), strictly before `before` (updated_at, row id).
        `status`: one of STATUSES or `failed`; `text`: a messageId, or text in the subscription, error or event."""

    def find_event(self, message_id: str, sources: list[str]) -> StoredEvent | None:
        """The newest stored event with this messageId from one of `sources`."""

    def event_log(self, event_seq: int) -> list[LogRow]:
        """Every delivery-log row of one event."""

    def requeue(
        self,
        since: float,
        until: float,
        destination: str | None,
        now: float,
        *,
        statuses: tuple[Status, ...] = ("dead",),
        config: str | None = None,
        again: bool = False,
        after: int = 0,
        dry_run: bool = False,
        event: int | None = None,
    ) -> Future[RequeueStep]:
        """One step of a replay: deliveries in `statuses` (of `REPLAYABLE`) of events received in [since, until)
        among the `REQUEUE_CHUNK` events after id `after`, last updated before `now`, back to `retrying`, due now,
        each marked as a replay of what it was, with the configuration fingerprint `config`; delivered and filtered
        rows already replayed with that fingerprint are left alone (unless `again`). Call again from `next` until
        it is None. `dry_run` counts the whole range in one step. `event`: only that event's (its id)."""

    def replaying(self, destination: str, config: str) -> int:
        """Deliveries of `destination` a replay with the fingerprint `config` re-queued that are still retrying."""

    def device_events(self, limit: int, source: str | None = None) -> list[DeviceEvent]:
        """The most recent device-mode reports, newest first (only from `source`, when given)."""

    def suppressions(self) -> list[Suppression]:
        """Every suppression, oldest first."""


class Store(
    EventLog,
    Backfill,
    DeviceReports,
    DeliveryLedger,
    Leases,
    Housekeeping,
    PrivacyStore,
    SessionRevocations,
    OperatorQueries,
    Protocol,
):
    """The whole contract, as the composition root opens it and the CLI's store commands use it."""

    def close(self) -> None:
        """Finish queued writes and release the backend (leases held through it expire or are released); writes
        are refused from then on (`StoreError`)."""


__all__ = [
    "ACTIVITY_RETENTION_S",
    "ACTIVITY_STEP_S",
    "FILTER_REASONS",
    "PURGE_CHUNK",
    "REPLAYABLE",
    "REQUEUE_CHUNK",
    "STATUSES",
    "SUBJECT_KINDS",
    "AppendResult",
    "Backfill",
    "DeliveryLedger",
    "DeliveryRecord",
    "DestinationCounts",
    "DeviceEvent",
    "DeviceReports",
    "DueDelivery",
    "EventLog",
    "FilterReason",
    "Housekeeping",
    "Lease",
    "LeaseLost",
    "LeaseState",
    "Leases",
    "LogEntry",
    "LogRow",
    "OperatorQueries",
    "PrivacyStore",
    "PurgeResult",
    "Replay",
    "RequeueStep",
    "SessionRevocations",
    "Status",
    "Store",
    "StoreError",
    "StoreHealth",
    "StoreUnavailable",
    "StoredEvent",
    "SubjectKind",
    "Suppression",
    "activity_buckets",
    "partition_of",
]
