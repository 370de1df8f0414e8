"""Drive generated requests through the whole ASGI app in-process and check every answer.

`python -m tests.fuzzing.run --requests 1000000` (what `make fuzz` runs) prints the counts by status, the memory
(RSS) over the run, and every failure: an answer ≥ 500, an exception out of the app (a crash), a request that got
no answer although its client waited, a refusal that is not JSON with a code, a 200 for a body that never ended,
or an app that stopped answering (10 s). tests/fuzzing/test_fuzz_slice.py runs 20,000 of the same requests in
`make test`.

The seed is taken from the clock unless given (`--seed`, `FUZZ_SEED=` for `make fuzz`) and printed first, so each
run explores new requests; every failure is printed with the command that replays it alone (`--seed S --only N`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from actions_1flow.admin.auth import LoginThrottle
from actions_1flow.app import create_app
from actions_1flow.config import load_config
from actions_1flow.pipeline import SQLiteStore
from tests.fuzzing.generate import ADMIN_TOKEN, CLIENT, FuzzRequest, RequestGenerator

ANSWER_TIMEOUT = 10.0
MAX_FAILURES_KEPT = 20
PROGRESS_EVERY = 50_000
PAGE = os.sysconf("SC_PAGE_SIZE")

CONFIG = """
storage: sqlite:///{db}
admin: {{token: "{token}"}}
server: {{public_url: "http://server.test", body_timeout: 0.05}}
sources:
  - {{name: a, write_key: wk_fuzz_a, cors_origins: ["http://shop.example"]}}
  - {{name: b, write_key: wk_fuzz_b, cors_origins: ["*"]}}
  - {{name: limited, write_key: wk_fuzz_limited, rate_limit: {{events_per_second: 5, burst: 20}}}}
  - {{name: survey, write_key: wk_fuzz_survey, webhook: {{preset: 1flow-survey}}}}
  - name: hook
    write_key: wk_fuzz_hook
    webhook:
      mapping:
        batch:
          "@arrayPath":
            - "$.answers"
            - type: track
              event: Answered
              userId: {{"@path": "$.person"}}
              properties: {{score: {{"@path": "$.score"}}}}
destinations:
  - {{name: web, mode: device, sources: [a, b], settings: {{projectApiKey: "1f_fuzz_device_key_0001"}}}}
