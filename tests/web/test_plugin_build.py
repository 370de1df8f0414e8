"""The committed plugin bundle is exactly what the build makes from the sources, and stays within its size goal."""

from __future__ import annotations

import gzip
import json
import subprocess

from tests.conftest import ROOT

DIST = ROOT / "src/actions_1flow/destinations/oneflow/web/dist/actions-1flow.min.js"
BUILD = ROOT / "scripts/build-plugin.mjs"
GZIP_BUDGET = 8 * 1024


def test_committed_bundle_is_not_stale(tmp_path):
    fresh = tmp_path / "actions-1flow.min.js"
    out = subprocess.run(["node", str(BUILD), "--outfile", str(fresh)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["bytes"] == fresh.stat().st_size
    assert fresh.read_bytes() == DIST.read_bytes(), "rebuild with `npm run build:plugin` and commit the result"


def test_bundle_is_within_size_goal():
    size = len(gzip.compress(DIST.read_bytes(), compresslevel=9))
    assert size <= GZIP_BUDGET, f"{size} bytes gzipped"


def test_bundle_is_self_contained():
    text = DIST.read_text()
    assert "import " not in text and "require(" not in text
    assert "window.actions1flowDestination=" in text
