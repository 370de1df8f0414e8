"""The webhook's client and `send` action against a real receiver: the body is JSON.stringify's text and the
signature is over exactly those bytes; batching by Segment's batch keys, its default and limit; private addresses
allowed by default and refused with `refusePrivateUrls`; mistakes in a mapping dead-letter without a request; header
secrets masked wherever the request is shown."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
from typing import Any

import pytest

from actions_1flow.actions import CompiledSubscription, Status, Subscription, run_event
from actions_1flow.destinations.webhook import wire
from actions_1flow.destinations.webhook.addresses import AddressGuard, internal
from actions_1flow.destinations.webhook.client import WebhookClient
from actions_1flow.destinations.webhook.definition import WEBHOOK
from tests.helpers.receiver import Receiver

SECRET = "hook-shared-secret-42"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def messages(mapping: dict[str, Any], events: list[dict[str, Any]]) -> list[wire.Message]:
    spec = Subscription("s", 'type = "track"', "send", mapping)
    out = []
    for event in events:
        [result] = run_event(WEBHOOK, [CompiledSubscription(spec)], event, {})
        assert result.status is Status.READY, result.reason
        out.extend(result.messages)
    return out


def deliver(batch: list[wire.Message], **options: Any):
    async def go():
        async with WebhookClient(SECRET, **options) as client:
            return await client.send_batch(batch)

    return asyncio.run(go())


def signed(raw: bytes) -> str:
    return hmac.new(SECRET.encode(), raw, hashlib.sha1).hexdigest()


def test_the_body_is_json_stringify_text_and_the_signature_covers_those_bytes(receiver):
    event = {"type": "track", "event": "E", "properties": {"total": 5.0, "note": "naïve", "n": 10**21}}
    [outcome] = deliver(messages({"url": receiver.url + "/h", "method": "PATCH", "data": {"@path": "$."}}, [event]))
    [request] = receiver.requests
    assert outcome.delivered and request.method == "PATCH"
    assert request.raw == '{"type":"track","event":"E","properties":{"total":5,"note":"naïve","n":1e+21}}'.encode()
    assert request.headers["X-Signature"] == signed(request.raw)
    assert request.headers["Content-Type"] == "application/json"


def test_batches_group_by_url_method_and_headers_up_to_batch_size(receiver):
    mapping = {"url": receiver.url + "/a", "method": "POST", "data": {"n": {"@path": "$.properties.n"}}}
    batched = {**mapping, "enable_batching": True, "batch_size": 3}
    events = [{"type": "track", "properties": {"n": n}} for n in range(7)]
    other = {**batched, "url": receiver.url + "/b"}
    outcomes = deliver([*messages(batched, events), *messages(other, events[:2]), *messages(mapping, events[:1])])
    assert all(o.delivered for o in outcomes)
    bodies = [(r.path, json.loads(r.raw)) for r in receiver.requests]
    assert bodies == [
        ("/a", [{"n": 0}, {"n": 1}, {"n": 2}]),
        ("/a", [{"n": 3}, {"n": 4}, {"n": 5}]),
        ("/a", [{"n": 6}]),
        ("/b", [{"n": 0}, {"n": 1}]),
        ("/a", {"n": 0}),
    ]
    assert all(r.headers["X-Signature"] == signed(r.raw) for r in receiver.requests)  # the whole body, batches too


def test_segments_batch_size_default_and_limit():
    assert [wire.batch_size(v) for v in (None, 0, 1, 250, 4000, 10_000)] == [1000, 1000, 1, 250, 4000, 4000]


def test_private_addresses_allowed_by_default_refused_on_request(receiver):
    mapping = {"url": receiver.url + "/h", "method": "POST"}
    [allowed] = deliver(messages(mapping, [{"type": "track"}]))
    [refused] = deliver(messages(mapping, [{"type": "track"}]), refuse_private=True)
    assert allowed.delivered and refused.permanent and len(receiver.requests) == 1
    assert "127.0.0.1 is on a private or internal network" in refused.reason
    assert "refusePrivateUrls" in refused.reason and refused.exchange is None


@pytest.mark.parametrize(
    "address, inside",
    [("127.0.0.1", True), ("10.1.2.3", True), ("192.168.0.1", True), ("169.254.169.254", True),
     ("100.64.0.1", True), ("::1", True), ("fd00::1", True), ("::ffff:10.0.0.1", True), ("224.0.0.1", True),
     ("8.8.8.8", False), ("2606:4700:4700::1111", False)],
)  # fmt: skip
def test_what_counts_as_internal(address, inside):
    assert internal(ipaddress.ip_address(address)) is inside


def test_host_names_are_judged_by_what_they_resolve_to():
    assert "localhost is on a private or internal network" in asyncio.run(AddressGuard().refusal("http://localhost/x"))


@pytest.mark.parametrize(
    "mapping, says",
    [
        ({"url": "ftp://example.com/x", "method": "POST"}, "is not an http:// or https:// URL"),
        ({"url": "{receiver}/h", "method": "POST", "headers": {"X-Name": "Zoë"}}, "not ASCII"),
    ],
)
def test_mistakes_in_the_mapping_are_dead_letters_without_a_request(receiver, mapping, says):
    mapping = {**mapping, "url": mapping["url"].replace("{receiver}", receiver.url)}
    [outcome] = deliver(messages(mapping, [{"type": "track"}]))
    assert (
        outcome.permanent and says in outcome.reason and outcome.hint == "fix the subscription's mapping, then replay"
    )
    assert receiver.requests == []


def test_an_invalid_url_or_method_is_segments_validation_message():
    spec = Subscription("s", 'type = "track"', "send", {"url": "not a url", "method": "GET"})
    [result] = run_event(WEBHOOK, [CompiledSubscription(spec)], {"type": "track"}, {})
    assert result.status is Status.INVALID
    assert "URL must be a valid uri string" in result.reason and "Method must be one of" in result.reason


def test_header_secrets_and_the_shared_secret_are_masked_where_the_request_is_shown(receiver):
    mapping = {"url": receiver.url + "/h", "method": "POST", "headers": {"Authorization": "Bearer tok-0123456789"}}
    [outcome] = deliver(messages(mapping, [{"type": "track", "properties": {"echo": SECRET}}]))
    shown = json.dumps(outcome.to_dict())
    assert receiver.requests[0].headers["Authorization"] == "Bearer tok-0123456789"
    assert "tok-0123456789" not in shown and SECRET not in shown and "****6789" in shown
