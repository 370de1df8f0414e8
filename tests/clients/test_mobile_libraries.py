"""Segment's mobile libraries against `actions-1flow serve` over HTTPS, in their own wire shapes, read from their
sources (docs/mobile.md names the commits):

- analytics-swift (`Sources/Segment/Utilities/Networking/HTTPClient.swift`): settings `GET
  https://<cdnHost>/projects/<writeKey>/settings`, uploads `POST https://<apiHost>/b`, both with `Content-Type:
  application/json; charset=utf-8`, `User-Agent: analytics-ios/<version>`, `Accept-Encoding: gzip` and no
  Authorization; the batch file (`DirectoryStore.swift`) is `{ "batch": [` and one event per line, closed by
  `],"sentAt":"…","writeKey":"…"}`.
- analytics-kotlin (`core/.../HTTPClient.kt`): settings with `Content-Type: application/json; charset=utf-8`;
  uploads to `/b` as `text/plain`, gzip-encoded, streamed in chunks, `User-Agent: analytics-kotlin/<version>`;
  the body `{"batch":[…],"sentAt":"…","writeKey":"…"}` (`StorageImpl.kt`), blank `userId`s left out
  (`EventPipeline.kt`).
- analytics-android, the classic library 1Flow's Android plugin runs on (`ConnectionFactory.java`,
  `SegmentIntegration.java`): uploads `POST https://<apiHost>/import`, `application/json`, gzip-encoded, chunked,
  `User-Agent: analytics-android/<version>`, the same body.
- analytics-react-native (`api.ts`, `SegmentDestination.ts`): with `proxy` and `useSegmentEndpoints`, `POST
  <proxy>/b` with `application/json; charset=utf-8` and `{batch, sentAt, writeKey}`.

Both libraries take the API host from the document's `integrations["Segment.io"].apiHost`, so the tests do too; the
apps' 1Flow plugins read `integrations["1Flow Mobile Plugin"].apiKey`.
"""

from __future__ import annotations

import gzip
import json
import ssl
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers.sandbox import US_KEY
from tests.helpers.server import OPTIONAL_SUBSCRIPTIONS, PRESET_SUBSCRIPTIONS, ServeProcess
from tests.helpers.tls import self_signed

SWIFT_VERSION = "1.9.4"  # Sources/Segment/Version.swift
KOTLIN_VERSION = "1.24.1"  # core/.../Constants.kt
ANDROID_VERSION = "4.11.4"  # gradle.properties
SWIFT_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": f"analytics-ios/{SWIFT_VERSION}",
    "Accept-Encoding": "gzip",
}
KOTLIN_SETTINGS_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": f"analytics-kotlin/{KOTLIN_VERSION}",
}
KOTLIN_UPLOAD_HEADERS = {
    "Content-Type": "text/plain",
    "Content-Encoding": "gzip",
    "User-Agent": f"analytics-kotlin/{KOTLIN_VERSION}",
}
MOBILE_PLUGIN = "1Flow Mobile Plugin"


@pytest.fixture(scope="module")
def mobile_server(tmp_path_factory, sandbox_server):
    """`serve` over TLS: sources ios and android with a device-mode 1Flow destination (the apps' 1Flow plugins) and
    a cloud-mode one to the sandbox (what the server delivers); a backend source with the cloud one only."""
    directory = tmp_path_factory.mktemp("mobile")
    cert, key = self_signed(directory)
    config = {
        "server": {"host": "127.0.0.1", "tls": {"cert": str(cert), "key": str(key)}},
        "storage": f"sqlite:///{directory / 'events.db'}",
        "pipeline": {"poll_interval": "50ms", "retry_base": "200ms", "retry_cap": "1s"},
        "sources": [{"name": n, "write_key": f"wk_{n}"} for n in ("ios", "android", "backend", "rn")],
        "destinations": [
            {
                "name": "1flow-apps",
                "type": "1flow",
                "mode": "device",
                "sources": ["ios", "android"],
                "settings": {"projectApiKey": US_KEY},
            },
            {
                "name": "1flow-server",
                "type": "1flow",
                "mode": "cloud",
                "sources": ["ios", "android", "backend", "rn"],
                "settings": {"projectApiKey": US_KEY, "apiBaseUrl": sandbox_server.api_url()},
                "subscriptions": [*PRESET_SUBSCRIPTIONS, OPTIONAL_SUBSCRIPTIONS["Track Screen"]],
            },
        ],
    }
    path = directory / "server.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    server = ServeProcess(path, directory / "serve.log", "--log-level", "warning", ca=cert)
    server.client = httpx.Client(verify=ssl.create_default_context(cafile=str(cert)), timeout=5)
    server.cdn_host = f"127.0.0.1:{server.port}/v1"  # Configuration.cdnHost(...) / cdnHost = "..."
    yield server
    server.client.close()
    assert server.stop() in (0, -15), server.log_text()
    assert "Traceback" not in server.log_text(), server.log_text()


