"""One delivery round's decisions, as plain functions of events and outcomes: no store, no event loop, no I/O.

A round takes due retries or a batch of new events. `Rules.evaluate_new` / `evaluate_due` judge each event for one
destination: privacy first (a suppressed user, a visitor without consent), then every enabled trigger in one call,
then the action of each subscription that matched; what is ready to send goes to `Round.pending`, what is decided
without sending (filtered, with its `FilterReason`; invalid, dead-lettered) to `Round.settled`. Once the client has
answered, `decide` turns each pending delivery's outcomes into its delivery-log row (delivered, retrying with its
next attempt, dead), with the request and answer summarised for the log (`summaries`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import fql, privacy
from ..actions import (
    Client,
    Outcome,
    OutcomeKind,
    Status,
    SubscriptionResult,
    run_action,
    run_subscription,
    worst,
)
from ..actions.delivery import Target
from .records import DeliveryRecord, DueDelivery, FilterReason, Replay, StoredEvent
from .records import Status as RecordStatus
from .retry import RetryPolicy

NO_MATCH = ""
"""The subscription name of the single `filtered` row recorded for an event that no subscription judged: none
matched it, or privacy kept it from every one."""

NOT_MATCHED = "matched no subscription"
SUPPRESSED = "suppressed: the user's events are suppressed (actions-1flow unsuppress lifts it)"
"""The error of a `filtered` row of an event skipped for a suppression (no id in it: the row may outlive the
event)."""

FIX_HINT = "fix the mapping or the trigger, then replay"

MAX_SUMMARY_CHARS = 500


class CloudDestination(Target, Protocol):
    """A cloud-mode destination as delivery needs it (the configuration's `DestinationConfig` is one): the kit's
    target, its privacy rules, and its client."""

    @property
    def consent(self) -> privacy.ConsentRule | None: ...

    @property
    def privacy(self) -> privacy.FieldRule: ...

    def create_client(self) -> Client: ...


@dataclass(slots=True)
class Pending:
    """One (event, subscription) ready to send in this round, and then its outcomes."""

    item: StoredEvent
    subscription: str
    attempts: int
    first_attempt_at: float | None
    result: SubscriptionResult | None = None
    outcomes: list[Outcome] | None = None
    replay: Replay | None = None
    """What a replay re-sends (carried to a row the replay creates)."""


@dataclass(slots=True)
class Round:
    """What one round sends and records: evaluated (event, subscription) pairs and the rows already settled."""

    pending: list[Pending]
    """Ready to send."""
    settled: list[DeliveryRecord]
    events: list[StoredEvent] | None = None
    """New events (recording the round moves the cursor past them); None for a round of due retries."""
    replaced: list[int] = field(default_factory=list)
    """Events whose replayed single row the subscriptions' rows of this round replace."""


def privacy_rules(
    event: dict[str, Any],
    suppressed: Callable[[Mapping[str, Any]], object],
    consent: privacy.ConsentRule | None,
    drop: list[str],
) -> tuple[dict[str, Any], tuple[FilterReason, str] | None]:
    """A destination's privacy rules on one event (the worker's, and the Event Tester's): the event as the
    destination may see it (`drop` paths removed), or why it may not see it at all (suppressed user, no consent;
    judged on the event as received: dropping paths never changes the consent decision)."""
    if suppressed(event):
        return event, (FilterReason.SUPPRESSED, SUPPRESSED)
    refused = privacy.consent_verdict(event, consent)
    if refused is not None:
        return event, (FilterReason.CONSENT, refused)
    return (privacy.drop_paths(event, drop) if drop else event), None


class Rules:
    """How one destination judges events: its subscriptions (compiled once), settings, consent and dropped fields,
    and who is suppressed now (`suppressed(event)`, true for an event of a suppressed user)."""

    def __init__(self, destination: CloudDestination, suppressed: Callable[[Mapping[str, Any]], object]) -> None:
        self.definition = destination.definition
        self.settings = destination.setting_values()
        self.by_name = {c.name: c for c in destination.compiled}
        self.enabled = [c for c in destination.compiled if c.spec.enabled]
        self.triggers = fql.SubscriptionSet(c.trigger for c in self.enabled)
        self.consent = destination.consent
        self.drop = list(destination.privacy.drop)
        self.suppressed = suppressed

    def privacy(self, item: StoredEvent) -> tuple[StoredEvent, tuple[FilterReason, str] | None]:
        """The event as this destination may see it (its dropped paths removed), or why it may not see it at all:
        its user is suppressed, or the visitor's consent stamp lacks a category (judged on the event as received:
        dropping paths never changes the consent decision)."""
        event, refused = privacy_rules(item.event, self.suppressed, self.consent, self.drop)
        return (item, refused) if event is item.event else (item._replace(event=event), refused)

    def evaluate_new(self, events: list[StoredEvent]) -> Round:
        """New events through every enabled subscription whose trigger matches (all triggers judged in one call per
        event, each once); one `filtered` row for an event that none matched, or that privacy keeps from this
        destination, so `status` can count it."""
        pending: list[Pending] = []
        settled: list[DeliveryRecord] = []
        for item in events:
            item, refused = self.privacy(item)
            if refused is not None:
                reason, error = refused
                settled.append(DeliveryRecord(item.seq, NO_MATCH, "filtered", error=error, reason=reason))
                continue
            if not self._match(item, pending, settled):
                settled.append(
                    DeliveryRecord(item.seq, NO_MATCH, "filtered", error=NOT_MATCHED, reason=FilterReason.NO_MATCH)
                )
        return Round(pending, settled, events)

    def _match(
        self, item: StoredEvent, pending: list[Pending], settled: list[DeliveryRecord], replay: Replay | None = None
    ) -> bool:
        """Run the event through every enabled subscription whose trigger matches it; whether any did."""
        matched = False
        for compiled, hit in zip(self.enabled, self.triggers.matches(item.event)):
            if hit:
                matched = True
                p = Pending(item, compiled.name, 0, None, replay=replay)
                p.result = run_action(self.definition, compiled, item.event, self.settings)
                self._settle(p, pending, settled)
        return matched

    def evaluate_due(self, due: list[DueDelivery]) -> Round:
        """Retries (and replays) through their subscription and the privacy rules as configured now. A replayed
        single row of an event no subscription judged goes through every trigger as a new event would; the rows of
        the subscriptions matching it now replace it (`Round.replaced`)."""
        pending: list[Pending] = []
        settled: list[DeliveryRecord] = []
        replaced: list[int] = []
        for d in due:
            item, refused = self.privacy(d.event)
            p = Pending(item, d.subscription, d.attempts, d.first_attempt_at, replay=d.replay)
            compiled = self.by_name.get(d.subscription)
            if refused is not None:  # consent or suppression, as configured or recorded since
                settled.append(record(p, "filtered", error=refused[1], reason=refused[0]))
            elif d.subscription == NO_MATCH:  # replayed: judged by today's triggers
                if self._match(item, pending, settled, d.replay):
                    replaced.append(item.seq)
                else:
                    settled.append(record(p, "filtered", error=NOT_MATCHED, reason=FilterReason.NO_MATCH))
            elif compiled is None:  # the subscription was removed from the configuration since
                settled.append(record(p, "dead", error=f"subscription {d.subscription!r} no longer exists"))
            else:
                p.result = run_subscription(self.definition, compiled, item.event, self.settings)
                self._settle(p, pending, settled)
        return Round(pending, settled, replaced=replaced)

    @staticmethod
    def _settle(p: Pending, pending: list[Pending], settled: list[DeliveryRecord]) -> None:
        """Ready to send goes to `pending`; decided without sending (filtered, no longer matching, invalid) goes to
        `settled`."""
        assert p.result is not None
        result = p.result
        if result.status is Status.READY:
            pending.append(p)
        elif result.status is Status.FILTERED:  # the action chose not to send it
            settled.append(record(p, "filtered", error=result.reason, reason=FilterReason.REFUSED))
        elif result.status in (Status.NOT_SUBSCRIBED, Status.DISABLED):  # a retry: the trigger changed since
            settled.append(record(p, "filtered", error=result.reason, reason=FilterReason.NO_MATCH))
        else:
            settled.append(record(p, "dead", error=result.reason, hint=FIX_HINT))


def decide(
    p: Pending,
    now: float,
    policy: RetryPolicy,
    paused_until: float,
    summaries: dict[int, tuple[str | None, str | None]],
) -> DeliveryRecord:
    """A sent delivery's row from its outcomes (`outcomes.worst` decides): delivered; dead (a permanent failure, or
    the retry window has run out); else retrying, next no sooner than the destination's pause. `summaries` caches
    the log lines of outcomes shared by several deliveries (one request carries many)."""
    outcomes = p.outcomes or []
    attempts = p.attempts + 1
    first = p.first_attempt_at or now
    decisive = worst(outcomes)
    shown = decisive or (outcomes[0] if outcomes else None)
    summary = summaries.get(id(shown))
    if summary is None:
        request, response = summarise(shown)
        summary = summaries[id(shown)] = (_storable(request), _storable(response))
    if decisive is None:
        return record(p, "delivered", attempts=attempts, first=first, summary=summary)
    if decisive.kind is OutcomeKind.PERMANENT:
        return record(
            p, "dead", attempts=attempts, first=first, error=decisive.reason, hint=decisive.hint, summary=summary
        )
    next_at = policy.next_attempt(attempts, first, now, decisive.retry_after)
    if next_at is None:
        error = f"gave up after {attempts} attempts over {now - first:.0f}s: {decisive.reason}"
        return record(p, "dead", attempts=attempts, first=first, error=error, hint=decisive.hint, summary=summary)
    return record(
        p,
        "retrying",
        attempts=attempts,
        first=first,
        next_at=max(next_at, paused_until),
        error=decisive.reason,
        hint=decisive.hint,
        summary=summary,
    )


def decide_all(pending: list[Pending], now: float, policy: RetryPolicy, paused_until: float) -> list[DeliveryRecord]:
    """Every sent delivery's row (`decide`). Deliveries with the same outcomes and the same attempts before are
    decided once and their rows share what was decided (one request carries hundreds of deliveries), unless they
    are to be retried: each retry gets its own jittered time, as when decided alone."""
    summaries: dict[int, tuple[str | None, str | None]] = {}
    decided: dict[tuple[Any, ...], DeliveryRecord] = {}
    rows = []
    for p in pending:
        key = (p.attempts, p.first_attempt_at, *map(id, p.outcomes or ()))
        same = decided.get(key)
        if same is None or same.status == "retrying":
            row = decide(p, now, policy, paused_until, summaries)
            decided.setdefault(key, row)
            rows.append(row)
            continue
        rows.append(  # built here, not through `record`: that doubles the cost of a round's decisions
            DeliveryRecord(
                p.item.seq,
                p.subscription,
                same.status,
                same.attempts,
                same.first_attempt_at,
                same.next_attempt_at,
                same.error,
                same.hint,
                same.request,
                same.response,
                same.reason,
                p.replay,
            )
        )
    return rows


def record(
    p: Pending,
    status: RecordStatus,
    *,
    attempts: int | None = None,
    first: float | None = None,
    next_at: float | None = None,
    error: str | None = None,
    hint: str | None = None,
    summary: tuple[str | None, str | None] = (None, None),
    reason: FilterReason | None = None,
) -> DeliveryRecord:
    """The delivery-log row of `p` (its attempts and first attempt as they were, unless given). Its text comes
    partly from the destination's answer: a U+0000 there is kept as U+FFFD (PostgreSQL's text cannot hold it);
    `summary` comes so already (`decide` makes it once per request, shared by the request's rows)."""
    return DeliveryRecord(
        p.item.seq,
        p.subscription,
        status,
        attempts=p.attempts if attempts is None else attempts,
        first_attempt_at=first if first is not None else p.first_attempt_at,
        next_attempt_at=next_at,
        error=_storable(error),
        hint=_storable(hint),
        request=summary[0],
        response=summary[1],
        reason=reason,
        replay=p.replay,
    )


def _storable(text: str | None) -> str | None:
    return text.replace("\x00", "\ufffd") if text else text


def summarise(outcome: Outcome | None) -> tuple[str | None, str | None]:
    """Short request/response lines for the delivery log. The key is shown masked, as the client recorded it."""
    if outcome is None or outcome.exchange is None:
        return (None, outcome.reason if outcome else None)
    ex = outcome.exchange
    keys = ", ".join(f"{name}: {value}" for name, value in ex.request_headers.items() if "key" in name.lower())
    request = f"{ex.method} {ex.url} [{keys}] ({len(outcome.messages)} message(s), {len(ex.request_body)} bytes)"
    if ex.status is None:
        response = ex.error or outcome.reason
    else:
        response = f"{ex.status} {ex.response_body}"
    return request[:MAX_SUMMARY_CHARS], (response or "")[:MAX_SUMMARY_CHARS]
