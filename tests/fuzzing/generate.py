"""Generated HTTP requests for fuzzing the ASGI app at scale: methods, paths, headers, bodies, encodings, nesting,
sizes, chunking and clients that hang up or stall.

Hypothesis explores a few hundred requests well (tests/server/test_fuzz_http.py) but draws tens of examples a
second; a million requests need a generator that costs microseconds, so this one is a seeded `random.Random`:
the same seed gives the same requests, so a failure is replayed by its seed and index.

About one request in twenty goes to the operator's side (`admin.token` is set in the fuzz configuration): the
login form (with this server's, another site's or no `Origin`/`Sec-Fetch-Site`, forwarded headers), the admin
API's JSON endpoints (NUL in ids and parameters, forged cursors, mappings past the nesting and template bounds of
the previews' evaluator), the console's pages and `/metrics`, with the right token, a wrong one, a console session
(cookie and CSRF token, set by the runner after it logs in) or nothing.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import zlib
from dataclasses import dataclass

WRITE_KEYS = ["wk_fuzz_a", "wk_fuzz_b", "wk_fuzz_limited"]
WEBHOOK_KEYS = ["wk_fuzz_survey", "wk_fuzz_hook", "wk_fuzz_a", "wk_nope", ""]
"""`/v1/webhook`'s keys: the 1Flow preset's source, a written mapping's (with a `batch`), a source that takes no
webhooks, an unknown key and an empty one."""
ADMIN_TOKEN = "fuzz-admin-token-0123456789"
"""The fuzz configuration's `admin.token`."""
CLIENT = "203.0.113.9"
"""The client address of every request but those trying wrong admin tokens (they come from `GUESSERS`, so the
login throttle of one address does not turn every later admin request into a 429)."""
GUESSERS = [f"198.51.100.{n}" for n in range(1, 255)]
"""The fuzz configuration's sources (`wk_fuzz_limited` has a small rate limit)."""

ORIGINS = [b"http://shop.example", b"https://evil.example", b"null", b"http://server.test", b"HTTP://SHOP.EXAMPLE"]