def settings_as(server, write_key: str, headers: dict[str, str]) -> dict[str, Any]:
    """`settingsFor(writeKey:)` / `RequestFactory.settings(cdnHost, writeKey)`: GET https://<cdnHost>/projects/…"""
    response = server.client.get(f"https://{server.cdn_host}/projects/{write_key}/settings", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_settings_requested_as_analytics_swift_does_carry_the_1flow_mobile_plugin(mobile_server):
    doc = settings_as(mobile_server, "wk_ios", SWIFT_HEADERS)
    assert doc["integrations"][MOBILE_PLUGIN] == {"apiKey": US_KEY}  # what OneFlowDestination.update reads
    # SegmentDestination.update takes the API host from here (the scheme is always https).
    assert doc["integrations"]["Segment.io"]["apiHost"] == mobile_server.cdn_host
    assert doc["integrations"]["Segment.io"]["apiKey"] == "wk_ios"


def test_settings_requested_as_analytics_kotlin_does_carry_it_too_but_not_for_a_server_only_source(mobile_server):
    doc = settings_as(mobile_server, "wk_android", KOTLIN_SETTINGS_HEADERS)
    assert doc["integrations"][MOBILE_PLUGIN] == {"apiKey": US_KEY}  # OneFlowIntegration.FACTORY: getString("apiKey")
    backend = settings_as(mobile_server, "wk_backend", KOTLIN_SETTINGS_HEADERS)
    assert set(backend["integrations"]) == {"Segment.io"} and backend["remotePlugins"] == []


def swift_context(instance: str) -> dict[str, Any]:
    """`Context.swift`'s static and dynamic context on an iPhone."""
    return {
        "library": {"name": "analytics-swift", "version": SWIFT_VERSION},
        "app": {"name": "Shop", "version": "2.3.0", "build": "230", "namespace": "com.example.shop"},
        "device": {
            "manufacturer": "Apple",
            "type": "ios",
            "model": "iPhone15,2",
            "name": "iPhone",
            "id": "6A1C2B1E-3F49-4A8E-9D0B-1C2D3E4F5A6B",
        },
        "os": {"name": "iOS", "version": "17.4"},
        "screen": {"width": 393, "height": 852},
        "locale": "en-GB",
        "timezone": "Europe/London",
        "network": {"bluetooth": False, "cellular": False, "wifi": True},
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "instanceId": instance,
    }


def kotlin_context(instance: str) -> dict[str, Any]:
    """`AndroidContextPlugin.kt` and `ContextPlugin.kt` on a Pixel."""
    return {
        "app": {"name": "Shop", "version": "2.3.0", "namespace": "com.example.shop", "build": "230"},
        "device": {
            "id": "f3b9c4e2a1d0",
            "manufacturer": "Google",
            "model": "Pixel 8",
            "name": "shiba",
            "type": "android",
        },
        "os": {"name": "Android", "version": "14"},
        "screen": {"density": 2.625, "height": 2400, "width": 1080},
        "network": {"wifi": True, "bluetooth": False, "cellular": False},
        "locale": "en-GB",
        "userAgent": "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240305.019)",
        "timezone": "Europe/London",
        "library": {"name": "analytics-kotlin", "version": KOTLIN_VERSION},
        "instanceId": instance,
    }


def stamp() -> str:
    """Now as both libraries write it: ISO-8601 UTC with milliseconds and Z."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def swift_events(run: str, anonymous_id: str) -> list[dict[str, Any]]:
    context = swift_context(str(uuid.uuid4()).upper())
    common = {
        "anonymousId": anonymous_id,
        "integrations": {},
        "context": context,
        "_metadata": {"bundled": [MOBILE_PLUGIN], "unbundled": [], "bundledIds": []},
    }
    return [
        {
            "type": "identify",
            "userId": f"ios-{run}",
            "traits": {"plan": "pro", "run": run},
            "messageId": str(uuid.uuid4()).upper(),
            "timestamp": stamp(),
            **common,
        },
        {
            "type": "track",
            "event": "Order Completed",
            "properties": {"total": 49.9, "run": run},
            "userId": f"ios-{run}",
            "messageId": str(uuid.uuid4()).upper(),
            "timestamp": stamp(),
            **common,
        },
        {
            "type": "screen",
            "name": "Home",
            "properties": {"run": run},
            "userId": f"ios-{run}",
            "messageId": str(uuid.uuid4()).upper(),
            "timestamp": stamp(),
            **common,
        },
    ]


def kotlin_events(run: str, anonymous_id: str) -> list[dict[str, Any]]:
    """As `EncodeDefaultsJson` writes them, the blank `userId` of an anonymous event left out."""
    context = kotlin_context(str(uuid.uuid4()))
    meta = {"bundled": [MOBILE_PLUGIN], "unbundled": [], "bundledIds": []}

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        return {
            **fields,
            "type": kind,
            "messageId": str(uuid.uuid4()),
            "anonymousId": anonymous_id,
            "integrations": {},
            "context": context,
            "timestamp": stamp(),
            "_metadata": meta,
        }

    return [
        event("track", properties={"step": 1, "run": run}, event="Onboarding Started"),  # before login: no userId
        event("identify", userId=f"android-{run}", traits={"plan": "free", "run": run}),
        event("screen", name="", category="", properties={"run": run}, userId=f"android-{run}"),  # unnamed screen
    ]


def delivered(sandbox, run: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The items 1Flow (the sandbox) accepted that carry `run`, once `count` arrived (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        items = []
        for call in sandbox.calls("http"):
            if call.get("status") != 200 or not isinstance(call.get("body"), dict):
                continue
            body = call["body"]
            for item in body["batch"] if call["endpoint"] == "batch" else [{"type": call["endpoint"], **body}]:
                if run in json.dumps(item.get("properties", item.get("traits"))):
                    items.append(item)
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


def without_timestamps(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in i.items() if k != "timestamp"} for i in items), key=json.dumps)


def gzipped_batch(events: list[dict[str, Any]], write_key: str) -> bytes:
    batch = ",".join(json.dumps(e, separators=(",", ":")) for e in events)
    return gzip.compress(f'{{"batch":[{batch}],"sentAt":"{stamp()}","writeKey":"{write_key}"}}'.encode())


def in_chunks(data: bytes) -> Iterator[bytes]:
    """What `setChunkedStreamingMode(0)` sends: no Content-Length, chunked transfer encoding."""
    for start in range(0, len(data), 256):
        yield data[start : start + 256]


def test_an_analytics_swift_batch_is_accepted_and_delivered(mobile_server, live_sandbox):
    run, anonymous_id = uuid.uuid4().hex[:10], str(uuid.uuid4()).upper()
    doc = settings_as(mobile_server, "wk_ios", SWIFT_HEADERS)
    lines = [json.dumps(e, separators=(",", ":")) for e in swift_events(run, anonymous_id)]
    body = '{ "batch": [\n' + lines[0] + "\n" + "".join("," + line + "\n" for line in lines[1:])
    body += f'],"sentAt":"{stamp()}","writeKey":"wk_ios"}}\n'
    api_host = doc["integrations"]["Segment.io"]["apiHost"]
    response = mobile_server.client.post(f"https://{api_host}/b", content=body.encode(), headers=SWIFT_HEADERS)
    assert (response.status_code, response.json()) == (200, {"success": True})
    items = delivered(live_sandbox, run, 3)
    assert without_timestamps(items) == without_timestamps(
        [
            {"type": "identify", "user_id": f"ios-{run}", "traits": {"plan": "pro", "run": run}},
            {
                "type": "track",
                "user_id": f"ios-{run}",
                "anonymous_id": anonymous_id,
                "event": "Order Completed",
                "properties": {"total": 49.9, "run": run},
            },
            {
                "type": "track",
                "user_id": f"ios-{run}",
                "anonymous_id": anonymous_id,
                "event": "screen_Home",
                "properties": {"run": run},
            },
        ]
    )
    assert all(i["timestamp"].endswith("Z") for i in items)


def test_an_analytics_kotlin_batch_gzipped_and_chunked_is_accepted_and_delivered(mobile_server, live_sandbox):
    run, anonymous_id = uuid.uuid4().hex[:10], str(uuid.uuid4())
    doc = settings_as(mobile_server, "wk_android", KOTLIN_SETTINGS_HEADERS)
    packed = gzipped_batch(kotlin_events(run, anonymous_id), "wk_android")
    api_host = doc["integrations"]["Segment.io"]["apiHost"]
    response = mobile_server.client.post(
        f"https://{api_host}/b", content=in_chunks(packed), headers=KOTLIN_UPLOAD_HEADERS
    )
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert response.request.headers["transfer-encoding"] == "chunked"
    items = delivered(live_sandbox, run, 3)
    assert without_timestamps(items) == without_timestamps(
        [
            {
                "type": "track",
                "anonymous_id": anonymous_id,
                "event": "Onboarding Started",
                "properties": {"step": 1, "run": run},
            },
            {"type": "identify", "user_id": f"android-{run}", "traits": {"plan": "free", "run": run}},
            {
                "type": "track",
                "user_id": f"android-{run}",
                "anonymous_id": anonymous_id,
                "event": "screen_view",
                "properties": {"run": run},
            },
        ]
    )


def test_a_classic_analytics_android_batch_to_import_is_accepted_and_delivered(mobile_server, live_sandbox):
    """1Flow's Android plugin (`OneFlowIntegration`) runs on the classic library, which posts to `/import`."""
    run, anonymous_id = uuid.uuid4().hex[:10], str(uuid.uuid4())
    user_agent = {"User-Agent": f"analytics-android/{ANDROID_VERSION}"}
    doc = settings_as(mobile_server, "wk_android", {"Content-Type": "application/json", **user_agent})
    assert doc["integrations"][MOBILE_PLUGIN] == {"apiKey": US_KEY}
    events = [
        {
            "type": "track",
            "event": "Button Clicked",
            "properties": {"run": run},
            "anonymousId": anonymous_id,
            "messageId": str(uuid.uuid4()),
            "timestamp": stamp(),
            "context": {"library": {"name": "analytics-android", "version": ANDROID_VERSION}},
            "integrations": {},
        }
    ]
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", **user_agent}
    url = f"https://{doc['integrations']['Segment.io']['apiHost']}/import"
    response = mobile_server.client.post(url, content=in_chunks(gzipped_batch(events, "wk_android")), headers=headers)
    assert (response.status_code, response.json()) == (200, {"success": True})
    (item,) = delivered(live_sandbox, run, 1)
    assert (item["type"], item["event"], item["anonymous_id"]) == ("track", "Button Clicked", anonymous_id)


def test_an_analytics_react_native_batch_through_its_proxy_settings_is_delivered(mobile_server, live_sandbox):
    """`cdnProxy` / `proxy` = `https://<server>/v1` with `useSegmentEndpoints: true`; no 1Flow plugin, so the
    source's cloud-mode destination delivers, screens included through the optional preset."""
    run, anonymous_id = uuid.uuid4().hex[:10], str(uuid.uuid4())
    proxy = f"https://{mobile_server.cdn_host}"
    headers = {"Content-Type": "application/json; charset=utf-8"}
    doc = mobile_server.client.get(f"{proxy}/projects/wk_rn/settings", headers=headers).json()
    assert set(doc["integrations"]) == {"Segment.io"}  # no device-mode 1Flow destination names this source
    screen = {
        "type": "screen",
        "name": "Cart",
        "properties": {"run": run},
        "anonymousId": anonymous_id,
        "messageId": str(uuid.uuid4()),
        "timestamp": stamp(),
        "context": {"library": {"name": "@segment/analytics-react-native", "version": "2.21.0"}},
        "integrations": {},
    }
    body = {"batch": [screen], "sentAt": stamp(), "writeKey": "wk_rn"}
    response = mobile_server.client.post(f"{proxy}/b", content=json.dumps(body).encode(), headers=headers)
    assert (response.status_code, response.json()) == (200, {"success": True})
    (item,) = delivered(live_sandbox, run, 1)
    assert (item["type"], item["event"], item["anonymous_id"]) == ("track", "screen_Cart", anonymous_id)
