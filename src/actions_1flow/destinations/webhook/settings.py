"""The webhook destination's settings: Segment's `sharedSecret`, and ours (marked `addition`): refusing URLs on
private and internal networks."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from ...actions import DestinationSettings, setting


class WebhookSettings(DestinationSettings):
    vendor: ClassVar[str] = "Webhook"

    sharedSecret: SecretStr | None = setting(
        "Shared Secret",
        "When set, every request carries `X-Signature`: the hex HMAC-SHA1 of the request body with this secret, "
        "for the receiver to check. Masked in logs and outputs.",
        default=None,
        example='"${WEBHOOK_SECRET}"',
    )
    refusePrivateUrls: bool = setting(
        "Refuse Private URLs",
        "Refuse to send to loopback, private, link-local and other internal addresses (checked on the addresses "
        "the URL's host resolves to). Off by default: a self-hosted server's receivers often live there.",
        default=False,
        addition=True,
    )
