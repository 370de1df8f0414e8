"""What the pipeline's store holds and hands back: its records, its errors, its limits.

Each destination's log is split into `partitions` by a hash of the event's userId (else anonymousId), so one user's
events keep their order while several workers deliver in parallel; a worker delivers a partition only while it
holds that partition's `Lease`, and every cursor and outcome it writes is fenced on the lease. SQLite has one
partition, leased with a lock file to one process at a time.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, NamedTuple


class StoreError(Exception):
    """The store cannot be opened as it is (a file of another layout, …); the message says why and what to do."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now (its database is down or unreachable); the same call may succeed later."""


class LeaseLost(StoreError):
    """A write was fenced off: the worker no longer holds the partition's lease (another worker took it over)."""


REQUEUE_CHUNK = 5_000
"""Events `replay` looks at per step (their deliveries re-queued in one short transaction)."""

Status = Literal["delivered", "filtered", "retrying", "dead"]
STATUSES: tuple[Status, ...] = ("delivered", "filtered", "retrying", "dead")


class FilterReason(StrEnum):
    """Why a delivery is `filtered` (not sent, and never to be): the `reason` column of its row, counted apart by
    `counts()` (`filtered_by`) and shown by `status`, `events`, the admin API and the console."""

    NO_MATCH = "no_match"
    """No enabled subscription's trigger matched the event (on a retry: its subscription no longer matches, or
    was disabled)."""
    CONSENT = "consent"
    """The visitor's consent stamp lacks a category the destination requires (`consent:`)."""
    SUPPRESSED = "suppressed"
    """The event's user is suppressed (`actions-1flow suppress`)."""
    REFUSED = "refused"
    """The destination's action chose not to send it; the row's `error` is the action's own reason (an Identify
    without a userId, say)."""

    @property
    def label(self) -> str:
        """The reason in a word or two, as `status`'s table shows it."""
        return _REASON_LABELS[self]


FILTER_REASONS: tuple[FilterReason, ...] = tuple(FilterReason)
_REASON_LABELS = {
    FilterReason.NO_MATCH: "no match",
    FilterReason.CONSENT: "consent",
    FilterReason.SUPPRESSED: "suppressed",
    FilterReason.REFUSED: "refused",
}


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
    reason: FilterReason | None = None
    """Why it is filtered: set for a `filtered` row, and only for one."""
    replay: Replay | None = None
    """Set on the row of a replayed delivery whose row is new (its event's single `filtered` row, replayed,
    matched subscriptions now): what it replays. A row replay updated keeps its own."""

    def __post_init__(self) -> None:
        if (self.status == "filtered") != (self.reason is not None):
            raise ValueError(f"a {self.status} delivery takes {'a' if self.status == 'filtered' else 'no'} reason")


@dataclass(frozen=True)
class Replay:
    """What a replayed delivery was before (`delivered`, `filtered:<reason>` or `dead`), and the fingerprint of the
    destination's configuration it was replayed with (`DestinationConfig.fingerprint`)."""

    of: str
    config: str | None


REPLAYABLE: tuple[Status, ...] = ("delivered", "filtered", "dead")
"""The statuses `replay` re-sends (a retrying delivery is on its way already)."""


@dataclass(frozen=True)
class RequeueStep:
    """What one step of a replay re-queued, and the event id the next step starts after (None when done)."""

    moved: int
    next: int | None


@dataclass(frozen=True)
class DueDelivery:
    """A delivery whose retry is due (or that was re-queued by replay), with its event."""

    event: StoredEvent
    subscription: str
    attempts: int
    first_attempt_at: float | None
    replay: Replay | None = None
    """Set when a replay re-queued it."""


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
    reason: FilterReason | None = None
    """Why it is filtered (`filtered` rows only)."""
    replay_of: str | None = None
    """What the row was when it was last replayed (`delivered`, `filtered:no_match`, `dead`), if it was."""
    event_name: str | None = None
    """A track's `event`, a page's or screen's `name` (what tells one event from another in the log)."""


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
    """The `filtered` rows by `FilterReason` (reasons without rows left out)."""


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


def partition_of(event: dict[str, Any], partitions: int) -> int:
    """The partition of an event's user: a stable hash of its userId, else its anonymousId (an event with neither
    goes by its messageId). Stable across processes and machines, so every server puts a user in the same place."""
    if partitions == 1:
        return 0
    key = event.get("userId") or event.get("anonymousId") or event.get("messageId") or ""
    return zlib.crc32(str(key).encode()) % partitions
