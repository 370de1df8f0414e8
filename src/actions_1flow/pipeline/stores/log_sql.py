"""The log queries both stores answer (`Store.log_page`, `find_event`, `event_log`, device-mode reports), written
once: the stores differ only in their placeholder and in how a stored body is read as text."""

from __future__ import annotations

from typing import Any

import orjson

from ..store import STATUSES, DeviceEvent, LogEntry, LogRow

_COLUMNS = (
    "d.destination, d.subscription, e.message_id, e.body, d.status, d.attempts, d.updated_at, d.next_attempt_at, "
    "d.error, d.hint, x.request, x.response, e.received_at, d.replays, e.source, d.id"
)
_FROM = "deliveries d JOIN events e ON e.seq = d.event_seq LEFT JOIN exchanges x ON x.id = d.exchange_id"


def page(
    mark: str,
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
    `mark` is the placeholder (`?` or `%s`); `body_text` an expression of the event body as text."""
    where: list[str] = []
    args: list[Any] = []
    if status == "failed":
        where.append("d.status IN ('retrying', 'dead')")
    elif status is not None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join((*STATUSES, 'failed'))}, not {status!r}")
        where.append(f"d.status = {mark}")
        args.append(status)
    if destination is not None:
        where.append(f"d.destination = {mark}")
        args.append(destination)
    if source is not None:
        where.append(f"e.source = {mark}")
        args.append(source)
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            f"(e.message_id = {mark} OR d.subscription LIKE {mark} ESCAPE '\\' OR d.error LIKE {mark} ESCAPE '\\' "
            f"OR {body_text} LIKE {mark} ESCAPE '\\')"
        )
        args += [text, like, like, like]
    if before is not None:
        where.append(f"(d.updated_at < {mark} OR (d.updated_at = {mark} AND d.id < {mark}))")
        args += [before[0], before[0], before[1]]
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    return f"SELECT {_COLUMNS} FROM {_FROM} {clause} ORDER BY d.updated_at DESC, d.id DESC LIMIT {mark}", [*args, limit]


def find_event(mark: str, sources: list[str]) -> str:
    marks = ",".join([mark] * len(sources))
    return (
        f"SELECT seq, source, received_at, body FROM events WHERE source IN ({marks}) AND message_id = {mark} "
        "ORDER BY seq DESC LIMIT 1"
    )


def event_log(mark: str) -> str:
    return f"SELECT {_COLUMNS} FROM {_FROM} WHERE d.event_seq = {mark} ORDER BY d.destination, d.subscription"


def rows(found: list[tuple[Any, ...]]) -> list[LogRow]:
    return [
        LogRow(
            LogEntry(
                dest,
                sub,
                mid,
                event_type(body),
                status,
                attempts,
                updated,
                next_at,
                error,
                hint,
                req,
                resp,
                received,
                replays,
            ),
            source,
            rid,
        )
        for (
            dest,
            sub,
            mid,
            body,
            status,
            attempts,
            updated,
            next_at,
            error,
            hint,
            req,
            resp,
            received,
            replays,
            source,
            rid,
        ) in found
    ]


def event_type(body: Any) -> str | None:
    """The event's `type`, from a stored body (bytes or text)."""
    try:
        kind = orjson.loads(bytes(body) if isinstance(body, (bytearray, memoryview)) else body).get("type")
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return None
    return kind if isinstance(kind, str) else None


# -- device-mode reports ----------------------------------------------------------------------------------------

_DEVICE_COLUMNS = (
    "received_at, source, destination, kind, message, subscription, event_type, message_id, sdk_url, origin"
)


def device_insert(mark: str) -> str:
    return f"INSERT INTO device_events ({_DEVICE_COLUMNS}) VALUES ({', '.join([mark] * 10)})"


def device_row(event: DeviceEvent) -> tuple[Any, ...]:
    """A report as `device_insert` stores it (its subscription as JSON text)."""
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


def device_select(mark: str, source: str | None, limit: int) -> tuple[str, tuple[Any, ...]]:
    """The newest reports (of one source, when given)."""
    clause, args = (f"WHERE source = {mark} ", (source,)) if source is not None else ("", ())
    return f"SELECT {_DEVICE_COLUMNS} FROM device_events {clause}ORDER BY received_at DESC, id DESC LIMIT {mark}", (
        *args,
        limit,
    )


def device_events(found: list[tuple[Any, ...]]) -> list[DeviceEvent]:
    return [
        DeviceEvent(at, src, dest, kind, msg, None if sub is None else orjson.loads(sub), etype, mid, sdk, origin)
        for at, src, dest, kind, msg, sub, etype, mid, sdk, origin in found
    ]
