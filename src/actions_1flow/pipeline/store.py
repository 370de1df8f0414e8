"""The pipeline's storage contract: what ingest, the delivery worker and the operator commands need.

Two backends implement `Store` (`stores/sqlite.py`, the embedded default; `stores/postgres.py`, for many servers and
workers). Writes return futures that complete only once the change is durable, so the tracking API can acknowledge
an event only after it is safely stored.

Each destination's log is split into `partitions` by a hash of the event's userId (else anonymousId), so one user's
events keep their order while several workers deliver in parallel; a worker delivers a partition only while it
holds that partition's `Lease`, and every cursor and outcome it writes is fenced on the lease. SQLite has one
partition, leased with a lock file to one process at a time.
"""

from __future__ import annotations

import zlib
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol


class StoreError(Exception):
    """The store cannot be opened as it is (a file of another layout, …); the message says why and what to do."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now (its database is down or unreachable); the same call may succeed later."""


class LeaseLost(StoreError):
    """A write was fenced off: the worker no longer holds the partition's lease (another worker took it over)."""


REQUEUE_CHUNK = 1_000
"""Dead-lettered deliveries `replay` re-queues per step (one short transaction each)."""

Status = Literal["delivered", "filtered", "retrying", "dead"]
STATUSES: tuple[Status, ...] = ("delivered", "filtered", "retrying", "dead")


@dataclass(frozen=True)
class AppendResult:
    """What an append did: events newly stored, and repeats of a messageId already stored for that source."""

    accepted: int
    duplicates: int


class StoredEvent(NamedTuple):
    """An event as the worker reads it back: its id, its source, the event, and its position in its partition's
    log (what cursors count; the id itself for SQLite). (A named tuple: the worker reads thousands a second, and a
    tuple is the cheapest immutable record to build.)"""

    seq: int
    source: str
    received_at: float
    event: dict[str, Any]
    position: int


@dataclass(frozen=True)
class Lease:
    """The right to deliver one partition of one destination's log. `epoch` grows on every change of holder, and
    every write the holder makes for the partition names it, so a worker that lost the lease cannot record."""

    destination: str
    partition: int
    epoch: int


@dataclass(frozen=True)
class LeaseState:
    """What a heartbeat found: the leases this worker holds now (renewed), those it should hand back (more than its
    fair share), and who else delivers, for the log."""

    held: list[Lease]
    surplus: list[Lease] = field(default_factory=list)
    others: str | None = None
    lapses: bool = True
    """Whether the leases end unless renewed within the ttl (not SQLite's lock, held until its process ends)."""


@dataclass(slots=True)
class DeliveryRecord:
    """The outcome of one event for one subscription of one destination (the delivery log's row)."""

    event_seq: int
    subscription: str
    status: Status
    attempts: int = 0
    first_attempt_at: float | None = None
    next_attempt_at: float | None = None
    error: str | None = None
    hint: str | None = None
    request: str | None = None
    response: str | None = None


@dataclass(frozen=True)
class DueDelivery:
    """A delivery whose retry is due (or that was re-queued by replay), with its event."""

    event: StoredEvent
    subscription: str
    attempts: int
    first_attempt_at: float | None


@dataclass(frozen=True)
class LogEntry:
    """One row of the delivery log, for `actions-1flow events`."""

    destination: str
    subscription: str
    message_id: str
    event_type: str | None
    status: Status
    attempts: int
    updated_at: float
    next_attempt_at: float | None
    error: str | None
    hint: str | None
    request: str | None
    response: str | None
    received_at: float = 0.0
    replays: int = 0


@dataclass(frozen=True)
class LogRow:
    """A delivery-log row with where it came from and its row id (what an operator page's cursor counts)."""

    entry: LogEntry
    source: str
    row_id: int


@dataclass
class DestinationCounts:
    """`actions-1flow status` numbers for one destination."""

    destination: str
    received: int = 0
    pending: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    oldest_pending_at: float | None = None
    filtered_by: dict[str, int] = field(default_factory=dict)
    """Of the `filtered` rows, those filtered for privacy, by reason: `consent`, `suppressed` (see FILTER_REASONS)."""


FILTER_REASONS = ("consent", "suppressed")
"""Filter reasons `status` counts apart: a `filtered` row whose error starts with one of these words."""

ACTIVITY_RETENTION_S = 8 * 86_400
"""How long per-minute counts are kept (the console's longest range is 7 days); `prune` forgets older minutes."""

ACTIVITY_STEP_S = 60
"""The granularity of the kept counts; `activity` buckets are multiples of it."""


