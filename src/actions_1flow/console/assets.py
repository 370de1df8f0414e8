"""The console's own CSS and JavaScript and the vendored chart library, served by the server under content-hashed
URLs (`/console/static/<name>.<hash>.<ext>`), so a page never loads a stale file and the files are cached for a
year. Nothing is fetched from anywhere else.

The files ship inside the package (package-data), so a wheel install serves them without node_modules. uPlot is
pinned in package.json/package-lock.json; `scripts/build-console.mjs` copies its build from node_modules into
`static/vendor/` (a test checks the copies are byte-identical to the pinned package when node_modules is there).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from ..server.assets import IMMUTABLE, Asset, asset_response
from ..server.responses import json_error

PACKAGE = "actions_1flow.console"

FILES = {
    "console.css": "static/console.css",
    "console.js": "static/console.js",
    "uPlot.min.css": "static/vendor/uPlot.min.css",
    "uPlot.iife.min.js": "static/vendor/uPlot.iife.min.js",
}
"""Logical name → file in the package. Only these are served: a request names a file, never a path."""

MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "application/javascript; charset=utf-8"}
HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{12})(?P<ext>\.(?:css|js))$")


SAME_ORIGIN = {"X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "same-origin"}
"""The console's files are for its own pages only."""


@dataclass(frozen=True)
class StaticFile:
    name: str
    url_name: str
    """`console.3f2a1b9c0d4e.js`"""
    asset: Asset


def _split(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    return stem, dot + ext


class StaticFiles:
    """The console's static files, read once when the server starts."""

    PREFIX = "/console/static/"

    def __init__(self) -> None:
        self.by_name: dict[str, StaticFile] = {}
        self.by_url_name: dict[str, StaticFile] = {}
        root = resources.files(PACKAGE)
        for name, path in FILES.items():
            body = root.joinpath(*path.split("/")).read_bytes()
            stem, ext = _split(name)
            digest = hashlib.sha256(body).hexdigest()[:12]
            asset = Asset.of(body, MEDIA_TYPES[ext], IMMUTABLE, gzip.compress(body, 9, mtime=0))
            entry = StaticFile(name, f"{stem}.{digest}{ext}", asset)
            self.by_name[name] = entry
            self.by_url_name[entry.url_name] = entry

    def url(self, name: str) -> str:
        """The current URL of a logical file (`console.js` → `/console/static/console.<hash>.js`)."""
        return self.PREFIX + self.by_name[name].url_name

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Bytes and gzipped bytes of each file (docs/performance.md records them)."""
        return {name: (len(f.asset.body), len(f.asset.gzipped or b"")) for name, f in self.by_name.items()}

    async def endpoint(self, request: Request) -> Response:
        """`GET /console/static/{name}`: a file under its hashed name; an old hash answers 404 (the page that
        asked is older than the server; reloading it picks up the new URL)."""
        entry = self.by_url_name.get(request.path_params["name"])
        if entry is None:
            message = "no such console file (a page older than the server asks for it: reload the page)"
            return json_error(404, "not_found", message, {"X-Content-Type-Options": "nosniff"})
        return asset_response(request, entry.asset, SAME_ORIGIN)
