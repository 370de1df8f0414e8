"""Webhook bodies as Segment events: a source's mapping-kit mapping applied to the JSON another tool posts.

The mapping's output is one event, or, when the mapping has a `batch` key, the list of events in it (with
`@arrayPath` over the body's items). Every event is then checked as the tracking API checks its own (known type,
a user id or an anonymous id, 32 KB) and enriched the same way, so a body is stored whole or refused whole (400,
naming the body field the mapping read). Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from .. import mapping as mapping_kit
from .body import write_key_from
from .errors import IngestError
from .events import EVENT_TYPES, _present, check_size, enrich

BATCH_KEY = "batch"
"""The mapping key whose list holds several events (as in the tracking API's `/v1/batch`)."""


def write_key_from_query(query_string: bytes, headers: Mapping[str, str]) -> str | None:
    """The write key: `?writeKey=` (RudderStack's form, what a tool's webhook URL carries), else the HTTP Basic user."""
    keys = parse_qs(query_string.decode("utf-8", "replace")).get("writeKey")
    if keys and keys[0]:
        return keys[0]
    return write_key_from(headers, {})


def body_paths(value: Any) -> Iterator[str]:
    """The body paths a mapping value reads (`@path` directives, anywhere inside it), as `user.user_id`."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "@path" and isinstance(child, str):
                yield child.removeprefix("$.").removeprefix("$")
            else:
                yield from body_paths(child)
    elif isinstance(value, list):
        for child in value:
            yield from body_paths(child)


class WebhookMapping:
    """A source's webhook mapping, validated and compiled once (raises `MappingValidationError` with Segment's
    messages for an invalid one: the configuration refuses it at load)."""

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self.mapping = dict(mapping)
        self.compiled = mapping_kit.compile(self.mapping)
        item = self.mapping.get(BATCH_KEY)
        self.item: dict[str, Any] = self.mapping
        if isinstance(item, dict) and isinstance(item.get("@arrayPath"), list) and len(item["@arrayPath"]) == 2:
            self.item = item["@arrayPath"][1] if isinstance(item["@arrayPath"][1], dict) else {}

    def events(self, body: dict[str, Any], received_at: datetime | None = None) -> list[dict[str, Any]]:
        """The events this body makes, checked and enriched; `IngestError` (400) when the mapping cannot make
        valid events of it."""
        try:
            out = self.compiled.apply(body)
        except mapping_kit.MappingError as exc:
            message = f"the source's webhook mapping failed on this body: {exc}"
            raise IngestError(400, "mapping_failed", message) from None
        if BATCH_KEY in self.mapping:
            made = out.get(BATCH_KEY, [])
            if not isinstance(made, list):
                where = ", ".join(body_paths(self.mapping[BATCH_KEY])) or BATCH_KEY
                raise IngestError(400, "invalid_batch", f"the body's {where} is not a list of items")
            wheres = [f"batch[{i}]" for i in range(len(made))]
        else:
            made, wheres = [out], ["the event"]
        now = received_at or datetime.now(UTC)
        events = []
        for event, where in zip(made, wheres, strict=True):
            if not isinstance(event, dict):
                raise IngestError(400, "invalid_event", f"{where} the mapping made is not a JSON object")
            self._check(event, where)
            check_size(event, where)
            events.append(enrich(event, now, None))  # the sender's address is the tool's server, not the user's
        return events

    def _check(self, event: dict[str, Any], where: str) -> None:
        """Refuse an event Segment would refuse, naming what the body lacks."""
        kind = event.get("type")
        if kind not in EVENT_TYPES:
            read = ", ".join(self._reads("type"))
            source = f" (read from the body's {read})" if read else ""
            raise IngestError(
                400,
                "invalid_type",
                f"{where} has type {kind!r}{source}; expected one of {', '.join(EVENT_TYPES)}",
            )
        if not _present(event.get("userId")) and not _present(event.get("anonymousId")):
            read = " or ".join(dict.fromkeys(p for key in ("userId", "anonymousId") for p in self._reads(key)))
            lacks = f": the body has no {read}" if read else ": the mapping sets neither"
            raise IngestError(400, "no_user_anon_id", f"{where} has neither a userId nor an anonymousId{lacks}")
        if "messageId" in self.item and not _present(event.get("messageId")):
            read = ", ".join(self._reads("messageId")) or "messageId"
            raise IngestError(
                400,
                "no_message_id",
                f"{where} has no messageId: the body has no {read}, which identifies it (and its retries)",
            )

    def _reads(self, key: str) -> list[str]:
        """The body fields the mapping reads for one event key, for messages."""
        return list(dict.fromkeys(body_paths(self.item.get(key))))
