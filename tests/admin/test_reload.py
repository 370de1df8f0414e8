"""Configuration reload: a good file swaps sources and destinations in the running server, a bad one is refused
with file/line/key messages and the running configuration stays, and under load (a thread posting batches while
the server reloads five times, by SIGHUP and by the API) every tracking request is answered 200. Also `admin.listen`:
console and admin API on their own port, 404 for them on the public one."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest
import yaml

from tests.admin.conftest import TOKEN, WRITE_KEY, AppClient, bearer, write_config
from tests.helpers.process import free_port
from tests.helpers.server import ServeProcess

pytestmark = pytest.mark.anyio


def edit(path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def event(i: int) -> dict:
    return {"type": "track", "event": "Load", "userId": f"u{i % 7}", "messageId": f"load-{time.time_ns()}-{i}"}


async def test_reload_swaps_write_keys_and_refuses_a_bad_file(tmp_path, live_sandbox, caplog):
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/r.db", live_sandbox.api_url())
    app = AppClient(path, run_worker=True)
    async with app as client:
        edit(
            path,
            lambda d: (
                d["sources"].append({"name": "app", "write_key": "wk_new_source"})
                or d["destinations"][0]["sources"].append("app")
            ),
        )
        r = await client.post("/admin/api/v1/reload", headers=bearer())
        assert r.status_code == 200 and r.json()["ok"] is True
        ok = await client.post("/v1/track", json={"event": "New", "userId": "n1"}, auth=("wk_new_source", ""))
        assert ok.status_code == 200
        assert app.state.config.sources[1].name == "app"

        good = path.read_text()
        path.write_text(good.replace('type = "track"', 'type = "track" and'))  # bad FQL
        r = await client.post("/admin/api/v1/reload", headers=bearer())
        assert r.status_code == 400 and r.json()["ok"] is False
        (message,) = [p for p in r.json()["problems"] if "subscribe" in p]
        assert message.startswith(f"{path}:") and "destinations[0].subscriptions[0].subscribe: invalid FQL" in message
        # The log shows the problem as lines of its own (a record's own line breaks would be escaped to `\n`).
        logged = [r.getMessage() for r in caplog.records if r.name == "actions_1flow.admin"]
        start = logged.index("configuration reload refused; keeping the running one:")
        assert logged[start + 1] == f"  {message}" and all("\n" not in line for line in logged)
        assert logged[start + 3].strip() == "^"  # the caret under the FQL, on its own line
        assert (
            await client.post("/v1/track", json={"event": "Still", "userId": "n2"}, auth=("wk_new_source", ""))
        ).status_code == 200

        path.write_text(good.replace(f"sqlite:///{tmp_path}/r.db", f"sqlite:///{tmp_path}/other.db"))
        r = await client.post("/admin/api/v1/reload", headers=bearer())
        assert r.status_code == 400 and any("storage: cannot change" in p for p in r.json()["problems"])

        path.write_text(good)
        edit(path, lambda d: d["sources"].pop())  # the new source goes again; its key is refused from then on
        edit(path, lambda d: d["destinations"][0].update(sources=["web"]))
        assert (await client.post("/admin/api/v1/reload", headers=bearer())).json()["ok"] is True
        assert (
            await client.post("/v1/track", json={"event": "Gone", "userId": "n3"}, auth=("wk_new_source", ""))
        ).status_code == 401
        # the restarted worker still delivers
        assert (
            await client.post("/v1/track", json={"event": "After", "userId": "n4"}, auth=(WRITE_KEY, ""))
        ).status_code == 200
        deadline = time.monotonic() + 10
        while not any(
            i.get("event") == "After" for c in live_sandbox.calls() for i in (c.get("body") or {}).get("batch", [])
        ):
            assert time.monotonic() < deadline
            await __import__("asyncio").sleep(0.05)


def test_reload_under_load_and_admin_listen(tmp_path, live_sandbox):
    admin_port = free_port()
    path = write_config(
        tmp_path,
        f"sqlite:///{tmp_path}/l.db",
        live_sandbox.api_url(),
        admin={"token": TOKEN, "listen": f"127.0.0.1:{admin_port}"},
    )
    server = ServeProcess(path, tmp_path / "serve.log")
    admin = httpx.Client(base_url=f"http://127.0.0.1:{admin_port}", timeout=10, headers=bearer())
    try:
        for url in ("/console/login", "/admin/api/v1/session", "/console"):
            assert server.http.get(url, headers=bearer()).status_code == 404, url
        deadline = time.monotonic() + 10
        while True:
            try:
                if admin.get("/admin/api/v1/session").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, server.log_text()
            time.sleep(0.05)
        assert admin.get("/console/login", headers={}).status_code == 200

        statuses: list[int] = []
        stop = threading.Event()

        def post() -> None:
            with httpx.Client(base_url=server.url, timeout=10) as c:
                i = 0
                while not stop.is_set():
                    r = c.post("/v1/batch", json={"batch": [event(i), event(i + 1)]}, auth=(WRITE_KEY, ""))
                    statuses.append(r.status_code)
                    i += 2

        thread = threading.Thread(target=post)
        thread.start()
        try:
            for n in range(5):
                before = len(statuses)
                edit(
                    path,
                    lambda d, n=n: d["destinations"][0]["subscriptions"][0]["mapping"].update(properties={"reload": n}),
                )
                if n % 2:
                    server.process.send_signal(signal.SIGHUP)
                else:
                    r = admin.post("/admin/api/v1/reload")
                    assert r.status_code == 200 and r.json()["ok"] is True, r.text
                deadline = time.monotonic() + 10
                while len(statuses) < before + 5:  # requests keep being answered across the reload
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
        finally:
            stop.set()
            thread.join()
        assert statuses and set(statuses) == {200}, sorted(set(statuses))
        log = server.log_text()
        assert log.count("configuration reloaded from") == 5, log[-3000:]
        # the last mapping is the one delivering now
        assert (
            server.http.post("/v1/track", json={"event": "Final", "userId": "f"}, auth=(WRITE_KEY, "")).status_code
            == 200
        )
        deadline = time.monotonic() + 10
        while True:
            final = [
                i
                for c in live_sandbox.calls()
                for i in (c.get("body") or {}).get("batch", [])
                if i.get("event") == "Final"
            ]
            if final:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert final[0]["properties"] == {"reload": 4}
    finally:
        admin.close()
        server.stop()