"""


def replay(seed: int, index: int) -> str:
    """The command that sends request `index` of run `seed` alone and prints its answer."""
    return f".venv/bin/python -m tests.fuzzing.run --seed {seed} --only {index}"


def describe(request: FuzzRequest) -> str:
    headers = [(name[:40], value[:80]) for name, value in request.headers[:8]]
    return (
        f"{request.method} {request.path[:80]!r}?{request.query[:40]!r} headers={headers!r} "
        f"body={b''.join(request.parts)[:120]!r} ending={request.ending}"
    )


def rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    rss_samples: list[tuple[int, int]] = field(default_factory=list)
    """(requests done, RSS bytes)."""
    seconds: float = 0.0
    seed: int = 0

    progress: bool = False
    """Print each kept failure when it happens, and a line every `PROGRESS_EVERY` requests (`make fuzz`)."""

    def fail(self, kind: str, index: int, request: FuzzRequest, detail: str) -> None:
        self.failures[kind] += 1
        if len(self.examples) < MAX_FAILURES_KEPT:
            self.examples.append(
                f"#{index} {kind}: {describe(request)}: {detail[:300]}\n    replay: {replay(self.seed, index)}"
            )
            if self.progress:
                print(self.examples[-1], flush=True)

    def tick(self) -> None:
        if self.progress and self.requests % PROGRESS_EVERY == 0:
            print(
                f"{self.requests:,} requests: {self.errors:,} answers >= 500, failures {dict(self.failures)}",
                flush=True,
            )

    @property
    def errors(self) -> int:
        return sum(c for s, c in self.statuses.items() if s.isdigit() and int(s) >= 500)

    @property
    def rss_growth(self) -> int:
        """RSS at the end over RSS after the first tenth (start-up, caches and pools filled)."""
        if len(self.rss_samples) < 2:
            return 0
        warm = self.rss_samples[max(0, len(self.rss_samples) // 10 - 1)][1]
        return max(r for _, r in self.rss_samples) - warm

    def render(self) -> str:
        lines = [
            f"seed {self.seed}: {self.requests:,} requests in {self.seconds:.0f} s "
            f"({self.requests / max(self.seconds, 1e-9):,.0f}/s)"
        ]
        lines.append("answers by status:")
        for status, count in sorted(self.statuses.items()):
            lines.append(f"  {status:>9}  {count:>10,}  {count / max(self.requests, 1):7.2%}")
        peak = max((r for _, r in self.rss_samples), default=0)
        first = self.rss_samples[0][1] if self.rss_samples else 0
        lines.append(
            f"RSS: {first / 2**20:.0f} MB after {self.rss_samples[0][0] if self.rss_samples else 0:,} requests, "
            f"peak {peak / 2**20:.0f} MB, growth after warm-up {self.rss_growth / 2**20:.1f} MB"
        )
        lines.append(f"answers >= 500: {self.errors}")
        lines.append(f"failures: {sum(self.failures.values())} {dict(self.failures)}")
        lines.extend("  " + e for e in self.examples)
        return "\n".join(lines)


async def call(app, request: FuzzRequest) -> list[dict]:
    """One request through the ASGI app, its body in `parts` and ended as `request.ending` says."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode("utf-8", "surrogatepass"),
        "query_string": request.query,
        "root_path": "",
        "headers": request.headers,
        "client": (request.client, 5000),
        "server": ("server.test", 80),
    }
    last = len(request.parts) - 1
    messages = [
        {"type": "http.request", "body": p, "more_body": i < last or request.ending != "complete"}
        for i, p in enumerate(request.parts)
    ]
    if request.ending == "hang_up":
        messages.append({"type": "http.disconnect"})
    messages.reverse()
    sent: list[dict] = []

    async def receive() -> dict:
        if messages:
            return messages.pop()
        if request.ending == "stall":
            await asyncio.sleep(3600)  # the body timeout must answer first
        return {"type": "http.disconnect"}  # after the response, as a server reports a closed connection

    async def send(message: dict) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=ANSWER_TIMEOUT)
    return sent


BODY_READERS = {"/console/login", *(f"/admin/api/v1/{name}" for name in ("test-event", "mapping-preview", "replay"))}
"""Operator endpoints that read the body before answering anything below 400 (when the caller may use them)."""


def check(report: FuzzReport, index: int, request: FuzzRequest, sent: list[dict]) -> None:
    if not sent:
        report.statuses["no answer"] += 1
        if request.ending != "hang_up":
            report.fail("no_answer", index, request, "the client waited but got nothing")
        return
    status = sent[0]["status"]
    report.statuses[str(status)] += 1
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    headers = dict(sent[0].get("headers", []))
    if status >= 500:
        report.fail("5xx", index, request, payload.decode("utf-8", "replace"))
    elif (
        request.method == "POST"
        and request.ending != "complete"
        and ((status == 200 and request.path.startswith("/v1/")) or (status < 400 and request.path in BODY_READERS))
    ):
        report.fail("accepted_unfinished_body", index, request, f"{status} for a body that never ended")
    elif status >= 400 and payload and request.method != "HEAD":
        if request.path == "/console/login" and headers.get(b"content-type", b"").startswith(b"text/html"):
            return  # the login form answers its refusals as the page, with the reason shown
        try:
            answer = orjson.loads(payload)
            assert answer.get("success", False) is False and isinstance(answer["code"], str) and answer["message"]
        except Exception as exc:
            report.fail("refusal_not_json", index, request, f"{exc!r}: {payload[:200]!r}")


