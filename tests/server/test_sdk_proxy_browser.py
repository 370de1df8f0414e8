"""First-party SDK hosting in real Chromium: stock analytics-next on a customer page (docs/web.md's snippet) loads
1Flow's SDK — the sandbox's fake one — from our server's origin, while the vendor's own SDK URL is blocked as an
ad blocker would block it, and a `track` reaches the SDK (`_1flow("track", …)`, the sandbox's default form)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.helpers.sandbox import US_KEY
from tests.helpers.server import ServeProcess
from tests.server.test_device_mode_browser import DOCS_SERVER, DOCS_WRITE_KEY, docs_snippet, sdk_calls, wait_loaded

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hosting_server(tmp_path_factory, sandbox_server):
    tmp = tmp_path_factory.mktemp("sdkproxy")
    config = {
        "storage": f"sqlite:///{tmp}/db.sqlite",
        "sources": [{"name": "shop", "write_key": "wk_fp"}],
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


def test_the_page_loads_the_sdk_first_party_and_track_reaches_it(chromium, site, hosting_server, live_sandbox):
    snippet = docs_snippet().replace(DOCS_SERVER, json.dumps(hosting_server.url)).replace(DOCS_WRITE_KEY, '"wk_fp"')
    url = site.add("/first-party.html", f"<!doctype html><html><head>{snippet}</head><body>shop</body></html>")
    context = chromium.new_context()
    try:
        blocked: list[str] = []

        def ad_blocker(route) -> None:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

        vendor_sdk = live_sandbox.sdk_url()
        context.route(re.compile(re.escape(vendor_sdk) + r"(\?.*)?$"), ad_blocker)  # the vendor's SDK URL only
        page = context.new_page()
        scripts: list[str] = []
        page.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)
        page.goto(url)
        page.wait_for_function("() => window.analytics && window.analytics.initialized === true", timeout=10_000)
        wait_loaded(page)
        sdk_scripts = [u for u in scripts if u.endswith("/1flow.js")]
        assert len(sdk_scripts) == 1
        assert sdk_scripts[0].startswith(hosting_server.url + "/sdk/actions-1flow/")  # our origin, not the sandbox's
        assert blocked == []  # the page never asked for the vendor's URL
        tag = page.evaluate(
            "() => [...document.scripts].filter(s => s.src.endsWith('/1flow.js'))"
            ".map(s => [s.src, s.getAttribute('data-api-key')])"
        )
        assert tag == [[sdk_scripts[0], US_KEY]]
        page.evaluate("async () => { await analytics.track('Signed Up', {plan: 'pro'}) }")
        tracks = [args for method, args in sdk_calls(live_sandbox, 1) if method == "track"]
        assert [(name, details["properties"]) for name, details in tracks] == [("Signed Up", {"plan": "pro"})]
        init = [c for c in live_sandbox.calls("sdk") if c["method"] == "init"]
        assert [c["status"] for c in init] == [200]  # the hosted copy reports to 1Flow (the sandbox), key accepted
    finally:
        context.close()
