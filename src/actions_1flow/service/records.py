"""One JSON shape per record, for every operator-facing output: `events --json`, the admin API and so the console.
Moments are ISO-8601 in UTC (`times.iso`); secrets are masked by `secrets`' one rule."""

from __future__ import annotations

from typing import Any

from ..actions import Status, SubscriptionResult
from ..config import Config, DestinationConfig, SourceConfig
from ..pipeline import DeviceEvent, LogEntry
from ..secrets import mask_secret
from ..times import iso


def log_entry(e: LogEntry, source: str | None = None) -> dict[str, Any]:
    """A delivery-log row: the event (messageId, source, type, when received), the destination and subscription,
    the outcome (status, a filtered row's reason, attempts, replays, next attempt, error and hint) and the last
    request and answer (the key masked, as the log stores them)."""
    return {
        "updated_at": iso(e.updated_at),
        "destination": e.destination,
        "subscription": e.subscription,
        "messageId": e.message_id,
        "source": source,
        "received_at": iso(e.received_at),
        "type": e.event_type,
        "event": e.event_name,
        "status": e.status,
        "reason": e.reason,
        "attempts": e.attempts,
        "replays": e.replays,
        "replay_of": e.replay_of,
        "next_attempt_at": iso(e.next_attempt_at),
        "error": e.error,
        "hint": e.hint,
        "request": e.request,
        "response": e.response,
    }


def device_event(d: DeviceEvent) -> dict[str, Any]:
    """A report a device-mode plugin sent from a page."""
    return {
        "received_at": iso(d.received_at),
        "destination": d.destination,
        "source": d.source,
        "kind": d.kind,
        "message": d.message,
        "subscription": d.subscription,
        "type": d.event_type,
        "messageId": d.message_id,
        "origin": d.origin,
    }


def verdict(destination: str, result: SubscriptionResult) -> dict[str, Any]:
    """What one subscription of the destination named `destination` makes of an event (as configured now)."""
    return {
        "destination": destination,
        "subscription": result.subscription.name,
        "partnerAction": result.subscription.partner_action,
        "status": result.status.value,
        "matched": result.matched,
        "reason": result.reason or None,
        "mapped": result.mapped,
        "payload": result.payload if result.status is Status.READY or result.payload is not None else None,
    }


def privacy_verdict(destination: DestinationConfig, reason: str, filter_reason: str) -> dict[str, Any]:
    """An event the destination's privacy rules keep from it (suppressed user, no consent): no subscription judges
    it, as in the delivery log's `filtered` row."""
    return {
        "destination": destination.name,
        "subscription": None,
        "partnerAction": None,
        "status": "filtered",
        "matched": False,
        "reason": reason,
        "filter_reason": filter_reason,
        "mapped": None,
        "payload": None,
    }


def source(s: SourceConfig) -> dict[str, Any]:
    """A configured source, its write keys masked."""
    return {
        "name": s.name,
        "write_key": mask_secret(s.write_key),
        "previous_write_keys": [mask_secret(k) for k in s.previous_write_keys],
        "cors_origins": s.cors_origins,
        "rate_limit": s.rate_limit.model_dump() if s.rate_limit else None,
        "webhook": s.webhook.model_dump(exclude_none=True) if s.webhook else None,
    }


def destination(d: DestinationConfig, config: Config) -> dict[str, Any]:
    """A configured destination: its settings masked, its subscriptions as written (or its presets)."""
    return {
        "name": d.name,
        "type": d.type,
        "mode": d.mode,
        "sources": config.sources_of(d),
        "settings": d.settings.masked(),
        "subscriptions": [
            {
                "name": s.name,
                "subscribe": s.subscribe,
                "partnerAction": s.partner_action,
                "mapping": dict(s.mapping),
                "enabled": s.enabled,
            }
            for s in d.subscription_specs()
        ],
        "consent": d.consent.model_dump() if d.consent else None,
        "privacy": d.privacy.model_dump(),
    }