def activity_buckets(
    destinations: list[str],
    since: float,
    step_s: int,
    now: float,
    rows: list[tuple[str, int, str, int]],
    received: dict[str, list[tuple[int, int]]] | None = None,
) -> dict[str, list[tuple[int, dict[str, int]]]]:
    """`Store.activity`'s answer from kept rows: `(destination, minute, status, n)`, and per destination its
    sources' `(minute, n)` received; every bucket from `since`'s to `now`'s, zeros included."""
    if step_s <= 0 or step_s % ACTIVITY_STEP_S:
        raise ValueError(f"step_s must be a positive multiple of {ACTIVITY_STEP_S}, not {step_s}")
    start = int(since // step_s) * step_s
    end = int(now // step_s) * step_s
    keys: tuple[str, ...] = STATUSES if received is None else (*STATUSES, "received")
    out: dict[str, list[tuple[int, dict[str, int]]]] = {}
    index: dict[str, dict[int, dict[str, int]]] = {}
    for dest in destinations:
        series = [(t, dict.fromkeys(keys, 0)) for t in range(start, end + 1, step_s)]
        out[dest] = series
        index[dest] = {t: counts for t, counts in series}
    for dest, minute, status, n in rows:
        bucket = index.get(dest, {}).get(minute // step_s * step_s)
        if bucket is not None and status in bucket:
            bucket[status] += n
    for dest, minutes in (received or {}).items():
        for minute, n in minutes:
            bucket = index.get(dest, {}).get(minute // step_s * step_s)
            if bucket is not None:
                bucket["received"] += n
    return out


SubjectKind = Literal["userId", "anonymousId"]
SUBJECT_KINDS: tuple[SubjectKind, ...] = ("userId", "anonymousId")
"""The event fields a suppression matches (top-level, as Segment's suppression does)."""

PURGE_CHUNK = 20_000
"""Events examined per purge step (one short transaction each, between ingest's commits)."""


@dataclass(frozen=True)
class Suppression:
    """A suppressed user: events whose `kind` field equals `value` are dropped at ingest and never delivered."""

    kind: SubjectKind
    value: str
    created_at: float
    dropped: int = 0
    """Events dropped at ingest since (as the servers reported them; a server reports every few seconds)."""


@dataclass(frozen=True)
class PurgeResult:
    """What one purge step removed, and where the next step starts (None when done)."""

    events: int
    deliveries: int
    dead_letters: int
    """Of `deliveries`, those that were dead-lettered."""
    next: int | None


@dataclass(frozen=True)
class DeviceEvent:
    """An error the device-mode plugin reported from a page (stored next to server-side deliveries)."""

    received_at: float
    source: str
    destination: str
    kind: str
    """`sdk-load`, `config`, `trigger`, `mapping`, `payload` or `sdk-call` (docs/web.md, "Error reports")."""
    message: str
    subscription: dict[str, str] | None = None
    """`{id, name, partnerAction}` of the subscription concerned, if any."""
    event_type: str | None = None
    message_id: str | None = None
    sdk_url: str | None = None
    origin: str | None = None
    """The page's origin (the report's `Origin` header)."""


class Store(Protocol):
    """Durable event log + per-destination cursors + delivery log. All methods are thread-safe.

    Writes return futures that complete once the change is durable; reads see every completed write.
    """

    damaged: str | None
    """Why the store is known to be corrupt (writes are refused from then on), or None."""

    unavailable: str | None
    """Why the store cannot be reached right now (the database is down), or None. Clears by itself once it can."""

    partitions: int
    """Partitions of each destination's log (1 for SQLite)."""

    description: str
    """Where the store is, for messages (a path, or a URL without its password)."""

    def append(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        """Store events (dedup by source + messageId); the future completes once they are durable."""

    def last_seq(self) -> int:
        """The newest event id (0 when empty); also what `/ready` asks to see that the store answers."""

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
    ) -> Future[None]:
        """Upsert delivery-log rows of events in `partition` and (optionally) advance the destination's cursor
        there, atomically. With a `lease`, the write happens only while it is held (else `LeaseLost`)."""

    def due(self, destination: str, now: float, limit: int, partition: int = 0) -> list[DueDelivery]:
        """Deliveries of `partition` in `retrying` whose next attempt is due, earliest first."""

    def next_due_at(self, destination: str, partition: int = 0) -> float | None:
        """When this destination's earliest retry in `partition` is due (None when nothing is retrying)."""

    def requeue_dead(
        self,
        since: float,
        until: float,
        destination: str | None,
        now: float,
        *,
        limit: int | None = None,
        dry_run: bool = False,
        event: int | None = None,
    ) -> Future[int]:
        """Move dead-lettered deliveries of events received in [since, until), and last updated before `now`, back
        to `retrying`, due now; at most `limit` of them (call again until it returns 0). `dry_run` only counts.
        `event`: only that event's (its id), as the console's Replay on one event."""

    def counts(self, destinations: dict[str, list[str]]) -> list[DestinationCounts]:
        """Per destination (name → its sources): received, pending and delivery-log counts by status."""

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

    def log(
        self, limit: int, failed_only: bool = False, destination: str | None = None, source: str | None = None
    ) -> list[LogEntry]:
        """The most recent delivery-log rows, newest first (only of events from `source`, when given)."""

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

    def prune(
        self, before: float, dead_before: float, destinations: list[str], after: int = 0
    ) -> Future[tuple[int, int | None]]:
        """Forget one chunk of events received before `before` that every destination has passed, with their
        delivered/filtered log rows and dead-lettered rows last updated before `dead_before`. Returns the rows
        removed and where the next chunk starts (None when done)."""

    def heartbeat(self, worker: str, destinations: list[str], ttl: float) -> LeaseState:
        """Say `worker` is alive; renew the leases it holds for `ttl` seconds and take free ones (never held, or
        expired) up to its fair share of all partitions of `destinations` among the live workers."""

    def release(self, worker: str, leases: list[Lease]) -> None:
        """Hand leases back at once (a worker stopping, or giving up its surplus), so others need not wait."""

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

    def record_device_event(self, event: DeviceEvent) -> Future[None]:
        """Store one device-mode report; the future completes once it is durable."""

    def device_events(self, limit: int, source: str | None = None) -> list[DeviceEvent]:
        """The most recent device-mode reports, newest first (only from `source`, when given)."""

    def close(self) -> None:
        """Finish queued writes and release the backend (leases held through it expire or are released)."""


def partition_of(event: dict[str, Any], partitions: int) -> int:
    """The partition of an event's user: a stable hash of its userId, else its anonymousId (an event with neither
    goes by its messageId). Stable across processes and machines, so every server puts a user in the same place."""
    if partitions == 1:
        return 0
    key = event.get("userId") or event.get("anonymousId") or event.get("messageId") or ""
    return zlib.crc32(str(key).encode()) % partitions
