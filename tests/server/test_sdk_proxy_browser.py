"""First-party SDK hosting in each browser engine (Chromium, Firefox, WebKit): stock analytics-next on a customer
page (docs/web.md's snippet) loads 1Flow's SDK — the sandbox's fake one — from our server's origin and never asks
the vendor's URL for it (so a blocker of that URL, or a tracker list naming it, has nothing to block), and a `track`
reaches the SDK."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.helpers.sandbox import US_KEY
from tests.helpers.server import ServeProcess
from tests.server.test_device_mode_browser import (
    DOCS_SERVER,
    DOCS_WRITE_KEY,
    docs_snippet,
    page_html,
    sdk_received,
    wait_initialized,
    wait_loaded,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hosting_server(tmp_path_factory, sandbox_server, site):
    tmp = tmp_path_factory.mktemp("sdkproxy")
    config = {
        "storage": f"sqlite:///{tmp}/db.sqlite",
        "sources": [{"name": "shop", "write_key": "wk_fp", "cors_origins": [site.url]}],
        "destinations": [
            {
                "name": "1flow-first-party",
                "type": "1flow",
                "mode": "device",
                "sources": ["shop"],
                "settings": {"projectApiKey": US_KEY, "sdkUrl": sandbox_server.sdk_url(), "sdkProxy": True},
                "subscriptions": "presets",
            }
        ],
    }
    path = tmp / "server.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    server = ServeProcess(path, tmp / "serve.log", "--no-worker", "--log-level", "info")
    yield server
    assert server.stop() in (0, -15), server.log_text()
    assert "Traceback" not in server.log_text()


def test_the_page_loads_the_sdk_first_party_and_track_reaches_it(engine, site, hosting_server, live_sandbox):
    snippet = docs_snippet().replace(DOCS_SERVER, json.dumps(hosting_server.url)).replace(DOCS_WRITE_KEY, '"wk_fp"')
    tab = engine.open(site.add(f"/first-party-{engine.name}.html", page_html(snippet)))
    try:
        wait_initialized(tab)
        wait_loaded(tab)
        sdk_scripts = [url for url in tab.resources() if url.split("?")[0].endswith("/1flow.js")]
        assert len(sdk_scripts) == 1, sdk_scripts  # one fetch of the SDK: not the vendor's URL
        assert sdk_scripts[0].startswith(hosting_server.url + "/sdk/actions-1flow/")  # our origin, not the sandbox's
        tags = tab.evaluate(
            "() => [...document.scripts].filter(s => s.src.endsWith('/1flow.js'))"
            ".map(s => [s.src, s.getAttribute('data-api-key')])"
        )
        assert tags == [[sdk_scripts[0], US_KEY]]
        tab.evaluate("async () => { await analytics.track('Signed Up', {plan: 'pro'}) }")
        assert ("track", "Signed Up", {"plan": "pro"}) in sdk_received(live_sandbox, 1)
        init = [c for c in live_sandbox.calls("sdk") if c["method"] == "init"]
        assert [c["status"] for c in init] == [200]  # the hosted copy reports to 1Flow (the sandbox), key accepted
        assert tab.errors() == []
    finally:
        tab.close()
