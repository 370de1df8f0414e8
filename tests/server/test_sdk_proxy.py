"""First-party SDK hosting (`server/sdk_proxy.py`): the copy is fetched from a real local HTTP server (an upstream
whose answers the test sets), served with a strong ETag and 304, kept when a refresh fails, bounded in size and
time, and answered with 503 JSON before a first copy exists; then the whole app against the 1Flow sandbox's SDK."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx
import pytest
import yaml
from starlette.applications import Starlette

from actions_1flow.app import create_app
from actions_1flow.config import ConfigError, parse_config
from actions_1flow.server.sdk_proxy import SDK_CACHE, SdkProxy
from tests.helpers.sandbox import US_KEY

pytestmark = pytest.mark.anyio

PATH = "/sdk/test/abc/vendor.js"
SDK_V1 = b"window.vendor = {version: 1};\n" * 40
SDK_V2 = b"window.vendor = {version: 2};\n" * 40
IDENTITY = {"accept-encoding": "identity"}


@dataclass
class Answer:
    """What the upstream answers next (the test changes it between fetches)."""

    status: int = 200
    body: bytes = SDK_V1
    content_type: str = "application/javascript"
    delay: float = 0.0
    chunked: bool = False
    """Sent without Content-Length (the size bound must hold while streaming)."""
    location: str | None = None
    """Sent as `Location` (with a 302 status)."""


class Upstream:
    """A real HTTP server standing in for the vendor's CDN; counts the fetches it answered."""

    def __init__(self) -> None:
        self.answer = Answer()
        self.routes: dict[str, Answer] = {}
        """Answers for given paths (others get `answer`)."""
        self.fetches = 0
        self.paths: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                answer = upstream.routes.get(self.path, upstream.answer)
                upstream.fetches += 1
                upstream.paths.append(self.path)
                time.sleep(answer.delay)
                self.send_response(answer.status)
                self.send_header("content-type", answer.content_type)
                if answer.location is not None:
                    self.send_header("location", answer.location)
                if answer.chunked:
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(answer.body), 4096):
                        piece = answer.body[start : start + 4096]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/js/vendor.js"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


class Served:
    """A proxy for one upstream, its routes in an app, and a client for them."""

    def __init__(self, upstream: Upstream, url: str | None = None, **options: float) -> None:
        """`url`: another URL of the upstream to fetch; the upstream is on loopback, so `allow_private` is on
        unless `options` say otherwise."""
        self.proxy = SdkProxy([(PATH, url or upstream.url)], **{"allow_private": True, **options})
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=Starlette(routes=self.proxy.routes())), base_url="http://server.test"
        )

    async def __aenter__(self) -> Served:
        await self.proxy.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.proxy.stop()
        await self.http.aclose()

    async def get(self, **headers: str) -> httpx.Response:
        return await self.http.get(PATH, headers={**IDENTITY, **headers})


