"""The Webhooks (Actions) destination: Segment's `send` action (URL, method, headers, the data sent — the whole
event by default — and batching), its `sharedSecret` setting, and ours: `refusePrivateUrls`. Cloud mode only.

Batching is on for a subscription whose mapping says `enable_batching: true`, as a subscription copied from a
Segment workspace says it (Segment's platform adds that key to the mapping; the action does not declare it).
"""

from __future__ import annotations

from typing import Any

from ...actions import Action, Choice, Destination, Field, PerformInput, PerformResult
from ...jsvalues import MISSING
from . import wire
from .client import create_client
from .settings import WebhookSettings

TYPE = "webhook"
ENABLE_BATCHING = "enable_batching"
"""The mapping key that turns batching on (Segment's own name for it)."""

SEND_FIELDS: dict[str, Field] = {
    "url": Field(label="URL", description="Where the request goes (http:// or https://).", required=True, format="uri"),
    "method": Field(
        label="Method",
        description="The HTTP method of the request.",
        required=True,
        default="POST",
        choices=tuple(Choice(m, m) for m in wire.METHODS),
    ),
    "batch_size": Field(
        label="Batch Size",
        description=(
            "With batching on, the most events one request carries (0: Segment's 1,000; at most 4,000). Requests "
            "may carry fewer."
        ),
        type="number",
        default=0,
    ),
    "headers": Field(
        label="Headers",
        description="Headers added to every request (ASCII only); values under names like Authorization are masked.",
        type="object",
        default_object_ui="keyvalue:only",
    ),
    "data": Field(
        label="Data",
        description="The JSON body: by default the whole event.",
        type="object",
        default={"@path": "$."},
    ),
    "batch_keys": Field(
        label="Batch Keys",
        description="The fields whose values a batch's events share: URL, method and headers.",
        multiple=True,
        default=["url", "method", "headers"],
        hidden=True,
    ),
}


def perform_send(data: PerformInput) -> PerformResult:
    payload = data.payload
    return [
        wire.Message(
            url=payload["url"],
            method=payload["method"],
            headers=wire.headers(payload.get("headers")),
            data=payload.get("data", MISSING),
            batch=data.mapping.get(ENABLE_BATCHING) is True,
            batch_size=wire.batch_size(payload.get("batch_size")),
        )
    ]


SEND = Action(
    title="Send",
    description=(
        "Send the event's data to a URL: one request per event, or one per batch of events (an array of their data) "
        "when the subscription's mapping has enable_batching: true."
    ),
    fields=SEND_FIELDS,
    perform=perform_send,
    platform="cloud",
    has_perform_batch=True,
)

ADDITIONS: dict[str, Any] = {
    "modes": ["cloud"],
    "secretSettings": WebhookSettings.secret_keys(),
    "advancedSettings": [],
    "settingsAdded": [key for key in WebhookSettings.model_fields if WebhookSettings.info(key)["addition"]],
    "signature": {
        "header": wire.SIGNATURE_HEADER,
        "algorithm": "hex HMAC-SHA1 of the request body (JSON.stringify's text, UTF-8) with sharedSecret",
    },
    "batching": {
        "enableWith": f"{ENABLE_BATCHING}: true in the subscription's mapping",
        "defaultSize": wire.BATCH_SIZE_DEFAULT,
        "maxSize": wire.BATCH_SIZE_LIMIT,
        "body": "a JSON array of each event's data",
    },
    "rules": [
        "A URL that is not http:// or https://, or a header that is not ASCII, is dead-lettered without a request.",
        "With refusePrivateUrls, a URL whose host resolves to a loopback, private or internal address is too.",
    ],
}

WEBHOOK = Destination(
    name="Webhook",
    slug="actions-webhook",
    mode="cloud",
    description="Send events to your own HTTP endpoints, one by one or in batches, signed with a shared secret.",
    settings_model=WebhookSettings,
    actions={"send": SEND},
    additions=ADDITIONS,
    type=TYPE,
    vendor="Webhook",
    create_client=create_client,
    described_in_metadata=False,
)
