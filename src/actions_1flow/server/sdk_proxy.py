"""First-party hosting of vendor SDKs: `GET /sdk/{slug}/{id}/{file}` serves, from this server's own origin, a copy
of the SDK a device-mode destination would otherwise have the page load from the vendor.

Ad blockers drop third-party vendor scripts; a script from the site's own analytics server passes. A destination
opts in through its settings (its `DevicePlugin.hosted_sdk` names the upstream URL; the settings document then
points the plugin at the copy, see `settings_cdn`). The server fetches each upstream once at start-up, keeps it in
memory and fetches it again every `REFRESH_INTERVAL` in a background task of the app's lifespan. A failed fetch
(network, non-200, HTML, empty, over `MAX_SDK_BYTES`, slower than `FETCH_TIMEOUT`) is logged as a warning and the
last good copy stays served; until there is a first copy the route answers `503 sdk_unavailable` (JSON), and
failed upstreams are retried every `RETRY_INTERVAL`.

Each copy is served with a strong ETag (a hash of the bytes sent: the identity and gzip forms have their own),
answered with 304 on `If-None-Match`, a short `Cache-Control` (a vendor fix reaches pages within minutes of the
refresh) and `Access-Control-Allow-Origin: *`, like the other device-mode files.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import Config
from ..service.answers import JAVASCRIPT, accepts_gzip, etag_matches
from .responses import CORS_HEADERS, error_response

log = logging.getLogger("actions_1flow.server.sdk_proxy")

REFRESH_INTERVAL = 15 * 60.0
"""Seconds between fetches of an upstream SDK whose last fetch worked."""
RETRY_INTERVAL = 60.0
"""Seconds before an upstream whose last fetch failed is tried again."""
MAX_SDK_BYTES = 2 * 1024 * 1024
"""The largest SDK accepted (decoded): a vendor script is a few hundred KB; more is not an SDK."""
FETCH_TIMEOUT = 10.0
"""Seconds one fetch may take in all (connect, headers and the whole body)."""
MAX_REDIRECTS = 3
"""Redirects followed within the upstream's scheme and host; one to another host is refused, as is a longer chain."""
JAVASCRIPT_TYPES = frozenset(
    {
        "application/javascript",
        "text/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
    }
)
"""The Content-Types an SDK answer must have: anything else (a page, JSON, an image) is not served as a script."""
SDK_CACHE = "public, max-age=300"
"""Five minutes in browsers and caches, then a cheap 304: a refreshed copy reaches pages soon after."""


class SdkFetchError(Exception):
    """An upstream answer that is not an SDK to serve; the message says why."""


@dataclass(frozen=True)
class SdkCopy:
    """One fetched SDK as served: identity and gzip bodies with their strong ETags."""

    body: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str
    fetched_at: float
    """`time.time()` of the fetch that produced these bytes (or last confirmed them unchanged)."""

    @classmethod
    def of(cls, body: bytes, fetched_at: float) -> SdkCopy:
        gzipped = gzip.compress(body, 6, mtime=0)
        return cls(body, gzipped, _strong_etag(body), _strong_etag(gzipped), fetched_at)


def _strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass
class Upstream:
    """An upstream SDK URL and its last good copy (None until a fetch succeeds)."""

    url: str
    copy: SdkCopy | None = None
    last_error: str | None = None