async def test_the_copy_is_served_with_a_strong_etag_and_revalidates_with_304(upstream):
    async with Served(upstream) as served:
        response = await served.get()
        assert response.status_code == 200 and response.content == SDK_V1
        assert response.headers["content-type"] == "application/javascript; charset=utf-8"
        assert response.headers["cache-control"] == SDK_CACHE == "public, max-age=300"
        assert response.headers["access-control-allow-origin"] == "*"
        etag = response.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = await served.get(**{"if-none-match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        # gzip when accepted, with an ETag of its own (other bytes); either tag revalidates
        zipped = await served.http.get(PATH, headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and zipped.content == SDK_V1
        assert zipped.headers["etag"] != etag and not zipped.headers["etag"].startswith("W/")
        assert (await served.get(**{"if-none-match": zipped.headers["etag"]})).status_code == 304
        assert (await served.get(**{"if-none-match": '"other"'})).status_code == 200
        assert upstream.fetches == 1  # served from memory


async def test_a_failed_refresh_keeps_the_last_good_copy(upstream, caplog):
    caplog.set_level(logging.WARNING, "actions_1flow.server.sdk_proxy")
    async with Served(upstream) as served:
        etag = (await served.get()).headers["etag"]
        for answer in (
            Answer(status=503),
            Answer(content_type="text/html; charset=utf-8", body=b"<html>login</html>"),
            Answer(body=b""),
        ):
            upstream.answer = answer
            assert await served.proxy.refresh() is False
            response = await served.get()
            assert (response.status_code, response.content, response.headers["etag"]) == (200, SDK_V1, etag)
        reasons = [
            "(HTTP 503)",
            "(the answer is text/html; charset=utf-8, not a script (a JavaScript type is required: ",
            "(the answer is empty)",
        ]
        assert len(caplog.records) == 3
        for record, reason in zip(caplog.records, reasons, strict=True):
            assert record.levelno == logging.WARNING
            assert reason in record.getMessage() and "still serving the copy fetched" in record.getMessage()
        upstream.stop()  # unreachable: still the old copy
        assert await served.proxy.refresh() is False
        assert (await served.get()).content == SDK_V1


async def test_a_new_version_gets_a_new_etag(upstream):
    async with Served(upstream) as served:
        old = (await served.get()).headers["etag"]
        upstream.answer = Answer(body=SDK_V2)
        assert await served.proxy.refresh() is True
        response = await served.get(**{"if-none-match": old})
        assert response.status_code == 200 and response.content == SDK_V2 and response.headers["etag"] != old


async def test_before_a_first_copy_the_answer_is_503_json_then_a_retry_serves_it(upstream):
    upstream.answer = Answer(status=500)
    async with Served(upstream, retry_interval=0.05, refresh_interval=60) as served:
        response = await served.get()
        assert response.status_code == 503
        body = response.json()
        assert (body["success"], body["code"]) == (False, "sdk_unavailable") and "HTTP 500" in body["message"]
        assert response.headers["cache-control"] == "no-store" and response.headers["retry-after"] == "1"
        assert "Traceback" not in response.text
        upstream.answer = Answer()
        deadline = time.monotonic() + 5
        while (await served.get()).status_code != 200:  # the background task retries on its own
            assert time.monotonic() < deadline, "not retried"
            await _sleep(0.02)
        assert (await served.get()).content == SDK_V1


async def test_the_refresh_task_fetches_on_its_schedule(upstream):
    async with Served(upstream, refresh_interval=0.05) as served:
        assert (await served.get()).content == SDK_V1
        upstream.answer = Answer(body=SDK_V2)
        deadline = time.monotonic() + 5
        while (await served.get()).content != SDK_V2:
            assert time.monotonic() < deadline, "not refreshed"
            await _sleep(0.02)
    fetches = upstream.fetches
    await _sleep(0.2)
    assert upstream.fetches == fetches  # stopped with the lifespan


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
async def test_an_sdk_over_the_size_bound_is_refused(upstream, caplog, chunked):
    upstream.answer = Answer(body=b"x" * 10_001, chunked=chunked)
    async with Served(upstream, max_bytes=10_000) as served:
        assert (await served.get()).status_code == 503
        assert "over the 10,000-byte bound" in caplog.text
        upstream.answer = Answer(body=b"x" * 10_000, chunked=chunked)
        assert await served.proxy.refresh() is True
        assert (await served.get()).content == b"x" * 10_000


async def test_a_slow_upstream_is_given_up_within_the_timeout(upstream, caplog):
    upstream.answer = Answer(delay=1.0)
    started = time.monotonic()
    async with Served(upstream, timeout=0.2) as served:
        assert time.monotonic() - started < 0.9
        assert (await served.get()).status_code == 503
    assert "no complete answer within 0.2s" in caplog.text


async def test_a_redirect_to_another_host_is_not_followed(upstream, caplog):
    """Issue 22 point 10: a 302 from the SDK's upstream to an internal address was followed and the internal answer
    served publicly under /sdk/… with `Access-Control-Allow-Origin: *`."""
    internal = Upstream()  # the "internal service": another host name for a loopback server
    internal.answer = Answer(body=b"internal secret", content_type="application/javascript")
    try:
        upstream.routes["/js/vendor.js"] = Answer(status=302, location=f"http://localhost:{internal.port}/admin")
        async with Served(upstream) as served:
            response = await served.get()
            assert response.status_code == 503 and b"internal secret" not in response.content
            assert internal.fetches == 0
            assert "a redirect to another host is not followed" in response.json()["message"]
        # within the upstream's own host a redirect is followed (a CDN's versioned path)
        upstream.routes["/js/vendor.js"] = Answer(status=302, location="/js/v2/vendor.js")
        async with Served(upstream) as served:
            assert (await served.get()).content == SDK_V1
            assert upstream.paths[-2:] == ["/js/vendor.js", "/js/v2/vendor.js"]
        # and a loop ends
        upstream.routes["/js/vendor.js"] = Answer(status=302, location="/js/vendor.js")
        async with Served(upstream) as served:
            assert "more than 3 redirects" in (await served.get()).json()["message"]
    finally:
        internal.stop()


async def test_a_non_public_upstream_is_refused_unless_configured(upstream):
    for host in ("127.0.0.1", "localhost"):
        async with Served(upstream, f"http://{host}:{upstream.port}/js/vendor.js", allow_private=False) as served:
            response = await served.get()
            assert response.status_code == 503 and upstream.fetches == 0
            assert "not a public address; set server.sdk_proxy_private: true" in response.json()["message"]
    text = CONFIG.format(tmp="/tmp", key=US_KEY, sdk="http://127.0.0.1:9/js/1flow.js")
    assert SdkProxy.for_config(parse_config(text, "t.yaml")).allow_private is True
    private_off = text.replace("server: {sdk_proxy_private: true}", "")
    assert SdkProxy.for_config(parse_config(private_off, "t.yaml")).allow_private is False


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "image/png", ""])
async def test_an_answer_without_a_javascript_type_is_not_served(upstream, content_type):
    upstream.answer = Answer(content_type=content_type)
    async with Served(upstream) as served:
        response = await served.get()
        assert response.status_code == 503 and "a JavaScript type is required" in response.json()["message"]
    upstream.answer = Answer(content_type="text/javascript; charset=utf-8")
    async with Served(upstream) as served:
        assert (await served.get()).content == SDK_V1


async def _sleep(seconds: float) -> None:
    await anyio.sleep(seconds)


# --- the app, against the sandbox's SDK ---------------------------------------------------------------------------

CONFIG = """
storage: sqlite:///{tmp}/db.sqlite
server: {{sdk_proxy_private: true}}  # the sandbox's SDK is on loopback
sources:
  - {{name: web, write_key: wk_web}}
  - {{name: plain, write_key: wk_plain}}
destinations:
  - name: 1flow-hosted
    mode: device
    sources: [web]
    settings: {{projectApiKey: "{key}", sdkUrl: "{sdk}", sdkProxy: true}}
  - name: 1flow-plain
    mode: device
    sources: [plain]
    settings: {{projectApiKey: "{key}", sdkUrl: "{sdk}"}}
"""


async def test_the_app_hosts_the_sandbox_sdk_and_points_the_plugin_at_it(tmp_path, sandbox_server):
    sdk = sandbox_server.sdk_url()
    config = parse_config(CONFIG.format(tmp=tmp_path, key=US_KEY, sdk=sdk), "t.yaml")
    app = create_app(config, run_worker=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
            hosted = (await http.get("/v1/projects/wk_web/settings")).json()["remotePlugins"][0]["settings"]["sdkUrl"]
            assert hosted.startswith("http://127.0.0.1:8080/sdk/actions-1flow/") and hosted.endswith("/1flow.js")
            plain = (await http.get("/v1/projects/wk_plain/settings")).json()["remotePlugins"][0]["settings"]["sdkUrl"]
            assert plain == sdk
            response = await http.get(hosted.removeprefix("http://127.0.0.1:8080"))
            assert response.status_code == 200 and response.headers["content-type"].startswith("application/javascript")
            original = httpx.get(sdk).content
            assert response.content == original and b"data-api-key" in original
            # the page's Host decides the published origin (no public_url), the copy's path does not change
            other = (await http.get("/v1/projects/wk_web/settings", headers={"host": "localhost:9000"})).json()
            assert other["remotePlugins"][0]["settings"]["sdkUrl"] == hosted.replace("127.0.0.1:8080", "localhost:9000")


def test_a_source_cannot_mix_a_hosted_and_a_vendor_loaded_sdk(tmp_path):
    text = CONFIG.format(tmp=tmp_path, key=US_KEY, sdk="http://127.0.0.1:9/js/1flow.js").replace(
        "sources: [plain]", "sources: [web]"
    )
    with pytest.raises(ConfigError, match="another projectApiKey, sdkUrl or sdkProxy"):
        parse_config(text, "t.yaml")


def test_the_docs_configuration_for_first_party_hosting_is_accepted(tmp_path):
    """docs/web.md, "First-party SDK hosting": its destination, as written, in a configuration with its source."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text(encoding="utf-8")
    snippet = re.search(r"```yaml\n(.*?)```", text[text.index("## First-party SDK hosting") :], re.S).group(1)
    config = {
        "storage": f"sqlite:///{tmp_path}/db.sqlite",
        "sources": [{"name": "web", "write_key": "wk_web"}],
        **yaml.safe_load(snippet),
    }
    parsed = parse_config(yaml.safe_dump(config), "web.md", env={"ONEFLOW_PROJECT_KEY": US_KEY})
    path, upstream = parsed.destinations[0].definition.hosted_sdk(parsed.destinations[0].settings)
    assert upstream == "https://1flow.app/js/1flow.js"
    assert re.fullmatch(r"/sdk/actions-1flow/[0-9a-f]{12}/1flow\.js", path)
