"""A long-lived node process running `oracle.js`; one JSON line per request.

Used by the differential tests and the benchmarks, so both compare against the same reference run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oracle.js")


def node_modules_dir() -> Path:
    """The project's node_modules, installed by `make` from the committed lockfile."""
    return ROOT / "node_modules"


class OracleError(RuntimeError):
    """The oracle process failed to answer a request (not a reference-side error, which is data)."""


class NodeOracle:
    """Talk to Segment's packages under node. Thread-safe; one request in flight at a time.

    `script` picks another JSON-lines program with the same protocol (e.g. the web plugin's own runner).
    """

    def __init__(self, script: Path = SCRIPT) -> None:
        node = shutil.which("node")
        if node is None:
            raise OracleError("node is not on PATH; the reference oracle needs Node.js 20")
        if not (node_modules_dir() / "@segment" / "destination-subscriptions").is_dir():
            raise OracleError("node_modules is missing the reference packages; run `make test` (it runs npm ci)")
        self._proc = subprocess.Popen(
            [node, "--stack-size=8000", str(script)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._lock = threading.Lock()

    def call(self, op: str, **args: Any) -> Any:
        """Run one op; return its result. Raises OracleError when the oracle itself failed."""
        line = json.dumps({"op": op, **args}, ensure_ascii=False, allow_nan=False)
        if not line.isascii() and _has_lone_surrogate(line):  # UTF-8 cannot carry them; JSON escapes can
            line = json.dumps({"op": op, **args}, allow_nan=False)
        with self._lock:
            assert self._proc.stdin and self._proc.stdout
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
            reply = self._proc.stdout.readline()
        if not reply:
            raise OracleError(f"oracle exited (code {self._proc.poll()})")
        data = json.loads(reply)
        if data is None or "fail" in data:
            raise OracleError(f"oracle failed on {op}: {data and data.get('fail')}")
        return data["ok"]

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()  # type: ignore[union-attr]
            self._proc.wait(timeout=10)

    def __enter__(self) -> NodeOracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
