"""`actions-1flow` as a real subprocess in tests: started with its output in a log file, waited for until it
answers, stopped cleanly (SIGTERM) or killed (SIGKILL, as in a crash)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_command() -> list[str]:
    """How to run `actions-1flow` from tests (the installed module, with this interpreter)."""
    return [sys.executable, "-m", "actions_1flow"]


class CliProcess:
    """`actions-1flow ARGS…` in a subprocess; its stdout and stderr are appended to `log_path`."""

    def __init__(
        self, args: list[str], log_path: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        """`cwd`: the working directory (this one when None); `env`: variables set on top of this environment."""
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [*cli_command(), *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_answering(self, url: str, timeout: float = 20.0, verify: bool | ssl.SSLContext = True) -> None:
        """Until GET `url` answers 200; RuntimeError with the log if the process exits or the time runs out.
        `verify`: a context trusting the test certificate, for an https `url`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.args[0]} exited with {self.process.returncode}: {self.log_text()}")
            try:
                if httpx.get(url, timeout=1, verify=verify).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.02)
        raise RuntimeError(f"{self.args[0]} did not answer within {timeout}s: {self.log_text()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash or an OOM kill."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then the exit status (uvicorn re-raises SIGTERM after a graceful shutdown: -15 is clean)."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def proc_stat(pid: int) -> list[str]:
    """The fields of `/proc/<pid>/stat` after the command name (the state first, then the parent's pid …): the name
    is cut at its last `)`, since it may hold spaces and parentheses itself."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of `pid` (plus its reaped children's with `children`), in seconds, from /proc (benchmarks)."""
    fields = proc_stat(pid)
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MiB (benchmarks)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")