async def log_in(app) -> tuple[bytes, bytes]:
    """A console session of `app`: its cookie header value and CSRF token."""
    form = f"token={ADMIN_TOKEN}".encode()
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(form)).encode())]
    sent = await call(app, FuzzRequest("POST", "/console/login", b"", headers, [form], "complete", CLIENT))
    cookie = dict(sent[0]["headers"])[b"set-cookie"].split(b";")[0]
    sent = await call(app, FuzzRequest("GET", "/admin/api/v1/session", b"", [(b"cookie", cookie)], [b""], "complete"))
    return cookie, orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))["csrf"].encode()


async def fuzz(
    app, count: int, seed: int, concurrency: int, sample_every: int, only: int | None = None, progress: bool = False
) -> FuzzReport:
    """`count` generated requests through `app`, `concurrency` at a time (`only`: request number `only` alone)."""
    report = FuzzReport(seed=seed, progress=progress)
    generator = RequestGenerator(seed)
    generator.session = await log_in(app)
    if only is not None:
        for _ in range(only):
            generator.next()
        request = generator.next()
        print(f"#{only}: {describe(request)}")
        sent = await call(app, request)
        for message in sent:
            print(message)
        report.requests = 1
        check(report, only, request, sent)
        return report
    issued = 0

    async def client() -> None:
        nonlocal issued
        while issued < count:
            index = issued
            issued += 1
            request = generator.next()
            report.requests += 1
            try:
                sent = await call(app, request)
            except TimeoutError:
                report.fail("hung", index, request, f"no answer within {ANSWER_TIMEOUT:g}s")
                continue
            except Exception as exc:
                report.fail("crash", index, request, repr(exc))
                continue
            check(report, index, request, sent)
            report.tick()
            if report.requests % sample_every == 0:
                report.rss_samples.append((report.requests, rss()))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    report.seconds = time.perf_counter() - started
    return report


@contextlib.contextmanager
def fuzz_app(directory: Path) -> Iterator[Any]:
    """The app of the fuzz configuration (admin token set) on a fresh SQLite store in `directory`."""
    config_file = directory / "fuzz.yaml"  # a file, so that `POST /admin/api/v1/reload` reads it again
    config_file.write_text(CONFIG.format(db=directory / "fuzz.db", token=ADMIN_TOKEN), encoding="utf-8")
    config_file.chmod(0o600)
    store = SQLiteStore(directory / "fuzz.db")
    app = None
    try:
        app = create_app(load_config(config_file), store=store, run_worker=False)
        # The wrong tokens of a million requests would spend the login throttle's global budget in seconds, and
        # every admin request after that would be a 429: the budget is tested on its own (tests/admin/test_auth.py),
        # here it is lifted so the admin API behind it is fuzzed too. The per-address limit stays.
        app.state.admin_auth.throttle = LoginThrottle(max_total=2**62)
        app.state.evaluator.start().result(120)  # the previews' process, started before the clock runs
        yield app
    finally:
        if app is not None:
            app.state.evaluator.close()
        store.close()


def run(
    count: int,
    seed: int = 1,
    concurrency: int = 64,
    directory: Path | None = None,
    only: int | None = None,
    progress: bool = False,
) -> FuzzReport:
    """The fuzz run against a fresh app and store in `directory` (a temporary one when None)."""
    with (
        tempfile.TemporaryDirectory(prefix="actions-1flow-fuzz-") as scratch,
        fuzz_app(Path(directory or scratch)) as app,
    ):
        sample_every = max(1, min(10_000, count // 100))
        return asyncio.run(fuzz(app, count, seed, concurrency, sample_every, only, progress))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=None, help="the generator's seed (default: from the clock)")
    parser.add_argument("--only", type=int, default=None, help="send request number ONLY of the run alone")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    print(f"seed {seed} (replay this run: --seed {seed})", flush=True)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    report = run(args.requests, seed, args.concurrency, only=args.only, progress=True)
    print(report.render())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
