"""1Flow's documented request rules, as the sandbox enforces them: each check returns the reason a body is refused.

`/identify` needs a string `user_id` (documented); `/track` needs an `event` and a `user_id` or `anonymous_id`, and
`/batch` a non-empty `batch` list of such items tagged with `type` (our reading of the same API). `traits` and
`properties` must be objects and `timestamp` ISO-8601 text when present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _nonempty_string(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _common(body: dict[str, Any], container: str) -> str | None:
    if container in body and not isinstance(body[container], dict):
        return f"{container} must be an object"
    if "timestamp" in body:
        stamp = body["timestamp"]
        if not isinstance(stamp, str):
            return "timestamp must be an ISO-8601 date string"
        try:
            datetime.fromisoformat(stamp)
        except ValueError:
            return "timestamp must be an ISO-8601 date string"
    return None


def identify_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not _nonempty_string(body.get("user_id")):
        return "user_id is required and must be a non-empty string"
    return _common(body, "traits")


def track_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not _nonempty_string(body.get("event")):
        return "event is required and must be a non-empty string"
    if not (_nonempty_string(body.get("user_id")) or _nonempty_string(body.get("anonymous_id"))):
        return "user_id or anonymous_id is required"
    return _common(body, "properties")


ITEM_CHECKS = {"identify": identify_problem, "track": track_problem}


def batch_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
        return "body must be an object with a batch list"
    if not body["batch"]:
        return "batch must not be empty"
    for index, item in enumerate(body["batch"]):
        kind = item.get("type") if isinstance(item, dict) else None
        check = ITEM_CHECKS.get(kind) if isinstance(kind, str) else None
        if check is None:
            return f"batch[{index}].type must be identify or track"
        problem = check({k: v for k, v in item.items() if k != "type"})
        if problem:
            return f"batch[{index}]: {problem}"
    return None


CHECKS = {"identify": identify_problem, "track": track_problem, "batch": batch_problem}
