"""Static files for device mode, served like Segment's CDN: the analytics-next loader and its lazy chunks (from the
pinned npm package) and each registered destination's browser plugin (its committed build).

Every response carries `Access-Control-Allow-Origin: *` (a page on any origin may use them), a weak ETag answered
with 304 on `If-None-Match`, and the gzip form when the client accepts it. Chunk names carry a content hash, so they
are cached for a year; the loader and the plugin keep their URLs across releases, so they are cached briefly and
revalidated. Only files listed when the server starts can be served: a request names a file, never a path.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..actions import Destination
from ..service.answers import IMMUTABLE, JAVASCRIPT, REVALIDATE, Asset, asset_response
from .responses import CORS_HEADERS, error_response

ANALYTICS_NEXT_ENV = "ACTIONS_1FLOW_ANALYTICS_NEXT_DIR"
ANALYTICS_NEXT_PACKAGE = Path("node_modules", "@segment", "analytics-next")
UMD = Path("dist", "umd")
LOADER_FILE = "standalone.js"
CHUNK_NAME = re.compile(r"^[A-Za-z0-9_-]+\.bundle\.[0-9a-f]{16,}\.js(?:\.map)?$")
"""analytics-next's lazy chunks (`<name>.bundle.<contenthash>.js`) and their source maps."""

# --- finding analytics-next -------------------------------------------------------------------------------------


class AnalyticsNextMissing(Exception):
    """The analytics-next build is not where the server looked; the message says where and how to fix it."""


def _umd_dir(candidate: Path) -> Path | None:
    """`candidate` as the package directory or its `dist/umd` directory, if it holds the standalone loader."""
    for directory in (candidate / UMD, candidate):
        if (directory / LOADER_FILE).is_file():
            return directory
    return None


def locate_analytics_next(configured: str | None = None, env: dict[str, str] | None = None) -> Path:
    """The `dist/umd` directory of `@segment/analytics-next`: the configured directory, else the environment
    variable, else `node_modules` in the project (the directories above this package) or the working directory."""
    environ: Mapping[str, str] = os.environ if env is None else env
    explicit = configured or environ.get(ANALYTICS_NEXT_ENV)
    if explicit:
        found = _umd_dir(Path(explicit))
        if found is None:
            origin = "server.analytics_next_dir" if configured else ANALYTICS_NEXT_ENV
            raise AnalyticsNextMissing(
                f"{origin} is {explicit!r}, which holds neither {UMD / LOADER_FILE} nor {LOADER_FILE}; point it at "
                "the @segment/analytics-next package (node_modules/@segment/analytics-next)"
            )
        return found
    here = Path(__file__).resolve()
    places = [*(parent / ANALYTICS_NEXT_PACKAGE for parent in here.parents), Path.cwd() / ANALYTICS_NEXT_PACKAGE]
    for place in places:
        found = _umd_dir(place)
        if found is not None:
            return found
    raise AnalyticsNextMissing(
        "@segment/analytics-next is not installed: no node_modules/@segment/analytics-next/dist/umd above "
        f"{here.parent} or in {Path.cwd()}. Run `npm ci` in the project (it is pinned in package.json), or set "
        f"server.analytics_next_dir or {ANALYTICS_NEXT_ENV} to where it is installed"
    )


def _package_version(umd: Path) -> str:
    try:
        return str(json.loads((umd.parent.parent / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return "unknown version"


# --- the routes -------------------------------------------------------------------------------------------------


class Assets:
    """The loader, chunk and plugin endpoints over one analytics-next build and the plugin file."""

    def __init__(
        self,
        analytics_next_dir: str | None = None,
        env: dict[str, str] | None = None,
        destinations: Iterable[Destination] = (),
    ) -> None:
        self.missing: str | None = None
        self._chunks: dict[str, Path] = {}
        self._cache: dict[str, Asset] = {}
        try:
            self.umd: Path | None = locate_analytics_next(analytics_next_dir, env)
        except AnalyticsNextMissing as exc:
            self.umd = None
            self.missing = str(exc)
        else:
            self._chunks = {p.name: p for p in self.umd.iterdir() if CHUNK_NAME.match(p.name) and p.is_file()}
        self.plugins: dict[str, Asset] = {}
        """By path (`/plugins/{slug}.js`)."""
        for destination in destinations:
            if destination.device is not None:
                build = resources.files(destination.device.package).joinpath(*destination.device.path)
                body = build.read_bytes()
                self.plugins[destination.plugin_path] = Asset.of(
                    body, JAVASCRIPT, REVALIDATE, gzip.compress(body, 9, mtime=0)
                )

    def describe(self) -> str:
        """One line for the server log: which analytics-next is served, or why none is."""
        if self.umd is None:
            return f"device mode: cannot serve the analytics.js loader: {self.missing}"
        return f"device mode: serving analytics-next {_package_version(self.umd)} from {self.umd}"

    async def _asset(self, name: str, path: Path, cache_control: str) -> Asset:
        asset = self._cache.get(name)
        if asset is None:
            asset = self._cache[name] = await run_in_threadpool(Asset.read, path, cache_control)
        return asset

    def _unavailable(self) -> Response:
        return error_response(503, "analytics_next_missing", self.missing or "")

    async def loader(self, request: Request) -> Response:
        """`GET /analytics.js/v1/{writeKey}/analytics.min.js`: analytics-next's standalone build."""
        if request.path_params["writeKey"] not in request.app.state.server.sources_by_key:
            return error_response(
                404, "unknown_write_key", "the write key does not belong to any source of this server"
            )
        if self.umd is None:
            return self._unavailable()
        return asset_response(request, await self._asset(LOADER_FILE, self.umd / LOADER_FILE, REVALIDATE), CORS_HEADERS)

    async def chunk(self, request: Request) -> Response:
        """`GET /analytics-next/bundles/{name}`: a lazy chunk the loader asks for (only files of the build)."""
        if self.umd is None:
            return self._unavailable()
        name = request.path_params["name"]
        path = self._chunks.get(name)
        if path is None:
            return error_response(404, "not_found", f"analytics-next has no bundle named {name!r}")
        return asset_response(request, await self._asset(name, path, IMMUTABLE), CORS_HEADERS)

    def plugin_script(self, path: str) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint serving the plugin at `path` (`/plugins/{slug}.js`), its destination's committed build."""
        asset = self.plugins[path]

        async def endpoint(request: Request) -> Response:
            return asset_response(request, asset, CORS_HEADERS)

        return endpoint
