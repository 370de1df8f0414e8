"""The one query layer over the store for operators: what `actions-1flow status` / `events` print and what the admin
API (and so the console) shows are computed here, by the same functions, so their figures agree by construction.

- `status_rows(store, destinations, now)`: the per-destination funnel (`status --json`'s objects).
- `overview(store, destinations, range, now)`: those rows plus per-bucket series by outcome (`Store.activity`,
  counts kept per minute).
- `log_page(store, …)`: the delivery log newest first, filtered by destination, status and text, keyset-paged.
- `event_detail(store, message_id, sources)`: one stored event with every delivery row of it and its exchange.
- `replay_plan(…)` / `replay(…)` / `replaying(…)`: what a replay would re-send, re-queueing it, and how much of it
  is still on its way.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from .store import (
    FILTER_REASONS,
    REPLAYABLE,
    STATUSES,
    LogRow,
    OperatorQueries,
    RequeueStep,
    Status,
    StoredEvent,
)

RANGES: dict[str, tuple[float, int]] = {"1h": (3600.0, 60), "24h": (86_400.0, 900), "7d": (7 * 86_400.0, 3600)}
"""Overview ranges: how far back, and the bucket (seconds) of the series."""

MAX_PAGE = 500


def status_rows(store: OperatorQueries, destinations: dict[str, list[str]], now: float) -> list[dict[str, Any]]:
    """Per cloud-mode destination (name → its sources): the counts `status --json` prints, in that order; the
    filtered ones also by reason (`filtered_<reason>`, every `FilterReason`)."""
    counts = store.counts(destinations)
    next_due = {name: store.next_due_at(name) for name in destinations}
    rows: list[dict[str, Any]] = []
    for c in counts:
        due = next_due.get(c.destination)
        rows.append(
            {
                "destination": c.destination,
                "received": c.received,
                "filtered": c.by_status.get("filtered", 0),
                **{f"filtered_{reason}": c.filtered_by.get(reason, 0) for reason in FILTER_REASONS},
                "delivered": c.by_status.get("delivered", 0),
                "retrying": c.by_status.get("retrying", 0),
                "dead": c.by_status.get("dead", 0),
                "pending": c.pending,
                "oldest_pending_age_s": None if c.oldest_pending_at is None else round(now - c.oldest_pending_at, 3),
                "next_retry_in_s": None if due is None else round(max(due - now, 0.0), 3),
            }
        )
    return rows


def filtered_by(row: dict[str, Any]) -> dict[str, int]:
    """A status row's filtered events by reason, every `FilterReason` present."""
    return {reason.value: int(row[f"filtered_{reason}"]) for reason in FILTER_REASONS}


def overview(store: OperatorQueries, destinations: dict[str, list[str]], range_: str, now: float) -> dict[str, Any]:
    """The console's Delivery Overview: `status` numbers per destination and per-bucket outcome series."""
    if range_ not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}, not {range_!r}")
    span, step = RANGES[range_]
    rows = status_rows(store, destinations, now)
    out_rows = [
        {
            "destination": r["destination"],
            "received": r["received"],
            "delivered": r["delivered"],
            "filtered": r["filtered"],
            "filtered_by": filtered_by(r),
            "retrying": r["retrying"],
            "dead": r["dead"],
            "pending": r["pending"],
        }
        for r in rows
    ]
    return {
        "range": range_,
        "step_s": step,
        "generated_at": round(now, 3),
        "destinations": out_rows,
        "series": series(store, list(destinations), now - span, step, now),
    }


def series(
    store: OperatorQueries, names: list[str], since: float, step: int, now: float
) -> dict[str, list[dict[str, int]]]:
    """Outcomes per bucket, oldest first, every bucket present, from the counts the store keeps per minute
    (`Store.activity`: never a scan of the log)."""
    raw = store.activity(names, since, step)
    return {name: [{"t": t, **{s: int(c.get(s, 0)) for s in STATUSES}} for t, c in raw.get(name, [])] for name in names}


# -- the delivery log ---------------------------------------------------------------------------------------------


MAX_ROW_ID = 2**63 - 1
"""The largest row id either backend stores (a 64-bit integer): a cursor past it is forged."""