ENDPOINTS = [
    "/v1/track",
    "/v1/t",
    "/v1/batch",
    "/v1/b",
    "/v1/import",
    "/v1/identify",
    "/v1/i",
    "/v1/page",
    "/v1/p",
    "/v1/screen",
    "/v1/s",
    "/v1/group",
    "/v1/g",
    "/v1/alias",
    "/v1/a",
]
OTHER_PATHS = [
    "/",
    "/health",
    "/favicon.ico",
    "/v1/",
    "/v1/x",
    "/v1/track/",
    "/v1/T",
    "/v1/device-events",
    "/demo",
    "/demo/activity.json",
    "/plugins/actions-1flow.js",
    "/analytics-next/bundles/x.js",
    "/analytics-next/bundles/../../etc/passwd",
    "/v1/projects/wk_fuzz_a/settings",
    "/v1/projects/nope/settings",
    "/analytics.js/v1/wk_fuzz_a/analytics.min.js",
    "/v1/projects/%00/settings",
    "//v1/track",
    "/v1/track%00",
    "/v1/ba\u0000tch",
    "/\udcff",
]
ADMIN_GETS = [
    "/admin/api/v1/session",
    "/admin/api/v1/overview",
    "/admin/api/v1/events",
    "/admin/api/v1/events/m1",
    "/admin/api/v1/config",
    "/admin/api/v1/destinations",
    "/admin/api/v1/device-events",
    "/admin/api/v1/replay/progress",
    "/metrics",
    "/console",
    "/console/",
    "/console/events",
    "/console/events/m1",
    "/console/tester",
    "/console/mappings",
    "/console/destinations",
    "/console/replay",
    "/console/static/nope.css",
    "/console/login",
]
ADMIN_POSTS = ["/admin/api/v1/test-event", "/admin/api/v1/mapping-preview", "/admin/api/v1/replay"]
"""The admin API's endpoints that read a JSON body (`/reload` reads none: it reads the configuration file again)."""
ADMIN_OTHER = ["/console/login", "/console/logout", "/admin/api/v1/reload", "/admin/api/v1/nope", "/admin/"]
LOGIN_SITES = [
    (b"origin", b"http://server.test"),
    (b"origin", b"https://evil.example"),
    (b"origin", b"null"),
    (b"sec-fetch-site", b"cross-site"),
    (b"sec-fetch-site", b"same-origin"),
    (b"sec-fetch-site", b"none"),
    (b"sec-fetch-site", b"\xff"),
]
"""`Origin` / `Sec-Fetch-Site` of a login POST: cross-site ones are refused (403) before the token is looked at."""
QUERY_NAMES = ["limit", "range", "status", "destination", "cursor", "q", "source", "next", "since"]
QUERY_VALUES = [
    b"1",
    b"0",
    b"-1",
    b"1000",
    b"99999999999999999999",
    b"1h",
    b"24h",
    b"7d",
    b"x",
    b"failed",
    b"web",
    b"%FF",
    b"%00",
    b"%C3%A9",
    b"/console",
    b"//evil.example",
    b"eyJ4Ijox",
    b"WzFlOTk5LDFd",
    b"WzEuMCwxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMF0",  # [1.0, 10**30]: a forged cursor past 64 bits
    b"WzEuMCwtMV0",  # [1.0, -1]
    b"a%00b",
    b"",
]
METHODS = (
    ["POST"] * 40 + ["GET"] * 3 + ["OPTIONS"] * 3 + ["HEAD", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "FOO", ""]
)
TYPES = ["track"] * 4 + ["identify"] * 2 + ["page", "screen", "group", "alias", "TRACK", "nope", "", None, 7, ["track"]]
CONTENT_TYPES = [
    b"text/plain",
    b"application/json",
    b"application/json; charset=utf-8",
    b"text/plain;charset=UTF-8",
    b"multipart/form-data; boundary=x",
    b"application/x-www-form-urlencoded",
    b"",
    b"\xff\xfe",
]
ENCODINGS = [b"gzip", b"deflate", b"identity", b"br", b"GZIP", b"gzip, gzip", b"x-gzip", b"", b"zstd"]
TIMESTAMPS = [
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00.123456789+05:30",
    "+275760-09-13T00:00:00Z",
    "0001-01-01T00:00:00-23:59",
    "-000001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "yesterday",
    "",
    "2026-02-30",
    "1e10",
    "Tue, 1 Dec 2026 10:00:00 GMT",
]
STRANGE_TEXT = [
    "",
    " ",
    "é",
    "\u0000",
    "\u202e",
    "\ud83d\ude00",
    "😀",
    "\ufeff",
    "a" * 300,
    "\\",
    '"',
    "</script>",
    "${HOME}",
    "{{x}}",
    "%s%n",
    "\r\n",
    "null",
    "undefined",
    "__proto__",
    "constructor",
]


