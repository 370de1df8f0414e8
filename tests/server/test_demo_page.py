"""The demo page exists only when `server.demo` names a source; it carries that source's key; activity is JSON."""

from __future__ import annotations

import warnings

import pytest

from actions_1flow.config import ConfigError, parse_config
from actions_1flow.server import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def config(tmp_path, demo: str | None):
    server = f"server: {{demo: {demo}}}\n" if demo else ""
    return parse_config(f"""{server}storage: sqlite:///{tmp_path}/db.sqlite
sources:
  - {{name: web, write_key: wk_web}}
  - {{name: other, write_key: wk_other}}
""", "demo.yaml")


def test_no_demo_page_unless_configured(tmp_path):
    with TestClient(create_app(config(tmp_path, None), run_worker=False)) as http:
        assert http.get("/demo").status_code == 404
        assert http.get("/demo/activity.json").status_code == 404


def test_the_demo_page_sends_to_its_source_and_reports_activity(tmp_path):
    with TestClient(create_app(config(tmp_path, "other"), run_worker=False)) as http:
        page = http.get("/demo")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'var writeKey = "wk_other";' in page.text and "wk_web" not in page.text
        assert "analytics._cdn = cdn;" in page.text and "Object.defineProperty(window, \"_1flow\"" in page.text
        assert http.post("/v1/t", json={"userId": "u", "event": "E", "writeKey": "wk_other"}).status_code == 200
        activity = http.get("/demo/activity.json").json()
        assert activity == {"source": "other", "deliveries": [], "device_events": []}  # no destinations: none


def test_the_demo_source_must_exist(tmp_path):
    with pytest.raises(ConfigError) as info:
        config(tmp_path, "nope")
    assert "server.demo: unknown source 'nope' (sources: other, web)" in str(info.value)
