"""The 1Flow HTTP client against the sandbox: wire format, outcome classes, hints, Retry-After, 413 splitting,
oversize refusal, timeouts, dropped connections and connection reuse."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from actions_1flow.actions import OutcomeKind, classify, parse_retry_after
from actions_1flow.destinations.oneflow import wire
from actions_1flow.destinations.oneflow.client import HINT_API_KEY, HINT_REGION, OneFlowClient
from actions_1flow.secrets import mask_secret
from tests.helpers.process import free_port
from tests.helpers.sandbox import EU_KEY, UNKNOWN_KEY, US_KEY


def run(coro):
    return asyncio.run(coro)


async def send(client: OneFlowClient, message: wire.Message):
    async with client:
        return await client.send(message)


async def send_batch(client: OneFlowClient, messages: list[wire.Message], **options):
    async with client:
        return await client.send_batch(messages, **options)


TRACK = wire.track("Order Completed", user_id="u-1", anonymous_id="a-1", properties={"total": 12.5})
IDENTIFY = wire.identify("u-1", traits={"email": "a@example.com"}, timestamp="2024-05-01T10:00:00+02:00")


class TestWireFormat:
    def test_track_goes_to_track_with_event_properties_and_ids(self, sandbox):
        outcome = run(send(sandbox.client(), TRACK))
        assert outcome.delivered and outcome.status == 200
        (call,) = sandbox.calls()
        assert call["path"] == "/v1/track"
        assert call["body"] == {
            "user_id": "u-1",
            "anonymous_id": "a-1",
            "event": "Order Completed",
            "properties": {"total": 12.5},
        }

    def test_identify_goes_to_identify_with_user_id_traits_and_iso_timestamp(self, sandbox):
        assert run(send(sandbox.client(), IDENTIFY)).delivered
        (call,) = sandbox.calls()
        assert call["path"] == "/v1/identify"
        assert call["body"] == {
            "user_id": "u-1",
            "traits": {"email": "a@example.com"},
            "timestamp": "2024-05-01T08:00:00.000Z",
        }

    def test_batch_carries_typed_items_in_order(self, sandbox):
        outcomes = run(send_batch(sandbox.client(), [IDENTIFY, TRACK]))
        assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED]
        assert outcomes[0].messages == (IDENTIFY, TRACK)
        (call,) = sandbox.calls()
        assert call["path"] == "/v1/batch"
        assert [item["type"] for item in call["body"]["batch"]] == ["identify", "track"]
        assert call["body"]["batch"][1]["event"] == "Order Completed"

    def test_timestamps_are_normalised_or_left_out(self):
        assert wire.iso_timestamp("2022-09-30T03:26:24.894Z") == "2022-09-30T03:26:24.894Z"
        assert wire.iso_timestamp("2022-09-30 03:26:24") == "2022-09-30T03:26:24.000Z"
        assert wire.iso_timestamp("not a date") is None
        assert wire.iso_timestamp(1700000000) is None
        assert "timestamp" not in wire.track("E", user_id="u", timestamp="garbage").body

    def test_exchange_summary_masks_the_key(self, sandbox):
        outcome = run(send(sandbox.client(), TRACK))
        summary = outcome.exchange.to_dict()
        assert summary["request"]["headers"]["api_key"] == mask_secret(US_KEY)
        assert summary["request"]["url"] == "http://sandbox.test/v1/track"
        assert summary["response"] == {
            "status": 200,
            "headers": summary["response"]["headers"],
            "body": '{"success":true}',
        }
        assert US_KEY not in str(outcome.to_dict()) and US_KEY not in repr(sandbox.client())


class TestOutcomes:
    def test_wrong_key_is_permanent_with_the_key_hint(self, sandbox):
        outcome = run(send(sandbox.client(UNKNOWN_KEY), TRACK))
        assert (
            outcome.permanent and outcome.status == 401 and outcome.hint == HINT_API_KEY == "check the Project API Key"
        )
        assert "401 Unauthorized" in outcome.summary() and UNKNOWN_KEY not in outcome.summary()

    def test_key_without_the_region_is_permanent_with_the_region_hint(self, sandbox):
        outcome = run(send(sandbox.client(US_KEY, region="eu"), IDENTIFY))
        assert outcome.permanent and outcome.status == 404
        assert outcome.hint == HINT_REGION == "wrong Project API Key or a region your 1Flow plan does not include"
        assert run(send(sandbox.client(EU_KEY, region="eu"), IDENTIFY)).delivered

    def test_payload_rejection_is_permanent(self, sandbox):
        outcome = run(send(sandbox.client(), wire.Message("identify", {"traits": {}})))
        assert outcome.permanent and outcome.status == 400 and "user_id is required" in outcome.reason

    def test_429_with_retry_after_seconds_is_retryable_with_the_delay(self, sandbox):
        sandbox.fault(status=429, retry_after="3")
        outcome = run(send(sandbox.client(), TRACK))
        assert outcome.retryable and outcome.status == 429 and outcome.retry_after == 3.0
        assert "retry after 3s" in outcome.summary()

    def test_503_with_an_http_date_retry_after_is_retryable(self, sandbox):
        later = datetime.now(UTC) + timedelta(seconds=120)
        sandbox.fault(status=503, retry_after=format_datetime(later, usegmt=True))
        outcome = run(send(sandbox.client(), TRACK))
        assert outcome.retryable and outcome.status == 503
        assert 115 <= outcome.retry_after <= 120

    def test_503_without_retry_after_is_retryable_without_delay(self, sandbox):
        sandbox.fault(status=503)
        outcome = run(send(sandbox.client(), TRACK))
        assert outcome.retryable and outcome.retry_after is None

    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (200, "delivered"),
            (202, "delivered"),
            (400, "permanent"),
            (401, "permanent"),
            (403, "permanent"),
            (404, "permanent"),
            (408, "retryable"),
            (409, "permanent"),
            (413, "permanent"),
            (423, "retryable"),
            (429, "retryable"),
            (500, "retryable"),
            (501, "permanent"),
            (502, "retryable"),
            (503, "retryable"),
            (504, "retryable"),
            (511, "retryable"),
            (599, "retryable"),
        ],
    )
    def test_status_classes_follow_segments_retry_contract(self, status, kind):
        assert classify(status).value == kind

    @pytest.mark.parametrize("status", [408, 423, 500, 502])
    def test_other_retryable_statuses_from_the_sandbox(self, sandbox, status):
        sandbox.fault(status=status)
        assert run(send(sandbox.client(), TRACK)).retryable

    def test_501_is_permanent(self, sandbox):
        sandbox.fault(status=501)
        assert run(send(sandbox.client(), TRACK)).permanent

    def test_retry_after_parsing(self):
        now = datetime(2024, 1, 1, tzinfo=UTC)
        assert parse_retry_after("120") == 120.0
        assert parse_retry_after(" 1.5 ") == 1.5
        assert parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now=now) == 30.0
        assert parse_retry_after("Sun, 31 Dec 2023 23:00:00 GMT", now=now) == 0.0
        assert parse_retry_after("-5") == 0.0
        assert (
            parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("nan") is None
        )


class TestSizes:
    def test_oversize_event_is_refused_before_sending_naming_its_size(self, sandbox):
        big = wire.track("E", user_id="u", properties={"blob": "x" * wire.MAX_REQUEST_BYTES})
        outcome = run(send(sandbox.client(), big))
        assert outcome.permanent and outcome.exchange is None and outcome.status is None
        assert f"event is {big.size} bytes" in outcome.reason and "32 KB" in outcome.reason
        assert sandbox.calls() == []

    def test_oversize_event_in_a_batch_is_refused_and_the_rest_sent(self, sandbox):
        big = wire.track("E", user_id="u", properties={"blob": "x" * wire.MAX_REQUEST_BYTES})
        outcomes = run(send_batch(sandbox.client(), [TRACK, big, IDENTIFY]))
        assert [(o.kind.value, len(o.messages)) for o in outcomes] == [("permanent", 1), ("delivered", 2)]
        assert outcomes[0].messages == (big,)
        (call,) = sandbox.calls()
        assert len(call["body"]["batch"]) == 2

    def test_batches_are_packed_within_500_kb(self, sandbox):
        messages = [wire.track("E", user_id=f"u{i}", properties={"blob": "x" * 20_000}) for i in range(60)]
        outcomes = run(send_batch(sandbox.client(), messages))
        assert all(o.delivered for o in outcomes) and len(outcomes) == 3
        assert sum(len(o.messages) for o in outcomes) == 60
        calls = sandbox.calls()
        assert all(c["bytes"] <= wire.MAX_BATCH_BYTES for c in calls)
        assert [item["user_id"] for c in calls for item in c["body"]["batch"]] == [f"u{i}" for i in range(60)]

    def test_413_splits_the_batch_and_resends_the_halves(self, sandbox):
        messages = [wire.track("E", user_id=f"u{i}") for i in range(4)]
        sandbox.fault(status=413)
        outcomes = run(send_batch(sandbox.client(), messages))
        assert [(o.kind.value, [m.body["user_id"] for m in o.messages]) for o in outcomes] == [
            ("delivered", ["u0", "u1"]),
            ("delivered", ["u2", "u3"]),
        ]
        assert [(c["status"], len(c["body"]["batch"])) for c in sandbox.calls()] == [(413, 4), (200, 2), (200, 2)]

    def test_a_batch_refused_for_one_bad_message_is_split_until_only_that_one_fails(self, sandbox):
        good = [wire.track("E", user_id=f"u{i}") for i in range(5)]
        bad = wire.track("", user_id="u-bad")  # 1Flow refuses an empty event name
        outcomes = run(send_batch(sandbox.client(), [*good[:3], bad, *good[3:]]))
        refused = [o for o in outcomes if not o.delivered]
        assert [(o.status, o.messages) for o in refused] == [(400, (bad,))]
        assert "event is required" in refused[0].reason
        assert sorted(m.body["user_id"] for o in outcomes if o.delivered for m in o.messages) == [
            f"u{i}" for i in range(5)
        ]

    def test_stop_on_retryable_holds_back_the_rest_of_the_call(self, sandbox):
        messages = [wire.track("E", user_id=f"u{i}", properties={"blob": "x" * 20_000}) for i in range(60)]
        sandbox.fault(status=429, retry_after="9")
        outcomes = run(send_batch(sandbox.client(), messages, stop_on_retryable=True))
        assert [c["status"] for c in sandbox.calls()] == [429]
        assert [(o.kind.value, o.exchange is None, o.retry_after) for o in outcomes] == [
            ("retryable", False, 9.0),
            ("retryable", True, 9.0),
        ]
        assert sum(len(o.messages) for o in outcomes) == 60 and "not sent" in outcomes[1].reason

    def test_413_on_a_single_event_is_permanent(self, sandbox):
        sandbox.fault(count=4, status=413)
        outcomes = run(send_batch(sandbox.client(), [TRACK, IDENTIFY]))
        assert [(o.kind.value, o.status) for o in outcomes] == [("permanent", 413), ("permanent", 413)]
        assert run(send(sandbox.client(), TRACK)).permanent


class TestTransportFailures:
    def test_timeout_is_retryable(self, live_sandbox):
        live_sandbox.fault(delay=2)
        client = OneFlowClient(US_KEY, live_sandbox.api_url(), timeout=0.3)
        outcome = run(send(client, TRACK))
        assert outcome.retryable and outcome.status is None and "timed out" in outcome.reason
        assert outcome.exchange.error == outcome.reason

    def test_dropped_connection_is_retryable(self, live_sandbox):
        live_sandbox.fault(drop=True)
        outcome = run(send(OneFlowClient(US_KEY, live_sandbox.api_url()), TRACK))
        assert outcome.retryable and "connection error" in outcome.reason

    def test_dropped_connection_in_process_is_retryable(self, sandbox):
        sandbox.fault(drop=True)
        assert run(send(sandbox.client(), TRACK)).retryable

    def test_refused_connection_is_retryable(self):
        outcome = run(send(OneFlowClient(US_KEY, f"http://127.0.0.1:{free_port()}/v1", timeout=2), TRACK))
        assert outcome.retryable and "connection error" in outcome.reason

    def test_connections_are_kept_alive_and_reused(self, live_sandbox):
        async def many():
            async with OneFlowClient(US_KEY, live_sandbox.api_url()) as client:
                return [await client.send(TRACK) for _ in range(5)]

        assert all(o.delivered for o in run(many()))
        peers = {c["peer"] for c in live_sandbox.calls()}
        assert len(peers) == 1