def _bomb(head: bytes, filler: bytes, tail: bytes, wbits: int, megabytes: int = 32) -> bytes:
    """`megabytes` of JSON compressed to a few KB, built a megabyte at a time (never whole in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [packer.compress(head)]
    chunk = filler * (1024 * 1024)
    parts += [packer.compress(chunk) for _ in range(megabytes)]
    parts += [packer.compress(tail), packer.flush()]
    return b"".join(parts)


GZIP_BOMB = _bomb(b'{"batch": [', b" ", b"]}", 16 + zlib.MAX_WBITS)
"""32 MB of JSON in ~32 KB of gzip: inflating it would blow the 500 KB limit (and memory, if unchecked)."""
DEFLATE_BOMB = _bomb(b'{"userId": "', b"a", b'"}', zlib.MAX_WBITS)


@dataclass
class FuzzRequest:
    method: str
    path: str
    query: bytes
    headers: list[tuple[bytes, bytes]]
    parts: list[bytes]
    ending: str
    """`complete`, `hang_up` (the client disconnects before the body ends) or `stall` (more body announced, none
    sent)."""
    client: str = CLIENT


class RequestGenerator:
    """`next()` returns the next generated request; `seed` makes the sequence reproducible."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = r = random.Random(seed)
        self.session: tuple[bytes, bytes] | None = None
        """A console session's cookie header value and CSRF token (the runner logs in and sets it)."""
        # Pools drawn once: picking from them costs far less than building text character by character.
        self._texts = list(STRANGE_TEXT)
        for _ in range(3_000):
            self._texts.append(
                "".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789 _-") for _ in range(r.randint(0, 12)))
            )
        for _ in range(1_000):
            self._texts.append(
                "".join(chr(r.randint(1, 0x10FFFF)) for _ in range(r.randint(1, 6)))
                .encode("utf-8", "surrogatepass")
                .decode("utf-8", "replace")
            )
        self._scalars = [
            None,
            True,
            False,
            0,
            -1,
            2**53 + 1,
            2**64 + 3,
            -(2**70),
            1e308,
            -0.0,
            5e-324,
            0.1,
            1e-7,
            123456789.125,
        ]
        self._scalars += [r.randint(-(2**31), 2**31) for _ in range(200)] + [r.random() * 1e6 for _ in range(200)]
        self._junk = [bytes(r.getrandbits(8) for _ in range(r.randint(0, 300))) for _ in range(2_000)]
        self._values = [self.tree() for _ in range(5_000)]

    # --- values ------------------------------------------------------------------------------------------------

    def text(self) -> str:
        return self.rng.choice(self._texts)

    def scalar(self):
        r = self.rng
        return self.rng.choice(self._texts) if r.random() < 0.5 else r.choice(self._scalars)

    def value(self) -> object:
        """A JSON value: mostly one of the pooled trees, sometimes a fresh one."""
        return self.rng.choice(self._values) if self.rng.random() < 0.9 else self.tree()

    def tree(self, depth: int = 0) -> object:
        r = self.rng
        if depth > 4 or r.random() < 0.45:
            return self.scalar()
        if r.random() < 0.5:
            return [self.tree(depth + 1) for _ in range(r.randint(0, 4))]
        return {self.text(): self.tree(depth + 1) for _ in range(r.randint(0, 5))}

    def event(self) -> dict:
        r = self.rng
        event: dict = {}
        if r.random() < 0.93:
            event["type"] = r.choice(TYPES)
        roll = r.random()
        if roll < 0.7:
            event["userId"] = f"u{r.randint(0, 50)}"
        elif roll < 0.8:
            event["anonymousId"] = f"a{r.randint(0, 50)}"
        elif roll < 0.9:
            event["userId"] = self.scalar()
        if r.random() < 0.9:
            event["messageId"] = f"m{r.randint(0, 4000)}" if r.random() < 0.95 else self.scalar()
        for name in ("event", "name"):
            if r.random() < 0.5:
                event[name] = self.text() if r.random() < 0.9 else self.scalar()
        for name in ("properties", "traits", "context", "integrations"):
            if r.random() < 0.4:
                event[name] = self.value() if r.random() < 0.8 else {"k": self.value()}
        for name in ("timestamp", "sentAt", "originalTimestamp"):
            if r.random() < 0.2:
                event[name] = r.choice(TIMESTAMPS) if r.random() < 0.9 else self.scalar()
        if r.random() < 0.02:
            event["properties"] = {"big": "x" * r.choice([30_000, 33_000, 40_000])}
        if r.random() < 0.05:
            event[self.text()] = self.value()
        return event

    # --- bodies ------------------------------------------------------------------------------------------------

    def json_body(self, key: str | None) -> bytes:
        r = self.rng
        roll = r.random()
        if roll < 0.45:
            body = self.event()
        elif roll < 0.9:
            count = r.choice([0, 1, 2, 3, 5, 10, 40]) if r.random() < 0.995 else r.choice([2_500, 2_501])
            body = {
                "batch": [self.event() for _ in range(count)] if count < 100 else [{"type": "t", "userId": "u"}] * count
            }
            if r.random() < 0.2:
                body["context"] = self.value()
            if r.random() < 0.1:
                body["sentAt"] = r.choice(TIMESTAMPS)
        elif roll < 0.95:
            body = {"batch": self.value()}
        else:
            body = self.value()
        if key is not None and isinstance(body, dict):
            body["writeKey"] = key
        return json.dumps(body, ensure_ascii=r.random() < 0.5).encode("utf-8", "surrogatepass")

    def deep(self) -> bytes:
        r = self.rng
        depth = r.choice([100, 254, 255, 256, 1_000, 1_025, 10_000, 100_000])
        opener, closer = r.choice([(b"[", b"]"), (b'{"a":', b"}")])
        inner = opener * depth + b"1" + closer * depth
        return b'{"userId": "u", "writeKey": "wk_fuzz_a", "properties": ' + inner + b"}"

    def raw_body(self, key: str | None) -> bytes:
        r = self.rng
        roll = r.random()
        if roll < 0.82:
            body = self.json_body(key)
        elif roll < 0.86:
            body = self.deep()
        elif roll < 0.9:
            body = self.junk(300)
        elif roll < 0.95:
            body = r.choice(
                [
                    b"",
                    b"null",
                    b"[]",
                    b'"x"',
                    b"1e999999",
                    b"NaN",
                    b'{"batch": null}',
                    b"{" * 5_000,
                    b'{"userId": "u", "writeKey": "wk_fuzz_a", "n": NaN}',
                    b'{"userId": "u", "writeKey": "wk_fuzz_a", "n": Infinity}',
                    b'{"userId": "\\ud800", "writeKey": "wk_fuzz_a"}',
                    b'{"userId": "u", "userId": 1, "writeKey": "wk_fuzz_a"}',
                    b'\xef\xbb\xbf{"userId": "u", "writeKey": "wk_fuzz_a"}',
                    b'{"userId": "u", "writeKey": "wk_fuzz_a"} trailing',
                    '{"userId": "u", "writeKey": "wk_fuzz_a"}'.encode("utf-16"),
                ]
            )
        else:
            body = bytearray(self.json_body(key))  # a valid body with a few bytes broken
            for _ in range(r.randint(1, 4)):
                if body:
                    body[r.randrange(len(body))] = r.getrandbits(8)
            body = bytes(body)
        return body

    def encode(self, body: bytes) -> tuple[bytes, bytes | None]:
        """The body as sent and the Content-Encoding it claims (None: no header)."""
        r = self.rng
        roll = r.random()
        if roll < 0.75:
            return body, None
        if roll < 0.85:
            return gzip.compress(body, 1), b"gzip"
        if roll < 0.9:
            return zlib.compress(body, 1), b"deflate"
        if roll < 0.92:
            return GZIP_BOMB, b"gzip"
        if roll < 0.93:
            return DEFLATE_BOMB, b"deflate"
        if roll < 0.95:
            data = gzip.compress(body, 1)
            return data[: max(1, len(data) // 2)], b"gzip"  # truncated
        if roll < 0.96:
            return gzip.compress(gzip.compress(body, 1), 1), b"gzip"  # double, announced once
        return body, r.choice(ENCODINGS)

    # --- headers -----------------------------------------------------------------------------------------------

    def junk(self, size: int) -> bytes:
        """Random bytes of about `size` (from a pool: fresh random bytes per request would dominate the cost)."""
        return self.rng.choice(self._junk)[:size]

    def headers(self, body: bytes, encoding: bytes | None, key: str | None, key_in: str) -> list[tuple[bytes, bytes]]:
        r = self.rng
        headers: list[tuple[bytes, bytes]] = []
        if r.random() < 0.8:
            headers.append((b"content-type", r.choice(CONTENT_TYPES)))
        if encoding is not None:
            headers.append((b"content-encoding", encoding))
        if key_in == "basic" and key is not None:
            headers.append((b"authorization", b"Basic " + base64.b64encode(key.encode() + b":")))
        elif key_in == "bad_auth":
            headers.append(
                (
                    b"authorization",
                    r.choice(
                        [
                            b"Basic %%%",
                            b"Basic ",
                            b"Bearer t",
                            b"Basic \xff\xfe",
                            b"Digest x",
                            b"Basic " + base64.b64encode(b"nocolon"),
                            b"Basic " + b"A" * 8_000,
                        ]
                    ),
                )
            )
        roll = r.random()
        if roll < 0.85:
            headers.append((b"content-length", str(len(body)).encode()))
        elif roll < 0.95:
            headers.append(
                (b"content-length", r.choice([b"0", b"1", b"99999999", b"-1", b"x", b"5, 5", b" 5", b"1e3"]))
            )
        if r.random() < 0.25:
            headers.append((b"origin", r.choice(ORIGINS) if r.random() < 0.9 else self.junk(r.randint(0, 30))))
        if r.random() < 0.1:
            headers.append((b"access-control-request-method", r.choice([b"POST", b"PUT", b"GET", self.junk(5)])))
            headers.append(
                (b"access-control-request-headers", r.choice([b"content-type", b"authorization, x-a", self.junk(20)]))
            )
        if r.random() < 0.3:
            headers.append(
                (b"host", r.choice([b"server.test", b"", b"127.0.0.1:8080", b"evil.example", self.junk(10)]))
            )
        if r.random() < 0.05:
            headers.extend(
                (self.junk(r.randint(1, 20)).lower(), self.junk(r.randint(0, 200))) for _ in range(r.randint(1, 100))
            )
        if r.random() < 0.02:
            headers.append((b"x-big", b"v" * r.choice([8_000, 16_000, 64_000])))
        if r.random() < 0.05:
            r.shuffle(headers)
            if headers:
                headers.append(headers[0])  # a repeated header
        return headers

    # --- requests ----------------------------------------------------------------------------------------------

    def next(self) -> FuzzRequest:
        r = self.rng
        if r.random() < 0.05:
            return self.admin()
        if r.random() < 0.06:
            return self.webhook()
        method = r.choice(METHODS)
        roll = r.random()
        if roll < 0.88:
            path = r.choice(ENDPOINTS)
        elif roll < 0.97:
            path = r.choice(OTHER_PATHS)
        else:
            path = "/" + self.text()
        key_roll = r.random()
        key = r.choice(WRITE_KEYS) if key_roll < 0.9 else r.choice(["", "wk_nope", "wk_fuzz_a ", "WK_FUZZ_A", None])
        key_in = r.choices(["body", "basic", "none", "bad_auth"], [55, 35, 5, 5])[0]
        body = (
            b"" if method in ("GET", "HEAD") and r.random() < 0.9 else self.raw_body(key if key_in == "body" else None)
        )
        body, encoding = self.encode(body)
        headers = self.headers(body, encoding, key, key_in)
        pieces = r.choice([1] * 8 + [2, 3, 7])
        size = -(-len(body) // pieces) or 1
        parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        ending = r.choices(["complete", "hang_up", "stall"], [970, 25, 5])[0]
        query = b"" if r.random() < 0.95 else self.junk(r.randint(0, 40))
        return FuzzRequest(method, path, query, headers, parts, ending)

    # --- webhook sources -------------------------------------------------------------------------------------

    def survey(self) -> dict:
        """A 1Flow `submitted_survey` body, each part sometimes missing or of another type."""
        r = self.rng

        def maybe(value: object) -> object:
            return value if r.random() < 0.85 else self.value()

        screens = [
            {"title": maybe(self.text()), "answer": maybe(r.choice(["10", "7", "x", "[1]", "null", self.text()]))}
            for _ in range(r.choice([0, 1, 2, 5]))
        ]
        body: dict = {
            "alert_name": "submitted_survey",
            "alert_id": maybe(f"al{r.randint(0, 300)}"),
            "survey_id": maybe(self.text()),
            "platform": maybe("web"),
            "survey_info": maybe({"name": self.text(), "screens": maybe(screens)}),
            "user": maybe({"user_id": maybe(f"u{r.randint(0, 50)}")} if r.random() < 0.8 else {}),
        }
        for name in list(body):
            if r.random() < 0.05:
                del body[name]
        return body

    def webhook(self) -> FuzzRequest:
        """A POST to `/v1/webhook`: the key in the query, in Basic or nowhere; a 1Flow body, a Delighted-like one
        with a list of answers, any JSON or junk; sometimes over the size limit."""
        r = self.rng
        key = r.choice(WEBHOOK_KEYS)
        roll = r.random()
        if roll < 0.5:
            data: object = self.survey()
        elif roll < 0.75:
            data = {"answers": [{"person": f"p{r.randint(0, 9)}", "score": self.scalar()} for _ in range(3)]}
            if r.random() < 0.3:
                data = {"answers": self.value()}
        else:
            data = self.value()
        body = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
        if r.random() < 0.1:
            body = r.choice([self.junk(200), b"", b"[]", self.deep(), b'{"x": "' + b"y" * 2_100_000 + b'"}'])
        body, encoding = self.encode(body)
        key_in = r.choices(["query", "basic", "none", "bad_auth"], [70, 20, 5, 5])[0]
        query = b"writeKey=" + key.encode() if key_in == "query" else b""
        if r.random() < 0.05:
            query = r.choice(
                [b"writeKey=", b"writeKey=%ff%fe", b"writeKey=\xff", self.junk(30), b"writeKey=a&writeKey=b"]
            )
        headers = self.headers(body, encoding, key, key_in)
        pieces = r.choice([1] * 8 + [2, 5])
        size = -(-len(body) // pieces) or 1
        parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        ending = r.choices(["complete", "hang_up", "stall"], [970, 25, 5])[0]
        return FuzzRequest(
            r.choice(["POST"] * 9 + ["GET", "OPTIONS", "PUT"]), "/v1/webhook", query, headers, parts, ending
        )

    # --- the operator's side -----------------------------------------------------------------------------------

    def query(self) -> bytes:
        """A query string of the admin and console parameters, sometimes with raw bytes that are not UTF-8."""
        r = self.rng
        if r.random() < 0.1:
            return self.junk(r.randint(1, 40))
        pairs = [r.choice(QUERY_NAMES).encode() + b"=" + r.choice(QUERY_VALUES) for _ in range(r.randint(0, 4))]
        return b"&".join(pairs)

    def admin_json(self, path: str) -> bytes:
        r = self.rng
        roll = r.random()
        if roll < 0.1:
            return self.raw_body(None)
        if roll < 0.12:
            return b'{"event": {"pad": "' + b"x" * r.choice([1024 * 1024, 1024 * 1024 + 1]) + b'"}}'
        body: dict = {}
        if roll < 0.13:  # nested past the evaluator's bound (and past Python's recursion limit)
            depth = r.choice([65, 900, 1_000])
            nested = b'{"n":' * depth + b'{"@path": "$.event"}' + b"}" * depth
            return b'{"subscribe": "type = \\"track\\"", "event": {"type": "track"}, "mapping": ' + nested + b"}"
        if path.endswith("test-event"):
            body = {"event": self.event() if r.random() < 0.9 else self.value(), "send": r.random() < 0.3}
        elif path.endswith("mapping-preview"):
            body = {
                "subscribe": r.choice(['type = "track"', "event = ", "properties.total > 1", self.text()]),
                "mapping": r.choice(
                    [
                        {"a": {"@path": "$.event"}},
                        {"b": {"@template": "{{userId}}"}},
                        {"c": {"@liquid": "{{ event | upcase | append: userId }}"}},
                        {f"t{i}": {"@liquid": "{{ 1 }}"} for i in range(r.choice([50, 51, 200]))},  # the template cap
                        {"d\u0000": {"@path": "$.event\u0000"}},
                        self.value(),
                    ]
                ),
                "event": self.event(),
                "partnerAction": r.choice(["trackEvent", "identifyUser", "nope", None, 7]),
            }
        else:
            body = {
                "since": r.choice(["1h", "30m", "2026-01-01T00:00:00Z", "", "x", None, 5]),
                "until": r.choice([None, "", "1m", "yesterday"]),
                "dry_run": r.random() < 0.8,
                "messageId": r.choice([None, "", "m1", f"m{r.randint(0, 4000)}", 7, "m\u00001"]),
                "status": r.choice(["dead", "delivered", "filtered", "all", "retrying", "", None, 3, ["dead"]]),
                "again": r.choice([True, False, None, "yes", 1]),
            }
            if r.random() < 0.1:
                body["source"] = r.choice(["a", "a\u0000", "nope", 3])
        if r.random() < 0.3:
            body["destination"] = r.choice(["web", "nope", "", None, 1])
        for _ in range(r.randint(0, 1)):
            body[self.text()] = self.value()
        return json.dumps(body, ensure_ascii=r.random() < 0.5).encode("utf-8", "surrogatepass")

    def login_form(self) -> bytes:
        r = self.rng
        roll = r.random()
        if roll < 0.05:
            return b"token=" + b"A" * r.choice([8 * 1024, 9 * 1024, 64 * 1024])
        if roll < 0.15:
            return self.junk(300)
        token = r.choice([ADMIN_TOKEN.encode(), b"wrong", b"", b"%FF%FE", b"\xff", ADMIN_TOKEN.encode() + b"x"])
        return b"token=" + token + b"&next=" + r.choice([b"/console", b"//evil.example", b"/console/events", b"%FF"])

    def admin(self) -> FuzzRequest:
        """A request to the login form, the admin API, a console page or `/metrics`."""
        r = self.rng
        roll = r.random()
        if roll < 0.45:
            path, method = r.choice(ADMIN_POSTS), "POST"
        elif roll < 0.85:
            path, method = r.choice(ADMIN_GETS), r.choice(["GET"] * 9 + ["HEAD"])
        else:
            path, method = r.choice(ADMIN_OTHER), r.choice(["POST"] * 4 + ["GET", "PUT", "DELETE", "OPTIONS"])
        if r.random() < 0.03:
            path += r.choice(["/x", "/../config", "/%00", "/\udcff"])
        headers: list[tuple[bytes, bytes]] = []
        client = CLIENT
        auth = r.choices(["bearer", "session", "wrong", "none"], [45, 30, 10, 15])[0]
        if auth == "bearer":
            headers.append((b"authorization", b"Bearer " + ADMIN_TOKEN.encode()))
        elif auth == "session" and self.session is not None:
            cookie, csrf = self.session
            headers.append((b"cookie", cookie))
            if r.random() < 0.9:
                headers.append((b"x-csrf-token", csrf if r.random() < 0.9 else self.junk(20)))
        elif auth == "wrong":
            client = r.choice(GUESSERS)
            headers.append((b"authorization", r.choice([b"Bearer wrong", b"Bearer \xff\xfe", b"Bearer ", b"Basic x"])))
            if r.random() < 0.3:
                headers.append((b"cookie", b"actions_1flow_console=" + self.junk(r.randint(0, 60))))
        if method == "POST":
            if path == "/console/login":
                body = self.login_form()
                client = r.choice(GUESSERS)
                headers.append((b"content-type", b"application/x-www-form-urlencoded"))
                if r.random() < 0.3:  # a page posting it: this server's own, another site's, or a lie
                    headers.append(r.choice(LOGIN_SITES))
                if r.random() < 0.1:  # forwarded headers from an untrusted peer: ignored
                    headers.append((b"x-forwarded-for", r.choice([b"10.0.0.1", b"198.51.100.7, 10.0.0.1", b"\xff"])))
            else:
                body = self.admin_json(path)
                headers.append((b"content-type", r.choice([b"application/json", b"text/plain", b""])))
        else:
            body = b""
        roll = r.random()
        if roll < 0.8:
            headers.append((b"content-length", str(len(body)).encode()))
        elif roll < 0.9:
            headers.append((b"content-length", r.choice([b"0", b"1", b"99999999", b"x"])))  # lying
        if r.random() < 0.1:
            headers.append((b"host", r.choice([b"server.test", b"evil.example", self.junk(10)])))
        if r.random() < 0.05:
            headers.extend((self.junk(r.randint(1, 20)).lower(), self.junk(r.randint(0, 200))) for _ in range(5))
        query = self.query() if r.random() < 0.6 else b""
        pieces = r.choice([1] * 8 + [2, 7])
        size = -(-len(body) // pieces) or 1
        parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        ending = r.choices(["complete", "hang_up", "stall"], [970, 25, 5])[0]
        return FuzzRequest(method, path, query, headers, parts, ending, client)
