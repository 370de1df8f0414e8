"""The webhook's settings: where to post and the secret token sent with each request."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from actions_1flow.actions import DestinationSettings, setting


class WebhookSettings(DestinationSettings):
    vendor: ClassVar[str] = "Webhook"

    url: str = setting("URL", "Where each message is posted as JSON.", example='"http://127.0.0.1:9000/hook"')
    token: SecretStr = setting(
        "Token", "Sent as `Authorization: Bearer <token>`. Kept secret.", example='"${HOOK_TOKEN}"'
    )
