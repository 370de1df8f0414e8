"""Webhook sources over HTTP (`POST /v1/webhook?writeKey=…`): the 1Flow preset and a written mapping make the events
they declare; every refusal is a 4xx naming the problem, stores nothing, and never a 5xx; suppression and rate
limits apply as for every source; 1Flow's retries of one response are stored once.

The app runs in-process (Starlette's TestClient re-raises any server exception) without the delivery worker; what
was stored is read back from the store.
"""

from __future__ import annotations

import base64
import gzip
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from actions_1flow.app import create_app
from actions_1flow.config import ConfigError, parse_config
from actions_1flow.destinations.oneflow.survey_webhook import example_body
from actions_1flow.ingest.limits import MAX_WEBHOOK_BYTES

DELIGHTED_MAPPING = """
        type: track
        event: Survey Question Answered
        userId: {"@path": "$.event_data.person.id"}
        messageId: {"@template": "delighted-{{event_data.id}}"}
        timestamp: {"@path": "$.event_data.updated_at"}
        properties:
          score: {"@path": "$.event_data.score"}
          comment: {"@path": "$.event_data.comment"}
          survey_type: {"@path": "$.event_data.survey_type"}
          email: {"@path": "$.event_data.person.email"}
"""


def config_text(tmp_path) -> str:
    return f"""
storage: sqlite:///{tmp_path}/db.sqlite
sources:
  - {{name: web, write_key: wk_web}}
  - {{name: survey, write_key: wk_survey, previous_write_keys: [wk_survey_old], webhook: {{preset: 1flow-survey}}}}
  - {{name: limited, write_key: wk_limited, webhook: {{preset: 1flow-survey}},
      rate_limit: {{events_per_second: 0.01, burst: 1}}}}
  - name: delighted
    write_key: wk_delighted
    webhook:
      mapping:{DELIGHTED_MAPPING}
  - name: many
    write_key: wk_many
    webhook:
      mapping:
        batch:
          "@arrayPath":
            - "$.responses"
            - {{type: identify, userId: {{"@path": "$.who"}}, traits: {{plan: {{"@path": "$.plan"}}}}}}
"""


@pytest.fixture
def client(tmp_path):
    app = create_app(parse_config(config_text(tmp_path)), run_worker=False)
    with TestClient(app, base_url="http://collector.example") as http:
        http.store = app.state.server.store
        http.app_state = app.state.server
        yield http


def stored(client, source: str) -> list[dict]:
    return [e.event for e in client.store.read_after(0, [source], 100_000)]


