"""A bounded Hypothesis run over the 1Flow sandbox's HTTP surface (its API, SDK script, and the `_sandbox` control
routes: calls, rate, reset, faults, surveys, SDK reports): random methods, paths, query strings, headers and bodies.

Properties: the app never raises and never answers 5xx to a request of its own (each example is one request to a
fresh sandbox, so no queued fault can make it answer 5xx on purpose); every refusal is JSON with its reason.
"""

from __future__ import annotations

import asyncio

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions_1flow.destinations.oneflow.wire import API_KEY_HEADER
from actions_1flow.sandbox.app import SURVEY_KEYS, create_app
from actions_1flow.sandbox.surveys import SurveyEmitter
from tests.helpers.sandbox import SANDBOX_KEYS, UNKNOWN_KEY, US_KEY

CLOSED_PORT_URL = "http://127.0.0.1:9/hook"
"""A survey webhook target that refuses at once (nothing listens on port 9), so an accepted answer sends nothing."""

ROUTES = [
    ("POST", "/v1/identify"),
    ("POST", "/v1/track"),
    ("POST", "/v1/batch"),
    ("POST", "/v1/nope"),
    ("POST", "/us/v1/track"),
    ("POST", "/eu/v1/batch"),
    ("POST", "/xx/v1/identify"),
    ("GET", "/js/1flow.js"),
    ("GET", "/eu/js/1flow.js"),
    ("POST", "/_sandbox/sdk"),
    ("OPTIONS", "/us/_sandbox/sdk"),
    ("GET", "/_sandbox/calls"),
    ("GET", "/_sandbox/rate"),
    ("POST", "/_sandbox/reset"),
    ("POST", "/_sandbox/faults"),
    ("GET", "/_sandbox/surveys"),
    ("POST", "/_sandbox/surveys"),
    ("OPTIONS", "/_sandbox/surveys"),
    ("GET", "/nope"),
]
"""Every route with a method it takes (and two that do not exist); `route` now and then swaps in another method."""
route = st.tuples(st.sampled_from(ROUTES), st.integers(0, 4), st.sampled_from(["GET", "PUT", "DELETE"])).map(
    lambda drawn: drawn[0] if drawn[1] < 4 else (drawn[2], drawn[0][1])
)

json_leaf = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=12)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
survey = st.dictionaries(
    st.sampled_from(sorted(SURVEY_KEYS) * 3 + ["extra"]),
    json_value | st.sampled_from([CLOSED_PORT_URL, "ftp://x", "", "u1"]) | st.integers(-3, 13),
    max_size=5,
)
answer = st.fixed_dictionaries(
    {"user_id": st.text(min_size=1, max_size=8), "url": st.just(CLOSED_PORT_URL)},
    optional={"score": st.integers(0, 10), "comment": st.text(min_size=1, max_size=20), "alert_id": st.just("a1")},
)
fault = st.dictionaries(
    st.sampled_from(["status", "count", "duration", "key", "path", "delay", "retry_after", "body", "drop"]),
    json_value | st.integers(-1, 600),
    max_size=4,
)
message = st.fixed_dictionaries(
    {"user_id": st.text(max_size=6) | json_value},
    optional={
        "event": st.text(max_size=6) | json_value,
        "type": st.sampled_from(["identify", "track", "page"]) | json_value,
        "properties": json_value,
        "traits": json_value,
    },
)
anything = st.one_of(st.binary(max_size=64), json_value.map(orjson.dumps))
BODIES = {
    "/v1/": (message | st.fixed_dictionaries({"batch": st.lists(message, max_size=3)})).map(orjson.dumps),
    "/_sandbox/surveys": (answer | survey).map(orjson.dumps),
    "/_sandbox/faults": (fault | st.lists(fault, max_size=3)).map(orjson.dumps),
}


def body_for(path: str) -> st.SearchStrategy[bytes]:
    """Mostly a body of the route's own shape (so requests get past parsing), else anything."""
    shaped = next((strategy for part, strategy in BODIES.items() if part in path), anything)
    return st.one_of(shaped, shaped, shaped, anything)


query = st.dictionaries(st.sampled_from(["form", "report", "key", "x"]), st.text(max_size=10), max_size=2)
headers = st.fixed_dictionaries(
    {
        API_KEY_HEADER: st.sampled_from(
            [US_KEY, SANDBOX_KEYS[1].split(":")[0], UNKNOWN_KEY, "", "é".encode("latin-1")]
        ),
        "content-type": st.sampled_from(["application/json", "text/plain", "application/json; charset=utf-8"]),
    },
    optional={
        "x-forwarded-for": st.sampled_from(["1.2.3.4", "", "é".encode("latin-1")]),
        "origin": st.sampled_from(["https://shop.example", "null"]),
    },
)


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=route,
    query=query,
    headers=headers,
    data=st.data(),
)
def test_any_request_to_the_sandbox_gets_an_answer_below_500_and_refusals_say_why(route, query, headers, data):
    method, path = route
    body = data.draw(body_for(path), label="body")

    async def one_request() -> httpx.Response:
        emitter = SurveyEmitter(interval=3600)
        app = create_app(SANDBOX_KEYS, surveys=emitter)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
                content = None if method in ("GET", "OPTIONS") else body
                return await client.request(method, path, params=query, headers=headers, content=content)
        finally:
            await emitter.close()

    response = asyncio.run(one_request())
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert isinstance(orjson.loads(response.content).get("error"), str), response.text
