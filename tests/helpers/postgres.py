"""A throwaway PostgreSQL cluster for the tests: Debian's PostgreSQL 15, initialised in a temporary directory, on a
free local port, stopped by PID. No mock: the PostgreSQL store is tested against the real server.

initdb refuses to run as root, so as root the cluster runs as the `postgres` user (its directory is handed over to
it); as another user it runs as that user.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from .process import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SUPERUSER, "--", *argv] if os.geteuid() == 0 else argv


class PostgresCluster:
    """One cluster: `start()`, `stop(mode)`, `url(db)`, `create_database()`; `pid` is the postmaster's."""

    def __init__(self, root: Path | None = None, *, fsync: bool = True) -> None:
        """Initialise a cluster in `root` (a new directory under the system's temp dir by default: pytest's
        temporary directories are private to root, and the `postgres` user must reach the cluster's)."""
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="actions-1flow-pg-"))
            root.chmod(0o755)
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.fsync = fsync
        self._databases = 0
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL 15 is not installed ({PG_BIN}); `make setup` installs it")
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, SUPERUSER, SUPERUSER)
        subprocess.run(
            _as_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),
            check=True,
            capture_output=True,
        )

    @property
    def pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self) -> PostgresCluster:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.fsync:
            options += " -c fsync=off -c full_page_writes=off"
        subprocess.run(
            _as_owner(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m MODE` (immediate: as if the server crashed)."""
        subprocess.run(
            _as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]), capture_output=True
        )

    def kill(self) -> None:
        """Stop for good, by PID, whatever state the cluster is in (the tests' clean-up)."""
        pid = self.pid
        self.stop("immediate")
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; returns its URL."""
        if name is None:
            self._databases += 1
            name = f"t{os.getpid()}_{self._databases}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
