"""The demo page exists only when `server.demo` names a source; it carries that source's key; activity is JSON."""

from __future__ import annotations

import json
import warnings

import pytest

from actions_1flow.app import create_app
from actions_1flow.config import ConfigError, parse_config
from actions_1flow.server.inline_json import script_json

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def config(tmp_path, demo: str | None):
    server = f"server: {{demo: {demo}}}\n" if demo else ""
    return parse_config(
        f"""{server}storage: sqlite:///{tmp_path}/db.sqlite
sources:
  - {{name: web, write_key: wk_web}}
  - {{name: other, write_key: wk_other}}
""",
        "demo.yaml",
    )


def test_no_demo_page_unless_configured(tmp_path):
    with TestClient(create_app(config(tmp_path, None), run_worker=False)) as http:
        assert http.get("/demo").status_code == 404
        assert http.get("/demo/activity.json").status_code == 404


def test_the_demo_page_sends_to_its_source_and_reports_activity(tmp_path):
    with TestClient(create_app(config(tmp_path, "other"), run_worker=False)) as http:
        page = http.get("/demo")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'var writeKey = "wk_other";' in page.text and "wk_web" not in page.text
        assert "analytics._cdn = cdn;" in page.text and 'Object.defineProperty(window, "_1flow"' in page.text
        assert http.post("/v1/t", json={"userId": "u", "event": "E", "writeKey": "wk_other"}).status_code == 200
        activity = http.get("/demo/activity.json").json()
        assert activity == {"source": "other", "deliveries": [], "device_events": []}  # no destinations: none


def test_the_demo_source_must_exist(tmp_path):
    with pytest.raises(ConfigError) as info:
        config(tmp_path, "nope")
    assert "server.demo: unknown source 'nope' (sources: other, web)" in str(info.value)


HOSTILE_NAME = "</script><script>alert(1)</script><!-- & \u2028\u2029 __WRITE_KEY__"


def test_config_values_cannot_break_out_of_the_page_script(tmp_path):
    """A source name (or key) holding `</script>` or a placeholder stays one JavaScript string in the page."""
    cfg = parse_config(
        f"""server: {{demo: evil}}
storage: sqlite:///{tmp_path}/db.sqlite
sources:
  - name: {json.dumps(HOSTILE_NAME)}
    write_key: "wk_</script>__SOURCE__"
""".replace("{demo: evil}", "{demo: " + json.dumps(HOSTILE_NAME) + "}"),
        "demo.yaml",
    )
    with TestClient(create_app(cfg, run_worker=False)) as http:
        page = http.get("/demo").text
    assert page.count("</script>") == page.count("<script") and "alert(1)</script>" not in page
    assert "<!-- &" not in page and "\u2028" not in page and "\u2029" not in page
    literal = page.split('document.getElementById("source").textContent = ', 1)[1].split(";\n", 1)[0]
    assert json.loads(literal) == HOSTILE_NAME
    key = page.split("var writeKey = ", 1)[1].split(";\n", 1)[0]
    assert json.loads(key) == "wk_</script>__SOURCE__"


@pytest.mark.parametrize("text", ["</script>", "<!--", "a & b", "\u2028\u2029", "plain", "é ☃ 😀"])
def test_script_json_reads_back_as_the_same_value(text):
    literal = script_json({"k": text})
    assert not set(literal) & set("<>&\u2028\u2029")
    assert json.loads(literal) == {"k": text}


def test_demo_activity_shows_only_the_demo_sources_deliveries_and_reports(tmp_path):
    """`/demo/activity.json` is unauthenticated: another source's deliveries and device reports never appear."""
    from actions_1flow.pipeline import DeliveryRecord, DeviceEvent

    with TestClient(create_app(config(tmp_path, "other"), run_worker=False)) as http:
        store = http.app.state.server.store
        store.append("web", [{"type": "track", "event": "Secret", "userId": "u", "messageId": "web-1"}], 1.0).result()
        store.append("other", [{"type": "track", "event": "Demo", "userId": "u", "messageId": "demo-1"}], 2.0).result()
        store.record(
            "d",
            [
                DeliveryRecord(1, "Track Event", "delivered", attempts=1),
                DeliveryRecord(2, "Track Event", "delivered", attempts=1),
            ],
        ).result()
        for source in ("web", "other"):
            store.record_device_event(DeviceEvent(3.0, source, "dev", "sdk-load", f"from {source}")).result()
        activity = http.get("/demo/activity.json").json()
    assert [d["messageId"] for d in activity["deliveries"]] == ["demo-1"]
    assert [r["message"] for r in activity["device_events"]] == ["from other"]
