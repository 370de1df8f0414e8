"""Comparing our mapping results with the reference's, as JSON text written the way JS writes it.

Both sides are printed with our `JSON.stringify` (JS number formatting, JS key order, `true` never `1`), so the
comparison is strict about types, key order and number spelling, and blind only to what JSON cannot carry.
"""

from __future__ import annotations

import json
from typing import Any

from actions_1flow.jsvalues import json_stringify
from actions_1flow.mapping import MISSING, MappingError, MappingValidationError, transform


def outcome(mapping: Any, event: Any) -> dict:
    """Our `transform` in the oracle's reply shape: {"output": X} / {} / {"error": {"kind", "messages"}}."""
    try:
        result = transform(mapping, event)
    except MappingValidationError as e:
        return {"error": {"kind": "validation", "messages": e.messages}}
    except MappingError as e:
        return {"error": {"kind": "runtime", "messages": [str(e)]}}
    return {} if result is MISSING else {"output": result}


def as_text(reply: dict) -> Any:
    """A reply with its output printed as JS would print it."""
    if "output" in reply:
        return {"output": json_stringify(reply["output"])}
    return reply


def same(ours: dict, reference: dict, *, runtime_messages: bool = True) -> bool:
    """Equal output text, or the same error kind (and messages: always for validation)."""
    if "error" in ours or "error" in reference:
        if "error" not in ours or "error" not in reference:
            return False
        a, b = ours["error"], reference["error"]
        if a["kind"] != b["kind"]:
            return False
        return a["messages"] == b["messages"] if a["kind"] == "validation" or runtime_messages else True
    return as_text(ours) == as_text(reference)


RENDER_LIMIT = "template render limit exceeded"
"""liquidjs's error for a render that took over 500 ms of wall-clock time, which a loaded machine can cause."""


def reference_replies(oracle: Any, cases: list[dict], *, tries: int = 3) -> list[dict]:
    """Segment's replies for `cases` (`mapping.transformMany`); a render that hit liquidjs's time limit is asked
    again, up to `tries` times, so a busy machine does not pass for a difference."""
    replies = oracle.call("mapping.transformMany", cases=cases)
    for _ in range(tries):
        again = [i for i, reply in enumerate(replies) if RENDER_LIMIT in json.dumps(reply.get("error", ""))]
        if not again:
            break
        for i, reply in zip(again, oracle.call("mapping.transformMany", cases=[cases[i] for i in again])):
            replies[i] = reply
    return replies


def liquid_differences(oracle: Any, cases: list[dict]) -> tuple[list, list[dict]]:
    """The cases whose outcome here differs from Segment's (as (template, event, ours, Segment's), runtime messages
    not compared), and Segment's replies; for cases of the form {"mapping": {"x": {"@liquid": T}}, "event": E}."""
    replies = reference_replies(oracle, cases)
    differences = [
        (case["mapping"]["x"]["@liquid"], case["event"], as_text(ours), as_text(reply))
        for case, reply in zip(cases, replies)
        if not same(ours := outcome(case["mapping"], case["event"]), reply, runtime_messages=False)
    ]
    return differences, replies
