"""The pipeline's storage contract: what ingest, the delivery worker and the operator commands need.

Backends (SQLite now, Redis later) implement `Store`. Writes return futures that complete only once the change is
durable, so the tracking API can acknowledge an event only after it is safely stored.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol


class StoreError(Exception):
    """The store cannot be opened as it is (a file of another layout, …); the message says why and what to do."""


Status = Literal["delivered", "filtered", "retrying", "dead"]
STATUSES: tuple[Status, ...] = ("delivered", "filtered", "retrying", "dead")


@dataclass(frozen=True)
class AppendResult:
    """What an append did: events newly stored, and repeats of a messageId already stored for that source."""

    accepted: int
    duplicates: int


class StoredEvent(NamedTuple):
    """An event as the worker reads it back: its position in the log, its source, and the event. (A named tuple:
    the worker reads thousands a second, and a tuple is the cheapest immutable record to build.)"""

    seq: int
    source: str
    received_at: float
    event: dict[str, Any]


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


@dataclass
class DestinationCounts:
    """`actions-1flow status` numbers for one destination."""

    destination: str
    received: int = 0
    pending: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    oldest_pending_at: float | None = None


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

    def append(self, source: str, events: list[dict[str, Any]], received_at: float) -> Future[AppendResult]:
        """Store events (dedup by source + messageId); the future completes once they are durable."""

    def read_after(self, seq: int, sources: list[str], limit: int) -> list[StoredEvent]:
        """Events of these sources after position `seq`, oldest first."""

    def ensure_cursor(self, destination: str) -> Future[int]:
        """The destination's cursor, created at the end of the log if it has none (a new destination receives
        events from then on, not the history)."""

    def cursor(self, destination: str) -> int:
        """The last position this destination's worker has fully recorded."""

    def record(self, destination: str, records: list[DeliveryRecord], cursor: int | None = None) -> Future[None]:
        """Upsert delivery-log rows and (optionally) advance the destination's cursor, atomically."""

    def due(self, destination: str, now: float, limit: int) -> list[DueDelivery]:
        """Deliveries in `retrying` whose next attempt is due, earliest first."""

    def next_due_at(self, destination: str) -> float | None:
        """When this destination's earliest retry is due (None when nothing is retrying)."""

    def requeue_dead(
        self, since: float, until: float, destination: str | None, now: float, *, limit: int | None = None,
        dry_run: bool = False,
    ) -> Future[int]:
        """Move dead-lettered deliveries of events received in [since, until), and last updated before `now`, back
        to `retrying`, due now; at most `limit` of them (call again until it returns 0). `dry_run` only counts."""

    def counts(self, destinations: dict[str, list[str]]) -> list[DestinationCounts]:
        """Per destination (name → its sources): received, pending and delivery-log counts by status."""

    def log(
        self, limit: int, failed_only: bool = False, destination: str | None = None, source: str | None = None
    ) -> list[LogEntry]:
        """The most recent delivery-log rows, newest first (only of events from `source`, when given)."""

    def prune(
        self, before: float, dead_before: float, destinations: list[str], after: int = 0
    ) -> Future[tuple[int, int | None]]:
        """Forget one chunk of events received before `before` that every destination has passed, with their
        delivered/filtered log rows and dead-lettered rows last updated before `dead_before`. Returns the rows
        removed and where the next chunk starts (None when done)."""

    def acquire_delivery_lock(self) -> str | None:
        """Become the only deliverer from this store (None), or learn who is (a description). Two workers
        delivering the same destination would send every event twice."""

    def release_delivery_lock(self) -> None:
        """Let another worker take over."""

    def record_device_event(self, event: DeviceEvent) -> Future[None]:
        """Store one device-mode report; the future completes once it is durable."""

    def device_events(self, limit: int, source: str | None = None) -> list[DeviceEvent]:
        """The most recent device-mode reports, newest first (only from `source`, when given)."""

    def close(self) -> None:
        """Finish queued writes and release the backend (and the delivery lock)."""
