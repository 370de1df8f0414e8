"""Consent and field controls, as one set of rules for every mode: whether a destination may receive an event
given the visitor's consent stamp, and the event with the destination's `privacy.drop` paths removed.

The same rules are checked by the browser plugin (device mode) against tests/fixtures/consent-cases.json; this
module is the engine's (cloud mode) copy. No project imports: everything above may use it.

The stamp is Segment's: `context.consent.categoryPreferences`, an object of category name → boolean, as written
by `@segment/analytics-consent-tools`' wrapper (see docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol


class ConsentRule(Protocol):
    """What a destination's `consent:` says (`config.ConsentConfig` is one)."""

    @property
    def categories(self) -> Sequence[str]: ...

    @property
    def missing(self) -> str: ...


class FieldRule(Protocol):
    """What a destination's `privacy:` says (`config.PrivacyConfig` is one): the dotted paths to remove."""

    @property
    def drop(self) -> Sequence[str]: ...


def preferences(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The event's `context.consent.categoryPreferences` object, or None when it has none (no stamp)."""
    context = event.get("context")
    consent = context.get("consent") if isinstance(context, Mapping) else None
    prefs = consent.get("categoryPreferences") if isinstance(consent, Mapping) else None
    return prefs if isinstance(prefs, Mapping) else None


def consent_verdict(event: Mapping[str, Any], consent: ConsentRule | Mapping[str, Any] | None) -> str | None:
    """None when the destination may receive `event`, else why not (a reason starting with `consent`).

    No consent rule: allowed. No stamp on the event: the rule's `missing` policy (`deny` unless it says `allow`).
    A stamp: every category of the rule must be exactly `true` there (a string "true" is not consent)."""
    if consent is None:
        return None
    if isinstance(consent, Mapping):
        categories: Iterable[str] = consent.get("categories") or ()
        missing = consent.get("missing", "deny")
    else:
        categories, missing = consent.categories, consent.missing
    prefs = preferences(event)
    if prefs is None:
        return None if missing == "allow" else "consent: no consent stamp (context.consent.categoryPreferences)"
    refused = [c for c in categories if prefs.get(c) is not True]
    if not refused:
        return None
    return f"consent: {', '.join(refused)} not granted"


def drop_paths(event: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of `event` without the dotted `paths` (`traits.email`, `context.ip`). Only objects are walked: a
    path through a missing key, a non-object or an array is left alone. The input is never changed (only the
    objects along a removed path are copied; the rest is shared with the input)."""
    out = dict(event)
    for path in paths:
        _drop(out, path.split("."))
    return out


def _drop(root: dict[str, Any], keys: list[str]) -> None:
    """Remove `keys` from `root` (a private copy), copying each object on the way before changing it."""
    node: Any = root
    for key in keys[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return
    if keys[-1] not in node:
        return
    current = root  # the path exists: copy the objects below the root along it, then remove the leaf
    for key in keys[:-1]:
        current[key] = current = dict(current[key])
    del current[keys[-1]]
