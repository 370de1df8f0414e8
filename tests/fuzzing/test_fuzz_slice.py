"""20,000 of `make fuzz`'s generated requests through the whole ASGI app: no answer ≥ 500, no exception out of the
app, every refusal JSON with a code, memory flat, and every kind of answer reached (so the generator still gets
past routing, auth, CORS, sizes, encodings, body timeouts and rate limits); and, as named cases, the requests that
runs with other seeds found crashing (and their kind on every other route)."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from tests.fuzzing.generate import ADMIN_TOKEN, FuzzRequest
from tests.fuzzing.run import FuzzReport, call, check, fuzz_app, run

SLICE = 20_000
RSS_GROWTH_BOUND = 48 * 1024 * 1024
"""After the first tenth, RSS may grow by caches filling (SQLite's pages), not by the number of requests."""


def test_a_slice_of_the_fuzz_run_never_crashes_or_answers_5xx(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        report = run(SLICE, seed=1, directory=tmp_path)
    print(report.render())
    assert report.failures == {}, report.render()
    assert report.requests == SLICE
    assert not [s for s in report.statuses if s.isdigit() and int(s) >= 500]
    assert {"200", "204", "400", "401", "403", "404", "405", "408", "413", "415", "429", "no answer"} <= set(
        report.statuses
    )
    assert report.rss_growth < RSS_GROWTH_BOUND, report.render()
    assert caplog.records == []  # nothing logged as an error: no unhandled exception anywhere


NOT_UTF8 = b"g\x82\xc7\xbf"
BEARER = (b"authorization", b"Bearer " + ADMIN_TOKEN.encode())
REGRESSIONS = {
    # Issue 30: seed 99991, request 186321 (and seeds 20261206, 42, 1234): UnicodeDecodeError out of the app. The
    # console page (its login redirect) and the slash redirect crashed the same way; the other routes answered as
    # if the bytes were not there. Every route but the tracking API now refuses such a URL before reading it.
    "settings GET, query not UTF-8": FuzzRequest(
        "GET", "/v1/projects/wk_fuzz_a/settings", NOT_UTF8, [], [b""], "complete"
    ),
    "settings HEAD, query not UTF-8": FuzzRequest(
        "HEAD", "/v1/projects/wk_fuzz_a/settings", NOT_UTF8, [], [b""], "complete"
    ),
    "loader, query not UTF-8": FuzzRequest(
        "GET", "/analytics.js/v1/wk_fuzz_a/analytics.min.js", b"\xff", [], [b""], "complete"
    ),
    "plugin, query not UTF-8": FuzzRequest("GET", "/plugins/actions-1flow.js", b"v=\xc3", [], [b""], "complete"),
    "console page, query not UTF-8": FuzzRequest("GET", "/console/events", b"q=\xff", [], [b""], "complete"),
    "login form, query not UTF-8": FuzzRequest("GET", "/console/login", b"next=\xff", [], [b""], "complete"),
    "admin API, query not UTF-8": FuzzRequest("GET", "/admin/api/v1/events", b"q=\xfe", [BEARER], [b""], "complete"),
    "metrics, query not UTF-8": FuzzRequest("GET", "/metrics", b"\x80", [BEARER], [b""], "complete"),
    "device report, query not UTF-8": FuzzRequest(
        "POST", "/v1/device-events", b"\xc3(", [], [b'{"writeKey": "wk_fuzz_a"}'], "complete"
    ),
    "demo, query not UTF-8": FuzzRequest("GET", "/demo/activity.json", b"\xe2\x28\xa1", [], [b""], "complete"),
    "SDK copy, query not UTF-8": FuzzRequest("GET", "/sdk/1flow/x/1flow.js", b"\xf0\x28", [], [b""], "complete"),
    "slash redirect, query not UTF-8": FuzzRequest("GET", "/console/events/", b"\xff", [], [b""], "complete"),
    "unknown path, lone surrogate": FuzzRequest("GET", "/\udcff/x", b"", [], [b""], "complete"),
}


@pytest.mark.parametrize("name", list(REGRESSIONS))
def test_a_url_that_crashed_or_could_crash_a_route_is_refused_with_a_json_reason(name, tmp_path):
    request = REGRESSIONS[name]
    with fuzz_app(tmp_path) as app:
        sent = asyncio.run(call(app, request))
    report = FuzzReport()
    check(report, 0, request, sent)
    assert report.failures == {}, report.render()
    assert sent[0]["status"] == 400
    if request.method != "HEAD":
        answer = orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))
        assert answer["code"] in ("invalid_query_string", "invalid_path") and "percent-encode" in answer["message"]


JSON = (b"content-type", b"application/json")
NESTED = b'{"n":' * 900 + b'{"@path": "$.event"}' + b"}" * 900
ISSUE_22 = {
    # Issue 22 point 11: a forged cursor with a huge integer was a 500 on SQLite (OverflowError binding it).
    "events, forged cursor past 64 bits": (
        FuzzRequest(
            "GET",
            "/admin/api/v1/events",
            b"cursor=WzEuMCwxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMF0",
            [BEARER],
            [b""],
            "complete",
        ),
        400,
    ),
    # Issue 22 point 5: a 900-level nested mapping was a 500 (RecursionError).
    "mapping preview, 900 levels": (
        FuzzRequest(
            "POST",
            "/admin/api/v1/mapping-preview",
            b"",
            [BEARER, JSON],
            [b'{"subscribe": "type = \\"track\\"", "event": {}, "mapping": ' + NESTED + b"}"],
            "complete",
        ),
        400,
    ),
    # Issue 22 point 7: NUL in an admin parameter was a 500 on PostgreSQL; refused alike on both backends now.
    "event detail, NUL in the id": (
        FuzzRequest("GET", "/admin/api/v1/events/a\x00b", b"", [BEARER], [b""], "complete"),  # as decoded by the server
        400,
    ),
    # Issue 22 point 3: a login form posted by another site's page.
    "login, posted cross-site": (
        FuzzRequest(
            "POST",
            "/console/login",
            b"",
            [(b"content-type", b"application/x-www-form-urlencoded"), (b"sec-fetch-site", b"cross-site")],
            [b"token=" + ADMIN_TOKEN.encode()],
            "complete",
        ),
        403,
    ),
}


@pytest.mark.parametrize("name", list(ISSUE_22))
def test_the_attacks_of_issue_22_get_their_4xx(name, tmp_path):
    request, status = ISSUE_22[name]
    with fuzz_app(tmp_path) as app:
        sent = asyncio.run(call(app, request))
    report = FuzzReport()
    check(report, 0, request, sent)
    assert report.failures == {}, report.render()
    assert sent[0]["status"] == status