def refused(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == code
    return body["message"]


def test_the_1flow_preset_makes_a_survey_submitted_track(client):
    response = client.post("/v1/webhook?writeKey=wk_survey", json=example_body("user-7"))
    assert response.status_code == 200 and response.json() == {"success": True}
    (event,) = stored(client, "survey")
    assert event["type"] == "track" and event["event"] == "Survey Submitted"
    assert event["userId"] == "user-7" and "anonymousId" not in event
    assert event["messageId"] == "1flow-6425124d1b026625c189cac0"
    assert event["properties"] == {
        "survey_id": "30cc805f1f0c541d4dcfccef",
        "survey_name": "Net Promoter Score (NPS)",
        "platform": "windows",
        "trigger_event": "visit_homepage",
        "project_name": "Survey Responses",
        "answers": [
            {
                "title": "How likely are you to recommend us to a friend or co-worker?",
                "type": "nps",
                "answer": 10,  # a number, not 1Flow's "10"
            },
            {"title": "What's the reason for this score?", "type": "text", "answer": "best user experience"},
        ],
    }
    assert event["context"] == {"integration": {"name": "1Flow"}, "traits": {"user_id": "user-7"}}
    assert "ip" not in event["context"]  # the sender is 1Flow's server, not the user
    assert event["receivedAt"] and event["timestamp"]


def test_a_response_without_a_user_id_is_kept_under_an_anonymous_id_of_its_own(client):
    assert client.post("/v1/webhook?writeKey=wk_survey", json=example_body(None, "al-9")).status_code == 200
    (event,) = stored(client, "survey")
    assert "userId" not in event and event["anonymousId"] == "1flow-response-al-9"


def test_1flows_retries_of_one_response_are_stored_once(client):
    for _ in range(3):
        assert client.post("/v1/webhook?writeKey=wk_survey", json=example_body("u1", "al-1")).status_code == 200
    assert client.post("/v1/webhook?writeKey=wk_survey", json=example_body("u1", "al-2")).status_code == 200
    assert [e["messageId"] for e in stored(client, "survey")] == ["1flow-al-1", "1flow-al-2"]


@pytest.mark.parametrize(
    "auth",
    [
        {"params": {"writeKey": "wk_survey"}},
        {"params": {"writeKey": "wk_survey_old"}},  # previous_write_keys rotate as for other sources
        {"headers": {"authorization": "Basic " + base64.b64encode(b"wk_survey:").decode()}},
    ],
)
def test_the_write_key_in_the_query_or_as_basic_user(client, auth):
    assert client.post("/v1/webhook", json=example_body(), **auth).status_code == 200
    assert len(stored(client, "survey")) == 1


def test_a_gzip_body_is_read(client):
    body = gzip.compress(b'{"alert_id": "z", "user": {"user_id": "u"}}')
    response = client.post("/v1/webhook?writeKey=wk_survey", content=body, headers={"content-encoding": "gzip"})
    assert response.status_code == 200
    assert stored(client, "survey")[0]["messageId"] == "1flow-z"


@pytest.mark.parametrize(
    ("query", "headers", "code"),
    [
        ("", {}, "missing_write_key"),
        ("?writeKey=", {}, "missing_write_key"),
        ("?writeKey=wk_nope", {}, "unknown_write_key"),
        ("?writeKey=WK_SURVEY", {}, "unknown_write_key"),
        ("", {"authorization": "Basic %%%"}, "invalid_authorization"),
    ],
)
def test_a_wrong_or_missing_write_key_is_401_and_stores_nothing(client, query, headers, code):
    message = refused(client.post(f"/v1/webhook{query}", json=example_body(), headers=headers), 401, code)
    assert "writeKey" in message or "key" in message
    assert stored(client, "survey") == []


def test_a_source_without_a_webhook_mapping_says_how_to_give_it_one(client):
    message = refused(client.post("/v1/webhook?writeKey=wk_web", json={"a": 1}), 404, "not_a_webhook_source")
    assert "webhook: {preset: …}" in message
    assert stored(client, "web") == []


@pytest.mark.parametrize(
    ("body", "code", "named"),
    [
        (b"", "invalid_json", "empty"),
        (b"{not json", "invalid_json", "not valid JSON"),
        (b"[1, 2]", "invalid_json", "an array"),
        (b'{"user": {"user_id": "u"}}', "no_message_id", "alert_id"),
        (b'{"alert_id": null, "user": {"user_id": "u"}}', "no_message_id", "alert_id"),
    ],
)
def test_a_body_the_preset_cannot_map_is_400_naming_the_field(client, body, code, named):
    message = refused(client.post("/v1/webhook?writeKey=wk_survey", content=body), 400, code)
    assert named in message
    assert stored(client, "survey") == []


def test_a_body_without_the_users_id_is_400_naming_the_field_a_written_mapping_reads(client):
    body = {"event_data": {"id": "d1", "score": 9, "person": {"email": "a@example.com"}}}
    message = refused(client.post("/v1/webhook?writeKey=wk_delighted", json=body), 400, "no_user_anon_id")
    assert "event_data.person.id" in message
    assert stored(client, "delighted") == []


def test_a_body_over_the_limit_is_413_and_stores_nothing(client):
    body = b'{"alert_id": "big", "user": {"user_id": "u"}, "x": "' + b"y" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/v1/webhook?writeKey=wk_survey", content=body)
    message = refused(response, 413, "body_too_large")
    assert f"{MAX_WEBHOOK_BYTES:,}" in message and response.json()["limit"] == MAX_WEBHOOK_BYTES
    assert stored(client, "survey") == []


def test_an_event_over_32_kb_is_400(client):
    body = example_body()
    body["survey_info"]["screens"][1]["answer"] = "x" * 40_000
    refused(client.post("/v1/webhook?writeKey=wk_survey", json=body), 400, "event_too_large")


def test_a_delighted_shaped_webhook_makes_the_events_its_mapping_declares(client):
    body = {
        "event_type": "survey_response.created",
        "event_id": "e1",
        "event_data": {
            "id": "5435",
            "person": {"id": "p-51", "email": "jony@example.com"},
            "survey_type": "nps",
            "score": 9,
            "comment": "Great",
            "updated_at": "2024-05-01T10:00:00.000Z",
        },
    }
    assert client.post("/v1/webhook?writeKey=wk_delighted", json=body).status_code == 200
    (event,) = stored(client, "delighted")
    assert event["type"] == "track" and event["event"] == "Survey Question Answered"
    assert event["userId"] == "p-51" and event["messageId"] == "delighted-5435"
    assert event["timestamp"] == "2024-05-01T10:00:00.000Z"
    assert event["properties"] == {"score": 9, "comment": "Great", "survey_type": "nps", "email": "jony@example.com"}


def test_a_batch_mapping_makes_one_event_per_item_or_refuses_them_all(client):
    body = {"responses": [{"who": "a", "plan": "pro"}, {"who": "b", "plan": "free"}]}
    assert client.post("/v1/webhook?writeKey=wk_many", json=body).status_code == 200
    assert [(e["type"], e["userId"], e["traits"]) for e in stored(client, "many")] == [
        ("identify", "a", {"plan": "pro"}),
        ("identify", "b", {"plan": "free"}),
    ]
    bad = {"responses": [{"who": "c"}, {"plan": "x"}]}
    message = refused(client.post("/v1/webhook?writeKey=wk_many", json=bad), 400, "no_user_anon_id")
    assert message.startswith("batch[1]") and "who" in message
    assert len(stored(client, "many")) == 2  # nothing of the refused body


def test_suppressed_users_are_answered_200_and_not_stored(client):
    client.app_state.store.suppress("userId", "gone", 0.0).result()
    client.app_state.suppressions.load()
    assert client.post("/v1/webhook?writeKey=wk_survey", json=example_body("gone")).status_code == 200
    assert stored(client, "survey") == []


def test_a_source_over_its_rate_limit_gets_429(client):
    assert client.post("/v1/webhook?writeKey=wk_limited", json=example_body("u", "a1")).status_code == 200
    response = client.post("/v1/webhook?writeKey=wk_limited", json=example_body("u", "a2"))
    refused(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1
    assert len(stored(client, "limited")) == 1


def test_only_post_and_options(client):
    refused(client.get("/v1/webhook?writeKey=wk_survey"), 405, "method_not_allowed")


# --- configuration ----------------------------------------------------------------------------------------------


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return str(caught.value)


def test_an_invalid_mapping_is_refused_at_load_with_segments_message():
    text = problems(
        """
sources:
  - name: hook
    write_key: wk
    webhook: {mapping: {type: track, userId: {"@path": 3}}}
"""
    )
    assert (
        "sources[0].webhook.mapping: /userId/@path should be a string or a mapping directive but it is a number."
        in text
    )


def test_a_mapping_without_a_type_is_refused_at_load():
    text = problems("sources: [{name: hook, write_key: wk, webhook: {mapping: {event: x}}}]")
    assert "sources[0].webhook.mapping: a webhook mapping must say which event it makes: add type" in text


@pytest.mark.parametrize(
    ("webhook", "reason"),
    [
        ("{preset: nope}", "unknown webhook preset 'nope'; this server has 1flow-survey"),
        ("{}", "give exactly one of preset (one of: 1flow-survey) or mapping"),
        ("{preset: 1flow-survey, mapping: {type: track}}", "give exactly one of preset"),
    ],
)
def test_a_preset_is_one_this_server_has(webhook, reason):
    assert reason in problems(f"sources: [{{name: hook, write_key: wk, webhook: {webhook}}}]")


def test_each_source_keeps_its_events_for_the_longest_of_its_windows():
    from actions_1flow.app.delivery import delivery_options

    config = parse_config(
        """
pipeline: {dedup_window: 2d}
sources:
  - {name: web, write_key: wk_web}
  - {name: short, write_key: wk_short, dedup_window: 1h}
  - {name: survey, write_key: wk_survey, webhook: {preset: 1flow-survey}}
  - {name: long, write_key: wk_long, dedup_window: 7d, webhook: {preset: 1flow-survey}}
"""
    )
    options = delivery_options(config)
    assert options.dedup_window == 2 * 86400
    assert options.source_dedup_windows == {"survey": 4 * 86400, "long": 7 * 86400}


def test_the_admin_apis_configuration_shows_each_sources_webhook(tmp_path):
    from actions_1flow.service import records

    config = parse_config(config_text(tmp_path))
    shown = {s.name: records.source(s) for s in config.sources}
    assert shown["web"]["webhook"] is None and shown["survey"]["webhook"] == {"preset": "1flow-survey"}
    assert shown["delighted"]["webhook"]["mapping"]["event"] == "Survey Question Answered"
    assert shown["survey"]["write_key"] == "****" and "wk_survey" not in str(shown["survey"])
