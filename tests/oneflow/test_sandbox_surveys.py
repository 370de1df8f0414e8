"""The sandbox answering surveys: 1Flow's `submitted_survey` webhook sent to the configured URL (the documented
example body for the user), tried again every interval until a 200, given up after the retry window; the HTTP
control's refusals. The receiver is our own server app, in-process, with a webhook source."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from actions_1flow.app import create_app as create_server
from actions_1flow.config import parse_config
from actions_1flow.destinations.oneflow.survey_webhook import example_body
from actions_1flow.sandbox import SurveyEmitter, create_app
from actions_1flow.sandbox.surveys import shown_url

pytestmark = pytest.mark.anyio

URL = "http://collector.test/v1/webhook?writeKey=wk_survey_0123456789"


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Receiver(httpx.AsyncBaseTransport):
    """Our server (a `1flow-survey` source) behind a transport that can answer a status of its own first."""

    def __init__(self, tmp_path) -> None:
        config = parse_config(
            f"storage: sqlite:///{tmp_path}/db.sqlite\n"
            "sources: [{name: survey, write_key: wk_survey_0123456789, webhook: {preset: 1flow-survey}}]\n"
        )
        self.app = create_server(config, run_worker=False)
        self.inner = httpx.ASGITransport(app=self.app)
        self.answers: list[int | Exception] = []
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return httpx.Response(answer, json={"error": "down"})
        return await self.inner.handle_async_request(request)

    def stored(self) -> list[dict]:
        return [e.event for e in self.app.state.server.store.read_after(0, ["survey"], 100)]


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_an_answer_is_the_documented_body_for_the_user_and_stops_at_the_first_200(tmp_path):
    receiver = Receiver(tmp_path)
    async with receiver.app.router.lifespan_context(receiver.app):
        emitter = SurveyEmitter(URL, interval=0.05, transport=receiver)
        emission = emitter.answer("user-3", alert_id="6425124d1b026625c189cac0")
        await until(lambda: emission.state == "delivered")
        await asyncio.sleep(0.15)  # no further attempt after the 200
        assert [a.get("status") for a in emission.attempts] == [200]
        assert httpx.Response(200, content=receiver.bodies[0]).json() == example_body("user-3")
        (event,) = receiver.stored()
        assert event["event"] == "Survey Submitted" and event["userId"] == "user-3"


async def test_anything_but_a_200_is_tried_again_every_interval(tmp_path):
    receiver = Receiver(tmp_path)
    receiver.answers = [500, httpx.ConnectError("refused"), 202]  # 1Flow wants a 200, not any 2xx
    async with receiver.app.router.lifespan_context(receiver.app):
        emitter = SurveyEmitter(URL, interval=0.05, transport=receiver)
        emission = emitter.answer("u", alert_id="al-r")
        await until(lambda: emission.state == "delivered")
        assert [a.get("status") for a in emission.attempts] == [500, None, 202, 200]
        assert "ConnectError" in emission.attempts[1]["error"]
        assert len(set(receiver.bodies)) == 1  # the same body every time
        assert [e["messageId"] for e in receiver.stored()] == ["1flow-al-r"]


async def test_tries_end_after_the_retry_window(tmp_path):
    receiver = Receiver(tmp_path)
    receiver.answers = [503] * 100
    emitter = SurveyEmitter(URL, interval=0.05, window=0.12, transport=receiver)
    emission = emitter.answer("u")
    await until(lambda: emission.state == "given_up")
    assert 2 <= len(emission.attempts) <= 4
    await emitter.close()


async def test_the_http_control_answers_a_survey_and_lists_the_attempts(tmp_path):
    receiver = Receiver(tmp_path)
    sandbox = create_app([], surveys=SurveyEmitter(None, interval=0.05, transport=receiver))
    async with receiver.app.router.lifespan_context(receiver.app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test") as c:
            refused = await c.post("/_sandbox/surveys", json={"user_id": "u"})
            assert refused.status_code == 400 and "--webhook-url" in refused.json()["error"]
            started = await c.post("/_sandbox/surveys", json={"user_id": "u", "url": URL, "score": 6, "comment": "ok"})
            assert started.status_code == 202 and started.headers["access-control-allow-origin"] == "*"
            await until(lambda: receiver.stored() != [])
            listed = (await c.get("/_sandbox/surveys")).json()["surveys"]
            answers = [a["answer"] for a in receiver.stored()[0]["properties"]["answers"]]
    assert listed[0]["state"] == "delivered" and listed[0]["user_id"] == "u"
    assert listed[0]["url"] == shown_url(URL) and "wk_survey_0123456789" not in listed[0]["url"]
    assert answers == [6, "ok"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"nope", "not valid JSON"),
        (b"[]", "expected an object"),
        (b'{"user": "u"}', "unknown keys: user"),
        (b'{"user_id": 7}', "user_id must be a non-empty string"),
        (b'{"url": "ftp://x"}', "url must be an http"),
        (b'{"score": 11}', "score must be a whole number from 0 to 10"),
        (b'{"score": true}', "score must be a whole number from 0 to 10"),
    ],
)
async def test_the_http_control_refuses_what_it_cannot_send(body, reason):
    sandbox = create_app([], surveys=SurveyEmitter(URL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test") as c:
        response = await c.post("/_sandbox/surveys", content=body)
    assert response.status_code == 400 and reason in response.json()["error"]
