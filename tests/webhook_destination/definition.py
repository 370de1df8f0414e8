"""The webhook destination: one action, `post`, sending the event's name and user as JSON; cloud mode only."""

from __future__ import annotations

from typing import Any

from actions_1flow.actions import (
    Action,
    Destination,
    Field,
    Filtered,
    PerformInput,
    PerformResult,
    Preset,
    default_values,
)

from .client import WebhookClient
from .settings import WebhookSettings

POST_FIELDS = {
    "name": Field(label="Name", required=True, default={"@path": "$.event"}),
    "user": Field(label="User", default={"@path": "$.userId"}),
}


def perform_post(data: PerformInput) -> PerformResult:
    if not data.payload.get("user"):
        return Filtered("not sent: no user")
    return [{"name": data.payload["name"], "user": data.payload["user"]}]


def create_client(settings: WebhookSettings, **options: Any) -> WebhookClient:
    return WebhookClient(settings, **options)


WEBHOOK = Destination(
    name="Test Webhook",
    slug="test-webhook",
    mode="cloud",
    description="Posts each track event as JSON (tests only).",
    settings_model=WebhookSettings,
    actions={"post": Action("Post", "Post the event.", POST_FIELDS, perform_post, 'type = "track"', platform="cloud")},
    presets=(Preset("Post Tracks", "post", 'type = "track"', default_values(POST_FIELDS)),),
    type="webhook",
    vendor="Webhook",
    create_client=create_client,
)
