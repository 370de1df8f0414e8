"""1Flow's outgoing webhook (`alert_name: "submitted_survey"`, one JSON POST per survey response) as a webhook source
preset: the mapping that makes it a Segment `track` named "Survey Submitted", and the documented example body.

Facts from 1Flow's webhooks page (docs.1flow.app/integrations/webhooks): the body's keys `alert_name`, `alert_id`,
`project_name`, `survey_id`, `platform`, `survey_info` (`name`, `description`, `platforms`, `trigger_event_name`,
`screens: [{title, answer, type}]`, answers as text, an NPS answer too) and `user`; the receiver must answer 200
within 10 s, else 1Flow sends the same body again every 60 minutes for 3 days; nothing is signed. Inferred (the page
shows no `user` fields): `user.user_id` and `user.anonymous_id`, the names 1Flow's HTTP API uses (docs/sources.md).
It lives beside the destination because it is 1Flow's wire format, and the destination's loop guard (`ORIGIN`)
must name what this mapping stamps.
"""

from __future__ import annotations

from typing import Any

from ...actions import SourcePreset

NAME = "1flow-survey"
ORIGIN = "1Flow"
"""`context.integration.name` of every event this preset makes."""
RETRY_WINDOW_S = 3 * 86400.0
"""1Flow retries an unanswered webhook every 60 minutes for at most 3 days."""
DEDUP_WINDOW_S = RETRY_WINDOW_S + 86400.0
"""The dedup window a source with this preset keeps at least: the retry window and a day of margin (a retry
that left 1Flow just before the 3 days end, slow clocks)."""

EVENT = "Survey Submitted"

_ANSWER = {
    "title": {"@path": "$.title"},
    "type": {"@path": "$.type"},
    # Answers arrive as text; JSON-read them so an NPS (or rating) answer is a number. Other text stays text.
    "answer": {"@json": {"mode": "decode", "value": {"@path": "$.answer"}}},
}

_USER_ID = {"@path": "$.user.user_id"}
_ANONYMOUS_ID = {
    "@if": {
        "exists": {"@path": "$.user.anonymous_id"},
        "then": {"@path": "$.user.anonymous_id"},
        # A response without any id of the user still counts: it is attributed to the response itself.
        "else": {
            "@if": {
                "exists": {"@path": "$.user.user_id"},
                "then": {"@path": "$.user.anonymous_id"},
                "else": {"@template": "1flow-response-{{alert_id}}"},
            }
        },
    }
}

MAPPING: dict[str, Any] = {
    "type": "track",
    "event": EVENT,
    "userId": _USER_ID,
    "anonymousId": _ANONYMOUS_ID,
    # One response, one messageId: 1Flow's retries of it collapse in the store's dedup on (source, messageId).
    "messageId": {"@if": {"exists": {"@path": "$.alert_id"}, "then": {"@template": "1flow-{{alert_id}}"}}},
    "properties": {
        "survey_id": {"@path": "$.survey_id"},
        "survey_name": {"@path": "$.survey_info.name"},
        "platform": {"@path": "$.platform"},
        "trigger_event": {"@path": "$.survey_info.trigger_event_name"},
        "project_name": {"@path": "$.project_name"},
        "answers": {"@arrayPath": ["$.survey_info.screens", _ANSWER]},
    },
    "context": {
        "integration": {"name": ORIGIN},
        "traits": {"@path": "$.user"},
    },
}

PRESET = SourcePreset(
    name=NAME,
    description="1Flow's survey-response webhook (submitted_survey) as a Survey Submitted track",
    mapping=MAPPING,
    dedup_window=DEDUP_WINDOW_S,
)


def example_body(user_id: str | None = "user-1", alert_id: str = "6425124d1b026625c189cac0") -> dict[str, Any]:
    """1Flow's documented example body (its `user` object as inferred), for one user and one response id."""
    user: dict[str, Any] = {} if user_id is None else {"user_id": user_id}
    return {
        "alert_name": "submitted_survey",
        "alert_id": alert_id,
        "project_name": "Survey Responses",
        "survey_id": "30cc805f1f0c541d4dcfccef",
        "platform": "windows",
        "survey_info": {
            "name": "Net Promoter Score (NPS)",
            "trigger_event_name": "visit_homepage",
            "screens": [
                {
                    "title": "How likely are you to recommend us to a friend or co-worker?",
                    "answer": "10",
                    "type": "nps",
                },
                {"title": "What's the reason for this score?", "answer": "best user experience", "type": "text"},
            ],
        },
        "user": user,
    }
