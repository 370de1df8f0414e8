"""The 1Flow sandbox enforces 1Flow's documented rules, records calls in order and injects faults."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import httpx
import pytest

from actions_1flow.destinations.oneflow import wire
from actions_1flow.sandbox import Fault, SandboxKey
from actions_1flow.sandbox.state import RateWindow, rate_report
from actions_1flow.secrets import mask_secret
from tests.helpers.process import cli_command, free_port
from tests.helpers.sandbox import EU_KEY, UNKNOWN_KEY, US_KEY, InProcessSandbox


def post(
    sandbox: InProcessSandbox, path: str, body: object = None, key: str | None = US_KEY, **kwargs
) -> httpx.Response:
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    if key is not None:
        headers["api_key"] = key
    content = kwargs.pop("content", None)
    if content is None:
        content = json.dumps(body).encode()

    async def go() -> httpx.Response:
        async with sandbox.http() as http:
            return await http.post(path, content=content, headers=headers, **kwargs)

    return asyncio.run(go())


def get(sandbox: InProcessSandbox, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        async with sandbox.http() as http:
            return await http.get(path)

    return asyncio.run(go())


IDENTIFY = {"user_id": "u-1", "traits": {"email": "a@example.com"}, "timestamp": "2022-09-30T03:26:24.894Z"}
TRACK = {"user_id": "u-1", "event": "Signed Up", "properties": {"plan": "pro"}}


class TestHttpApiRules:
    def test_valid_identify_track_and_batch_succeed(self, sandbox):
        assert post(sandbox, "/v1/identify", IDENTIFY).json() == {"success": True}
        assert post(sandbox, "/v1/track", TRACK).status_code == 200
        batch = {"batch": [{"type": "identify", **IDENTIFY}, {"type": "track", **TRACK}]}
        assert post(sandbox, "/v1/batch", batch).status_code == 200

    def test_api_key_header_is_required(self, sandbox):
        response = post(sandbox, "/v1/identify", IDENTIFY, key=None)
        assert response.status_code == 401
        assert response.json()["error"] == "missing api_key header"

    def test_unknown_key_is_401(self, sandbox):
        response = post(sandbox, "/v1/track", TRACK, key=UNKNOWN_KEY)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid api_key"

    def test_key_without_the_region_is_404(self, sandbox):
        response = post(sandbox, "/eu/v1/track", TRACK, key=US_KEY)
        assert response.status_code == 404
        assert "region 'eu'" in response.json()["error"]
        assert post(sandbox, "/eu/v1/track", TRACK, key=EU_KEY).status_code == 200
        assert post(sandbox, "/ap/v1/track", TRACK, key=EU_KEY).status_code == 404

    @pytest.mark.parametrize(
        ("path", "body", "reason"),
        [
            ("/v1/identify", {"traits": {}}, "user_id is required"),
            ("/v1/identify", {"user_id": ""}, "user_id is required"),
            ("/v1/identify", {"user_id": 5}, "user_id is required"),
            ("/v1/identify", {"user_id": "u", "traits": []}, "traits must be an object"),
            ("/v1/identify", {"user_id": "u", "timestamp": "yesterday"}, "timestamp must be an ISO-8601"),
            ("/v1/track", {"user_id": "u"}, "event is required"),
            ("/v1/track", {"event": "E"}, "user_id or anonymous_id is required"),
            ("/v1/track", {"event": "E", "anonymous_id": "a", "properties": 1}, "properties must be an object"),
            ("/v1/batch", {"batch": []}, "batch must not be empty"),
            ("/v1/batch", [1], "body must be an object with a batch list"),
            ("/v1/batch", {"batch": [{"type": "page"}]}, "batch[0].type must be identify or track"),
            (
                "/v1/batch",
                {"batch": [{"type": "track", **TRACK}, {"type": "identify"}]},
                "batch[1]: user_id is required",
            ),
        ],
    )
    def test_payload_rules_are_400_with_a_reason(self, sandbox, path, body, reason):
        response = post(sandbox, path, body)
        assert response.status_code == 400
        assert reason in response.json()["error"]

    def test_body_must_be_json_with_the_json_content_type(self, sandbox):
        assert post(sandbox, "/v1/track", content=b"{nope").json()["error"] == "body is not valid JSON"
        response = post(sandbox, "/v1/track", TRACK, headers={"content-type": "text/plain"})
        assert response.status_code == 400
        assert "Content-Type" in response.json()["error"]

    def test_request_over_32_kb_is_413_and_batch_up_to_500_kb_passes(self, sandbox):
        big = {"user_id": "u", "event": "E", "properties": {"blob": "x" * wire.MAX_REQUEST_BYTES}}
        assert post(sandbox, "/v1/track", big).status_code == 413
        items = [
            {"type": "track", "user_id": "u", "event": "E", "properties": {"blob": "x" * 20_000}} for _ in range(24)
        ]
        assert 400_000 < len(json.dumps({"batch": items})) < wire.MAX_BATCH_BYTES
        assert post(sandbox, "/v1/batch", {"batch": items}).status_code == 200
        too_many = items * 2
        response = post(sandbox, "/v1/batch", {"batch": too_many})
        assert response.status_code == 413
        assert str(wire.MAX_BATCH_BYTES) in response.json()["error"]

    def test_over_the_rate_is_429_with_retry_after(self):
        limited = InProcessSandbox(rate=2)
        statuses = [post(limited, "/v1/track", TRACK) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert statuses[2].headers["retry-after"] == "1"

    def test_rate_window_admits_again_after_a_second(self):
        window = RateWindow(2)
        assert window.admit(now=10.0) is None
        assert window.admit(now=10.2) is None
        assert window.admit(now=10.5) == pytest.approx(0.5)
        assert window.admit(now=11.0) is None

    def test_unknown_routes_answer_json_not_5xx(self, sandbox):
        response = post(sandbox, "/v1/page", TRACK)
        assert response.status_code == 404 and response.json()["error"] == "unknown endpoint 'page'"
        response = get(sandbox, "/nowhere")
        assert response.status_code == 404 and response.json()["status"] == 404
        response = get(sandbox, "/v1/track")
        assert response.status_code == 405 and "error" in response.json()


class TestCallLog:
    def test_calls_are_recorded_in_order_with_the_key_masked(self, sandbox):
        post(sandbox, "/v1/identify", IDENTIFY)
        post(sandbox, "/v1/track", TRACK, key=UNKNOWN_KEY)
        post(sandbox, "/eu/v1/track", TRACK, key=EU_KEY)
        calls = get(sandbox, "/_sandbox/calls").json()["calls"]
        assert [(c["seq"], c["endpoint"], c["region"], c["status"]) for c in calls] == [
            (1, "identify", "us", 200),
            (2, "track", "us", 401),
            (3, "track", "eu", 200),
        ]
        assert all(c["channel"] == "http" for c in calls)
        assert calls[0]["body"] == IDENTIFY
        assert [c["api_key"] for c in calls] == [mask_secret(US_KEY), mask_secret(UNKNOWN_KEY), mask_secret(EU_KEY)]
        text = json.dumps(calls)
        assert US_KEY not in text and EU_KEY not in text and UNKNOWN_KEY not in text

    def test_channel_filter_and_reset(self, sandbox):
        post(sandbox, "/v1/track", TRACK)
        sandbox.fault(status=500)
        assert get(sandbox, "/_sandbox/calls?channel=sdk").json()["calls"] == []
        assert len(get(sandbox, "/_sandbox/calls?channel=http").json()["calls"]) == 1
        assert post(sandbox, "/_sandbox/reset", {}).json() == {"reset": True}
        assert get(sandbox, "/_sandbox/calls").json()["calls"] == []
        assert post(sandbox, "/v1/track", TRACK).status_code == 200  # the queued fault was forgotten too


class TestFaults:
    def test_status_fault_applies_to_the_next_n_requests(self, sandbox):
        reply = post(sandbox, "/_sandbox/faults", {"count": 2, "status": 503, "retry_after": "7"})
        assert reply.json() == {"queued": 2}
        first, second, third = (post(sandbox, "/v1/track", TRACK) for _ in range(3))
        assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
        assert first.headers["retry-after"] == "7"
        calls = sandbox.calls()
        assert calls[0]["fault"] == {"status": 503, "retry_after": "7"}
        assert "fault" not in calls[2]

    def test_fault_list_and_custom_body(self, sandbox):
        post(sandbox, "/_sandbox/faults", [{"status": 429}, {"status": 400, "body": {"message": "bad"}}])
        assert post(sandbox, "/v1/track", TRACK).status_code == 429
        response = post(sandbox, "/v1/track", TRACK)
        assert response.status_code == 400 and response.json() == {"message": "bad"}

    def test_delay_fault_delays_then_answers_normally(self, sandbox):
        sandbox.fault(delay=0.3)
        started = time.monotonic()
        assert post(sandbox, "/v1/track", TRACK).status_code == 200
        assert time.monotonic() - started >= 0.3

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ({"count": 0, "status": 500}, "count must be a positive integer"),
            ({"status": 700}, "status must be an HTTP status code"),
            ({"delay": -1, "status": 500}, "delay must be a non-negative"),
            ({}, "a fault needs status, drop or delay"),
            ({"status": 500, "colour": "red"}, "unknown fault keys: colour"),
            ({"status": 500, "duration": 0}, "duration must be a positive number"),
            ({"status": 500, "duration": 5, "count": 2}, "give count or duration, not both"),
            ({"status": 500, "key": ""}, "key must be a non-empty string"),
            ({"status": 500, "path": "v1/batch"}, "path must start with /"),
        ],
    )
    def test_bad_fault_specs_are_400(self, sandbox, spec, message):
        response = post(sandbox, "/_sandbox/faults", spec)
        assert response.status_code == 400
        assert message in response.json()["error"]

    def test_a_fault_scoped_to_a_key_leaves_other_keys_healthy(self, sandbox):
        reply = post(sandbox, "/_sandbox/faults", {"count": 2, "status": 503, "retry_after": "3", "key": US_KEY})
        assert reply.json() == {"queued": 2}
        assert post(sandbox, "/v1/track", TRACK, key=EU_KEY).status_code == 200  # another key: not affected
        assert post(sandbox, "/v1/track", TRACK, key=US_KEY).status_code == 503
        assert post(sandbox, "/v1/track", TRACK, key=EU_KEY).status_code == 200
        assert post(sandbox, "/v1/track", TRACK, key=US_KEY).status_code == 503
        assert post(sandbox, "/v1/track", TRACK, key=US_KEY).status_code == 200  # used up
        fault = sandbox.calls()[1]["fault"]
        assert fault == {"status": 503, "retry_after": "3", "key": mask_secret(US_KEY)}
        assert US_KEY not in json.dumps(sandbox.calls())

    def test_a_fault_scoped_to_a_path(self, sandbox):
        post(sandbox, "/_sandbox/faults", {"status": 500, "path": "/v1/batch"})
        assert post(sandbox, "/v1/track", TRACK).status_code == 200
        assert post(sandbox, "/v1/batch", {"batch": [{"type": "track", **TRACK}]}).status_code == 500
        assert post(sandbox, "/v1/batch", {"batch": [{"type": "track", **TRACK}]}).status_code == 200

    def test_a_fault_for_a_duration_applies_to_every_matching_request_until_it_ends(self, sandbox):
        sandbox.fault(duration=0.3, status=429, retry_after="1", key=US_KEY)
        assert [post(sandbox, "/v1/track", TRACK).status_code for _ in range(5)] == [429] * 5
        assert post(sandbox, "/v1/track", TRACK, key=EU_KEY).status_code == 200
        time.sleep(0.35)
        assert post(sandbox, "/v1/track", TRACK).status_code == 200

    def test_drop_in_process_surfaces_as_a_connection_reset(self, sandbox):
        sandbox.fault(drop=True)
        with pytest.raises(ConnectionResetError):
            post(sandbox, "/v1/track", TRACK)
        assert sandbox.calls()[0]["reason"] == "connection dropped"

    def test_drop_over_tcp_closes_the_connection_without_an_answer(self, live_sandbox):
        live_sandbox.fault(drop=True)
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(live_sandbox.api_url() + "/track", json=TRACK, headers={"api_key": US_KEY})
        assert httpx.post(live_sandbox.api_url() + "/track", json=TRACK, headers={"api_key": US_KEY}).status_code == 200
        assert [c["status"] for c in live_sandbox.calls()] == [None, 200]


class TestFakeSdk:
    @pytest.mark.parametrize("path", ["/js/1flow.js", "/js/1flow.js?form=methods", "/eu/js/1flow.js?form=both"])
    def test_sdk_is_served_as_javascript_with_cors(self, sandbox, path):
        response = get(sandbox, path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/javascript")
        assert response.headers["access-control-allow-origin"] == "*"
        assert "data-api-key" in response.text and "window.glob" in response.text
        # told where to report and its form as it is served, so a copy served from another origin still reports here
        region = "/eu" if path.startswith("/eu/") else ""
        form = path.partition("form=")[2] or "callable"  # callable unless asked: the form the evidence points to
        assert (
            f'var served = {{"reportUrl":"http://sandbox.test{region}/_sandbox/sdk","form":"{form}"}} || {{}}'
            in response.text
        )

    def test_an_unknown_form_is_refused_with_the_known_ones(self, sandbox):
        response = get(sandbox, "/js/1flow.js?form=object")
        assert response.status_code == 400
        assert "callable, methods, both" in response.text

    def test_sdk_reports_are_recorded_with_validity(self, sandbox):
        report = {"api_key": US_KEY, "method": "logEvent", "args": ["Signed Up", {"plan": "pro"}], "form": "methods"}
        response = post(sandbox, "/_sandbox/sdk", report, key=None, headers={"content-type": "text/plain"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        refused = post(sandbox, "/eu/_sandbox/sdk", {**report, "method": "init", "args": []}, key=None)
        assert refused.status_code == 404
        calls = sandbox.calls("sdk")
        assert [(c["method"], c["region"], c["status"]) for c in calls] == [
            ("logEvent", "us", 200),
            ("init", "eu", 404),
        ]
        assert calls[0]["args"] == ["Signed Up", {"plan": "pro"}] and calls[0]["api_key"] == mask_secret(US_KEY)

    def test_sdk_report_preflight_and_bad_bodies(self, sandbox):
        async def options() -> httpx.Response:
            async with sandbox.http() as http:
                return await http.options("/_sandbox/sdk")

        preflight = asyncio.run(options())
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
        assert post(sandbox, "/_sandbox/sdk", content=b"not json", key=None).status_code == 400
        assert post(sandbox, "/_sandbox/sdk", {"args": []}, key=None).status_code == 400


class TestKeysAndCommand:
    def test_key_specs(self):
        assert SandboxKey.parse("abc") == SandboxKey("abc", frozenset({"us"}))
        assert SandboxKey.parse("abc:us,eu") == SandboxKey("abc", frozenset({"us", "eu"}))
        assert SandboxKey.parse("abc:EU") == SandboxKey("abc", frozenset({"eu"}))
        assert US_KEY not in repr(SandboxKey(US_KEY))

    def test_fault_round_trip(self):
        fault, count = Fault.from_json({"count": 3, "drop": True})
        assert count == 3 and fault.describe() == {"drop": True}

    def test_sandbox_command_serves_and_masks_keys_in_its_banner(self, tmp_path):
        port = free_port()
        process = subprocess.Popen(
            [*cli_command(), "sandbox", "--port", str(port), "--key", f"{EU_KEY}:us,eu", "--rate", "100"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            banner = process.stdout.readline()
            assert f"http://127.0.0.1:{port}" in banner
            assert mask_secret(EU_KEY) in banner and "(eu, us)" in banner and "100 requests/s" in banner
            deadline = time.monotonic() + 15
            while True:
                try:
                    response = httpx.post(
                        f"http://127.0.0.1:{port}/eu/v1/identify", json={"user_id": "u"}, headers={"api_key": EU_KEY}
                    )
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            assert response.status_code == 200
        finally:
            process.terminate()
            output = process.communicate(timeout=10)[0]
        assert EU_KEY not in banner + output

    def test_bad_rate_is_a_usage_error(self):
        result = subprocess.run([*cli_command(), "sandbox", "--rate", "0"], capture_output=True, text=True)
        assert result.returncode == 2 and "--rate" in result.stderr


SANDBOX_ROUTES = [
    ("POST", "/v1/track"),
    ("POST", "/eu/v1/batch"),
    ("GET", "/js/1flow.js"),
    ("GET", "/eu/js/1flow.js"),
    ("POST", "/_sandbox/sdk"),
    ("GET", "/_sandbox/calls"),
    ("POST", "/_sandbox/reset"),
    ("POST", "/_sandbox/faults"),
    ("GET", "/v1/track/"),  # a slash redirect builds a URL from the request
]


@pytest.mark.parametrize(("method", "path"), SANDBOX_ROUTES)
def test_a_url_that_is_not_text_is_a_400_with_a_json_reason(sandbox, method, path):
    """As the server's routes (issue 30): query-string bytes that are not UTF-8, or a path with a lone surrogate."""
    from tests.fuzzing.generate import FuzzRequest
    from tests.fuzzing.run import call

    for query, where in ((b"channel=\xff\xfe", path), (b"", path + "\udcff")):
        sent = asyncio.run(call(sandbox.app, FuzzRequest(method, where, query, [], [b"{}"], "complete")))
        assert sent[0]["status"] == 400, (where, query, sent)
        answer = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
        assert answer["status"] == 400 and "percent-encode" in answer["error"]
    assert sandbox.calls() == []  # nothing recorded


def test_rate_report_counts_per_second_and_in_any_one_second_window():
    report = rate_report([100.1, 100.5, 100.95, 101.0, 101.2, 103.0])
    assert report["per_second"] == [(100, 3), (101, 2), (103, 1)]
    assert report["max_per_second"] == 3
    assert report["max_in_any_second"] == 4  # 100.5 … 101.2 lie within one second, across the boundary
    assert rate_report([]) == {"requests": 0, "per_second": [], "max_per_second": 0, "max_in_any_second": 0}


@pytest.mark.anyio
async def test_the_sandbox_reports_arrivals_of_api_requests_and_forgets_them_on_reset(sandbox):
    async with sandbox.http() as http:
        for _ in range(3):
            await http.post("/v1/identify", json={"user_id": "u"}, headers={"api_key": US_KEY})
        rate = (await http.get("/_sandbox/rate")).json()
        assert rate["requests"] == 3 and sum(n for _, n in rate["per_second"]) == 3
        await http.post("/_sandbox/reset")
        assert (await http.get("/_sandbox/rate")).json()["requests"] == 0