class SdkProxy:
    """The hosted SDK routes and the task keeping their copies fresh.

    `hosted` maps each path this server serves to its upstream URL; paths sharing an upstream share one copy.
    `transport` is httpx's (tests, or a proxy set-up); the other options default to the module's constants.
    """

    def __init__(
        self,
        hosted: Iterable[tuple[str, str]],
        *,
        refresh_interval: float = REFRESH_INTERVAL,
        retry_interval: float = RETRY_INTERVAL,
        max_bytes: int = MAX_SDK_BYTES,
        timeout: float = FETCH_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_private: bool = False,
    ) -> None:
        self.refresh_interval = refresh_interval
        self.retry_interval = retry_interval
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._transport = transport
        self.allow_private = allow_private
        self.upstreams: dict[str, Upstream] = {}
        """By upstream URL."""
        self.paths: dict[str, Upstream] = {}
        """By the path this server serves it at."""
        for path, url in hosted:
            self.paths[path] = self.upstreams.setdefault(url, Upstream(url))
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_config(cls, config: Config, **options: Any) -> SdkProxy:
        """A proxy for every device-mode destination of `config` whose settings ask for first-party hosting."""
        hosted = []
        for dest in config.destinations:
            if dest.mode == "device":
                found = dest.definition.hosted_sdk(dest.settings)
                if found is not None:
                    hosted.append(found)
        return cls(hosted, **{"allow_private": config.server.sdk_proxy_private, **options})

    # --- fetching ---------------------------------------------------------------------------------------------

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> bytes:
        """The upstream's body, or SdkFetchError / an httpx error saying why not. Redirects are followed within
        the upstream's own scheme and host only (`MAX_REDIRECTS`): a copy served publicly must come from where the
        configuration says, never from an address a redirect chose."""
        target = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            await self._check_address(target)
            async with client.stream("GET", target) as response:
                if response.is_redirect:
                    location = target.join(response.headers["location"])
                    if (location.scheme, location.host, location.port) != (target.scheme, target.host, target.port):
                        raise SdkFetchError(
                            f"HTTP {response.status_code} to {location.scheme}://{location.host}: a redirect to "
                            f"another host is not followed (set sdkUrl to where the SDK really is)"
                        )
                    target = location
                    continue
                return await self._body(response)
        raise SdkFetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _check_address(self, url: httpx.URL) -> None:
        """Refuse an upstream whose host resolves to a non-public address (loopback, private, link-local: the
        server's own network), unless `allow_private`."""
        if self.allow_private:
            return
        port = url.port or (443 if url.scheme == "https" else 80)
        for *_, sockaddr in await asyncio.get_running_loop().getaddrinfo(url.host, port):
            address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
            if not address.is_global:
                raise SdkFetchError(
                    f"{url.host} is at {address}, not a public address; set server.sdk_proxy_private: true "
                    "to host an SDK from your own network"
                )

    async def _body(self, response: httpx.Response) -> bytes:
        """The body of a final answer: a 200 with a JavaScript type, not empty, within `max_bytes`."""
        if response.status_code != 200:
            raise SdkFetchError(f"HTTP {response.status_code}")
        content_type = response.headers.get("content-type", "")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type not in JAVASCRIPT_TYPES:
            raise SdkFetchError(
                f"the answer is {content_type or 'of no type'}, not a script "
                f"(a JavaScript type is required: {', '.join(sorted(JAVASCRIPT_TYPES))})"
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise SdkFetchError(f"{int(declared):,} bytes, over the {self.max_bytes:,}-byte bound")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise SdkFetchError(f"over the {self.max_bytes:,}-byte bound")
            chunks.append(chunk)
        if size == 0:
            raise SdkFetchError("the answer is empty")
        return b"".join(chunks)

    async def _refresh_one(self, client: httpx.AsyncClient, upstream: Upstream) -> bool:
        try:
            body = await asyncio.wait_for(self._fetch(client, upstream.url), self.timeout)
        except (SdkFetchError, httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                reason = f"no complete answer within {self.timeout:g}s"
            self._failed(upstream, reason)
            return False
        except Exception as exc:  # an unforeseen failure must not end the refresh task
            log.warning("first-party SDK: fetching %s failed unexpectedly", upstream.url, exc_info=True)
            self._failed(upstream, f"{type(exc).__name__}: {exc}")
            return False
        now = time.time()
        previous = upstream.copy
        if previous is not None and previous.body == body:
            upstream.copy = SdkCopy(previous.body, previous.gzipped, previous.etag, previous.gzip_etag, now)
        else:
            upstream.copy = await asyncio.to_thread(SdkCopy.of, body, now)
            change = "first copy" if previous is None else "new version"
            log.info(
                "first-party SDK: %s of %s (%s bytes, ETag %s)",
                change,
                upstream.url,
                f"{len(body):,}",
                upstream.copy.etag,
            )
        upstream.last_error = None
        return True

    def _failed(self, upstream: Upstream, reason: str) -> None:
        upstream.last_error = reason
        if upstream.copy is None:
            log.warning(
                "first-party SDK: cannot fetch %s (%s); "
                "it is answered with 503 until a fetch succeeds (next try in %gs)",
                upstream.url,
                reason,
                self.retry_interval,
            )
        else:
            fetched = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(upstream.copy.fetched_at))
            log.warning(
                "first-party SDK: cannot refresh %s (%s); still serving the copy fetched %s",
                upstream.url,
                reason,
                fetched,
            )

    async def refresh(self, upstreams: Iterable[Upstream] | None = None) -> bool:
        """Fetch every upstream (or those given) once, concurrently; True when all fetches succeeded."""
        chosen = list(self.upstreams.values() if upstreams is None else upstreams)
        if not chosen:
            return True
        async with httpx.AsyncClient(
            transport=self._transport,
            timeout=self.timeout,
            follow_redirects=False,  # followed by `_fetch`, within the upstream's host only
            headers={"user-agent": "actions-1flow first-party SDK hosting"},
        ) as client:
            results = await asyncio.gather(*(self._refresh_one(client, u) for u in chosen))
        return all(results)

    async def _run(self) -> None:
        """The refresh schedule: everything every `refresh_interval`; failed upstreams every `retry_interval`."""
        due = {
            url: time.monotonic() + (self.refresh_interval if u.last_error is None else self.retry_interval)
            for url, u in self.upstreams.items()
        }
        while True:
            await asyncio.sleep(max(0.0, min(due.values()) - time.monotonic()))
            now = time.monotonic()
            ready = [u for url, u in self.upstreams.items() if due[url] <= now]
            await self.refresh(ready)
            for u in ready:
                due[u.url] = time.monotonic() + (self.refresh_interval if u.last_error is None else self.retry_interval)

    async def start(self) -> None:
        """The first fetch of every upstream (awaited, each bounded by `timeout`), then the refresh task."""
        if not self.upstreams:
            return
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="first-party SDK refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- serving ----------------------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [Route(path, self._endpoint(upstream), methods=["GET"]) for path, upstream in self.paths.items()]

    def _endpoint(self, upstream: Upstream) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return self.response(request, upstream)

        return endpoint

    def response(self, request: Request, upstream: Upstream) -> Response:
        """The copy (gzip when accepted), 304 when the client has it, or 503 while there is none."""
        copy = upstream.copy
        if copy is None:
            answer = error_response(
                503,
                "sdk_unavailable",
                "the server has no copy of the SDK yet: "
                f"fetching it failed ({upstream.last_error or 'not tried yet'}); "
                f"it is tried again every {self.retry_interval:g}s",
            )
            answer.headers["cache-control"] = "no-store"
            answer.headers["retry-after"] = str(max(1, round(self.retry_interval)))
            return answer
        use_gzip = accepts_gzip(request.headers.get("accept-encoding"))
        etag = copy.gzip_etag if use_gzip else copy.etag
        headers = {
            **CORS_HEADERS,
            "Cache-Control": SDK_CACHE,
            "ETag": etag,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if_none_match = request.headers.get("if-none-match")
        if etag_matches(if_none_match, copy.etag) or etag_matches(if_none_match, copy.gzip_etag):
            return Response(status_code=304, headers=headers)
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
            return Response(copy.gzipped, headers=headers, media_type=JAVASCRIPT)
        return Response(copy.body, headers=headers, media_type=JAVASCRIPT)
