"""The log queries both stores answer (`log_page`, `event_log`, device-mode reports), in neutral SQL (`?`
placeholders), and the folding of their rows into records. The stores differ only in how a stored body is read
as text (`body_text`)."""

from __future__ import annotations

from typing import Any

import orjson

from ..records import STATUSES, DeviceEvent, FilterReason, LogEntry, LogRow
from .layout import DEVICE_EVENTS, SQLITE

_COLUMNS = (
    "d.destination, d.subscription, e.message_id, e.body, d.status, d.attempts, d.updated_at, d.next_attempt_at, "
    "d.error, d.hint, x.request, x.response, e.received_at, d.replays, d.reason, d.replay_of, e.source, d.id"
)
_FROM = "deliveries d JOIN events e ON e.seq = d.event_seq LEFT JOIN exchanges x ON x.id = d.exchange_id"

EVENT_LOG = f"SELECT {_COLUMNS} FROM {_FROM} WHERE d.event_seq = ? ORDER BY d.destination, d.subscription"
"""Every delivery row of one event."""


def page(
    body_text: str,
    *,
    destination: str | None,
    status: str | None,
    text: str | None,
    before: tuple[float, int] | None,
    limit: int,
    source: str | None,
) -> tuple[str, list[Any]]:
    """The SQL and arguments of one page of the log, newest first, strictly before `before` (updated_at, id).
    `body_text` is an expression of the event body as text."""
    where: list[str] = []
    args: list[Any] = []
    if status == "failed":
        where.append("d.status IN ('retrying', 'dead')")
    elif status is not None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join((*STATUSES, 'failed'))}, not {status!r}")
        where.append("d.status = ?")
        args.append(status)
    if destination is not None:
        where.append("d.destination = ?")
        args.append(destination)
    if source is not None:
        where.append("e.source = ?")
        args.append(source)
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            "(e.message_id = ? OR d.subscription LIKE ? ESCAPE '\\' OR d.error LIKE ? ESCAPE '\\' "
            f"OR {body_text} LIKE ? ESCAPE '\\')"
        )
        args += [text, like, like, like]
    if before is not None:
        where.append("(d.updated_at < ? OR (d.updated_at = ? AND d.id < ?))")
        args += [before[0], before[0], before[1]]
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    return f"SELECT {_COLUMNS} FROM {_FROM} {clause} ORDER BY d.updated_at DESC, d.id DESC LIMIT ?", [*args, limit]


def rows(found: list[tuple[Any, ...]]) -> list[LogRow]:
    """Rows of `_COLUMNS` as records (the event's type read from its body)."""
    out = []
    for row in found:
        reason = None if row[14] is None else FilterReason(row[14])
        kind, name = event_kind(row[3])
        fields: list[Any] = [*row[:3], kind, *row[4:14], reason, row[15], name]
        out.append(LogRow(LogEntry(*fields), row[16], row[17]))
    return out


def event_kind(body: Any) -> tuple[str | None, str | None]:
    """The event's `type` and its name (a track's `event`, a page's or screen's `name`), from a stored body."""
    try:
        event = orjson.loads(bytes(body) if isinstance(body, (bytearray, memoryview)) else body)
        kind, name = event.get("type"), event.get("event" if event.get("type") == "track" else "name")
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return None, None
    return (kind if isinstance(kind, str) else None), (name if isinstance(name, str) else None)


# -- device-mode reports ----------------------------------------------------------------------------------------

_DEVICE_COLUMNS = [c for c in DEVICE_EVENTS.names(SQLITE) if c != "id"]
DEVICE_INSERT = (
    f"INSERT INTO device_events ({', '.join(_DEVICE_COLUMNS)}) VALUES ({', '.join('?' * len(_DEVICE_COLUMNS))})"
)


def device_row(event: DeviceEvent) -> tuple[Any, ...]:
    """A report as `DEVICE_INSERT` stores it (its subscription as JSON text)."""
    return (
        event.received_at,
        event.source,
        event.destination,
        event.kind,
        event.message,
        None if event.subscription is None else orjson.dumps(event.subscription).decode(),
        event.event_type,
        event.message_id,
        event.sdk_url,
        event.origin,
    )


def device_select(source: str | None, limit: int) -> tuple[str, tuple[Any, ...]]:
    """The newest reports (of one source, when given)."""
    clause, args = ("WHERE source = ? ", (source,)) if source is not None else ("", ())
    columns = ", ".join(_DEVICE_COLUMNS)
    return f"SELECT {columns} FROM device_events {clause}ORDER BY received_at DESC, id DESC LIMIT ?", (*args, limit)


def device_events(found: list[tuple[Any, ...]]) -> list[DeviceEvent]:
    return [
        DeviceEvent(at, src, dest, kind, msg, None if sub is None else orjson.loads(sub), etype, mid, sdk, origin)
        for at, src, dest, kind, msg, sub, etype, mid, sdk, origin in found
    ]