def _encode_cursor(updated_at: float, row_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([updated_at, row_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int]:
    """The position an opaque `next` stands for; ValueError when it is not one of ours."""
    try:
        updated_at, row_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = float(updated_at), int(row_id)
    except Exception:
        position = None
    if position is None or not math.isfinite(position[0]) or not 0 <= position[1] <= MAX_ROW_ID:
        raise ValueError("cursor is not a value this server gave out as `next`")
    return position


def log_page(
    store: OperatorQueries,
    *,
    destination: str | None = None,
    status: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    source: str | None = None,
) -> tuple[list[LogRow], str | None]:
    """Delivery-log rows newest first (by last update), at most `limit`, after `cursor`; and the next cursor (None
    at the end). `status`: one of STATUSES or `failed` (retrying or dead); `q`: a messageId, or text found in the
    subscription, the error or the event."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    before = decode_cursor(cursor) if cursor is not None else None
    rows = store.log_page(
        destination=destination, status=status, text=q or None, before=before, limit=limit + 1, source=source
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode_cursor(rows[-1].entry.updated_at, rows[-1].row_id) if more and rows else None)


def recent_log(
    store: OperatorQueries,
    limit: int,
    failed_only: bool = False,
    destination: str | None = None,
    source: str | None = None,
) -> list[LogRow]:
    """What `actions-1flow events` lists: the newest `limit` rows (paged through `log_page`), of events from
    `source` only when given."""
    entries: list[LogRow] = []
    cursor: str | None = None
    while len(entries) < limit:
        rows, cursor = log_page(
            store,
            destination=destination,
            status="failed" if failed_only else None,
            cursor=cursor,
            limit=min(MAX_PAGE, limit - len(entries)),
            source=source,
        )
        entries += rows
        if cursor is None:
            break
    return entries


@dataclass(frozen=True)
class EventDetail:
    event: StoredEvent
    deliveries: list[LogRow]


def event_detail(store: OperatorQueries, message_id: str, sources: list[str]) -> EventDetail | None:
    """The newest stored event with this messageId from one of `sources`, and every delivery row of it."""
    event = store.find_event(message_id, sources)
    if event is None:
        return None
    return EventDetail(event, store.event_log(event.seq))


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay of a range would re-send: per destination, the deliveries it takes, and those it leaves alone
    because they were replayed already with the destination's configuration as it is (sending them again would
    send the same)."""

    by_destination: dict[str, int]
    already: dict[str, int]

    @property
    def count(self) -> int:
        return sum(self.by_destination.values())


@dataclass(frozen=True)
class ReplayRange:
    """What a replay takes: deliveries in `statuses` of events received in [since, until), last updated before
    `now` (only one event's, when `event` is its id); `again`: also delivered and filtered ones already replayed
    with the destination's configuration as it is now."""

    since: float
    until: float
    now: float
    statuses: tuple[Status, ...] = ("dead",)
    event: int | None = None
    again: bool = False

    def step(
        self, store: OperatorQueries, name: str, config: str, *, again: bool, after: int = 0, dry_run: bool = False
    ) -> RequeueStep:
        return store.requeue(
            self.since,
            self.until,
            name,
            self.now,
            statuses=self.statuses,
            config=config,
            again=again,
            after=after,
            dry_run=dry_run,
            event=self.event,
        ).result()


def replay_plan(store: OperatorQueries, names: dict[str, str], what: ReplayRange) -> ReplayPlan:
    """Count what `replay` would re-queue (`names`: destination → its configuration's fingerprint)."""
    by: dict[str, int] = {}
    already: dict[str, int] = {}
    for name, config in names.items():
        every = what.step(store, name, config, again=True, dry_run=True).moved
        by[name] = every if what.again else what.step(store, name, config, again=False, dry_run=True).moved
        already[name] = every - by[name]
    return ReplayPlan(by, already)


def replay(
    store: OperatorQueries,
    names: dict[str, str],
    what: ReplayRange,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-queue what `what` takes of these destinations (destination → its configuration's fingerprint), one
    chunk of events at a time; each re-queued row is marked a replay of what it was. Returns how many."""
    done = 0
    for name, config in names.items():
        after: int | None = 0
        while after is not None:
            step = what.step(store, name, config, again=what.again, after=after)
            after = step.next
            done += step.moved
            if progress is not None and step.moved:
                progress(done)
    return done


def replay_statuses(status: str) -> tuple[Status, ...]:
    """`--status`'s value (`delivered`, `filtered`, `dead` or `all`) as the statuses a replay takes; ValueError
    naming the choices otherwise."""
    if status == "all":
        return REPLAYABLE
    if status not in REPLAYABLE:
        raise ValueError(f"status must be one of {', '.join((*REPLAYABLE, 'all'))}, not {status!r}")
    return (status,)


def replaying(store: OperatorQueries, names: dict[str, str]) -> int:
    """Deliveries a replay with these fingerprints re-queued that are not settled yet (the console's progress)."""
    return sum(store.replaying(name, config) for name, config in names.items())
