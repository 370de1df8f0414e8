"""The console's pages and files without a browser: hashed static URLs and their caching, the vendored chart
library equal to the pinned npm package, package data covering every file, the CSP, escaping in the shells."""

from __future__ import annotations

import fnmatch
import gzip
import json
import re
import tomllib
from pathlib import Path

import pytest

from actions_1flow.console.assets import FILES, StaticFiles
from actions_1flow.console.routes import CSP
from tests.admin.conftest import AppClient, login, write_config

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "src" / "actions_1flow" / "console"
PAGES = [
    "/console",
    "/console/events",
    "/console/events/m-1?source=web",
    "/console/tester",
    "/console/mappings",
    "/console/destinations",
    "/console/replay",
]


def test_the_vendored_uplot_is_the_pinned_npm_build():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["uplot"]
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/uplot"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned) and lock["version"] == pinned  # exact pin, locked
    dist = ROOT / "node_modules" / "uplot" / "dist"
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert (CONSOLE / "static" / "vendor" / name).read_bytes() == (dist / name).read_bytes(), (
            f"run node scripts/build-console.mjs ({name})"
        )
    assert (
        (CONSOLE / "static" / "vendor" / "uPlot.iife.min.js")
        .read_text()
        .startswith(f"/*! https://github.com/leeoniya/uPlot (v{pinned}) */")
    )


def test_package_data_ships_every_console_file():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "actions_1flow"
    ]
    files = [p for p in CONSOLE.rglob("*") if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert len(files) >= 4 + 8  # the four static files and the templates
    package = CONSOLE.parent
    for path in files:
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not package data"
    assert set(FILES.values()) <= {p.relative_to(CONSOLE).as_posix() for p in files}


def test_no_inline_script_or_style_in_templates_and_no_innerhtml_in_the_script():
    for template in (CONSOLE / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+=|\sstyle=|<style", text), template.name
    script = (CONSOLE / "static" / "console.js").read_text()
    assert not re.search(
        r"\.(?:inner|outer)HTML\s*[+]?=|insertAdjacentHTML\(|document\.write|eval\(|new Function|setAttribute\('on",
        script,
    )


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path, f"sqlite:///{tmp_path}/events.db")


async def test_static_files_are_hashed_immutable_gzipped_and_validated(config):
    static = StaticFiles()
    async with AppClient(config) as client:
        for name in FILES:
            url = static.url(name)
            assert re.fullmatch(r"/console/static/.+\.[0-9a-f]{12}\.(js|css)", url)
            raw = await client.get(url, headers={"accept-encoding": "identity"})
            assert raw.status_code == 200 and raw.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert raw.headers["x-content-type-options"] == "nosniff"
            assert raw.headers["content-type"].startswith(
                "text/css" if name.endswith(".css") else "application/javascript"
            )
            zipped = await client.get(url, headers={"accept-encoding": "gzip"})
            assert zipped.headers["content-encoding"] == "gzip" and zipped.content == raw.content  # httpx decodes it
            again = await client.get(url, headers={"if-none-match": raw.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
        stale = re.sub(r"\.[0-9a-f]{12}\.", ".000000000000.", static.url("console.js"))
        assert (await client.get(stale)).status_code == 404
        assert (await client.get("/console/static/console.js")).status_code == 404  # only hashed names
        assert (await client.get("/console/static/..%2Froutes.py")).status_code == 404


async def test_pages_need_a_session_then_answer_with_the_csp(config):
    async with AppClient(config) as client:
        for path in PAGES:
            r = await client.get(path)
            assert r.status_code == 302 and r.headers["location"].startswith("/console/login?next="), path
        csrf = await login(client)
        for path in PAGES:
            r = await client.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-security-policy"] == CSP and "unsafe" not in CSP
            assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
            assert f'<meta name="csrf-token" content="{csrf}">' in r.text
            srcs = re.findall(r'<script src="([^"]+)"', r.text)
            assert len(srcs) == 2 and all(s.startswith("/console/static/") for s in srcs)
            assert r.text.count("<script") == 2  # nothing inline
        login_page = await client.get("/console/login", follow_redirects=False)
        assert login_page.status_code in (200, 302)


async def test_the_event_shell_escapes_the_message_id(config):
    async with AppClient(config) as client:
        await login(client)
        r = await client.get('/console/events/x"><img src=x onerror=alert(1)>?source=<b>web</b>')
        assert r.status_code == 200
        assert "<img src=x" not in r.text and "<b>web</b>" not in r.text
        assert 'data-message-id="x&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in r.text
        assert 'data-source="&lt;b&gt;web&lt;/b&gt;"' in r.text


async def test_the_login_form_links_the_console_stylesheet(config):
    async with AppClient(config) as client:
        r = await client.get("/console/login")
        assert r.status_code == 200
        [href] = re.findall(r'<link rel="stylesheet" href="([^"]+)"', r.text)
        css = await client.get(href)
        assert css.status_code == 200 and b".login-box" in css.content


async def test_without_admin_the_console_is_404(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/events.db", admin=None)
    async with AppClient(config) as client:
        for path in [*PAGES, StaticFiles().url("console.js")]:
            assert (await client.get(path)).status_code == 404, path


def test_the_static_gzip_is_the_file():
    static = StaticFiles()
    for entry in static.by_name.values():
        assert gzip.decompress(entry.asset.gzipped or b"") == entry.asset.body


def test_the_recorded_weight_is_what_is_served():
    sizes = StaticFiles().sizes()
    total, zipped = sum(b for b, _ in sizes.values()), sum(g for _, g in sizes.values())
    assert zipped <= 48 * 1024  # the budget: the console is opened daily, often over a VPN
    doc = (ROOT / "docs" / "performance.md").read_text()
    assert f"| **total** | **{total:,}** | **{zipped:,}** |" in doc, (
        f"update docs/performance.md, Console assets: {sizes}"
    )
    for name, (raw, gz) in sizes.items():
        assert re.search(rf"\| `{re.escape(name)}`[^|]*\| {raw:,} \| {gz:,} \|", doc), name
