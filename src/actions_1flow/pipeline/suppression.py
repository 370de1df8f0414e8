"""Suppressed users as one process knows them: a set lookup per event at ingest and in the worker.

The list lives in the store (`actions-1flow suppress`); each server and worker reads it at start and again every
`REFRESH_S` seconds, so on PostgreSQL a suppression recorded from anywhere reaches every server within that time.
Events dropped at ingest are counted in memory and added to the store's counts at each refresh (and logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..jsvalues import to_string
from .store import SUBJECT_KINDS, PrivacyStore, SubjectKind

log = logging.getLogger("actions_1flow.privacy")

REFRESH_S = 5.0
"""How often a server or worker reads the suppression list again."""

SETTLE_S = REFRESH_S + 1.0
"""How long `suppress` waits before it purges a second time: by then every running server has the new list, so
events it accepted just before are gone too."""


def subject(event: Mapping[str, Any], kind: str) -> str | None:
    """The event's `userId` / `anonymousId` as text: a number as JavaScript's `String()` writes it, as the mapping
    does when it sends the id on (`8675309`, `8675309.0` and `8.675309e6` are all `"8675309"`)."""
    value = event.get(kind)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return to_string(value)
    return None


class SuppressionList:
    """The suppressed ids, refreshed from `store`. Thread-safe; `matches` and `keep` never touch the store."""

    def __init__(self, store: PrivacyStore, refresh: float | None = None) -> None:
        self.store = store
        self.refresh_interval = REFRESH_S if refresh is None else refresh
        self._ids: dict[str, frozenset[str]] = {}
        """kind → suppressed values; empty when nobody is suppressed (then a check costs one truth test)."""
        self._next = 0.0
        """(monotonic) When the list is due to be read again."""
        self._dropped: Counter[tuple[SubjectKind, str]] = Counter()
        self._lock = threading.Lock()
        self.dropped_total = 0
        """Events this process dropped at ingest since it started."""

    def load(self) -> None:
        """Read the list from the store now (and report the drops counted since the last time)."""
        self._next = time.monotonic() + self.refresh_interval
        ids: dict[str, set[str]] = {}
        for s in self.store.suppressions():
            ids.setdefault(s.kind, set()).add(s.value)
        self._ids = {kind: frozenset(values) for kind, values in ids.items()}
        try:
            self.flush()
        except Exception as exc:  # only counts: they are reported at the next refresh
            log.warning("could not add to the suppressed-event counts: %s", exc)

    def refresh_if_due(self) -> None:
        if time.monotonic() >= self._next:
            self.load()

    def flush(self) -> None:
        """Add the drops counted since the last flush to the store's counts, and say how many there were."""
        with self._lock:
            dropped, self._dropped = self._dropped, Counter()
        if not dropped:
            return
        log.info(
            "dropped %d event(s) of %d suppressed user(s) at ingest in the last %.0fs",
            sum(dropped.values()),
            len(dropped),
            self.refresh_interval,
        )
        try:
            self.store.count_suppressed(dict(dropped)).result()
        except Exception:
            with self._lock:
                self._dropped.update(dropped)  # counted again at the next refresh
            raise

    def matches(self, event: Mapping[str, Any]) -> tuple[SubjectKind, str] | None:
        """Which suppression `event` falls under, if any."""
        ids = self._ids
        if not ids:
            return None
        for kind in SUBJECT_KINDS:
            values = ids.get(kind)
            if values:
                value = subject(event, kind)
                if value is not None and value in values:
                    return kind, value
        return None

    def keep(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events of users not suppressed (the same list when none is); the others are counted as dropped."""
        if not self._ids:
            return events
        kept = []
        dropped: list[tuple[SubjectKind, str]] = []
        for event in events:
            hit = self.matches(event)
            if hit is None:
                kept.append(event)
            else:
                dropped.append(hit)
        if dropped:
            with self._lock:
                self._dropped.update(dropped)
                self.dropped_total += len(dropped)
        return kept
