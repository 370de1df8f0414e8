"""Is the SQLite file at the store path one we can trust? Checked before a store opens, and judged on every error
it raises afterwards.

A store that is damaged must never acknowledge events: a 200 promises the events are safe, and in a file with
overwritten pages they are not. So opening refuses — with the path and what to do — a directory, a file that is
not writable, a file that is not SQLite, and a file that fails SQLite's `quick_check`; and once an error at run
time says the file is corrupt (`SQLITE_CORRUPT`, `SQLITE_NOTADB`), the store refuses writes from then on and the
server reports itself not ready (503), instead of accepting batches its worker cannot read back.

`quick_check` reads the whole file, so it is bounded in time: a store too large to check within the budget is
opened unchecked, with a warning that says how to check it offline.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path

from ..store import StoreError

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
QUICK_CHECK_BUDGET_S = 10.0
"""How long start-up may spend on `PRAGMA quick_check`: ~2 GB of store here (~230 MB/s with a warm OS cache,
`benchmarks/integrity_bench.py`; docs/performance.md)."""
_PROGRESS_STEPS = 1000
"""SQLite virtual-machine steps between looks at the clock while checking."""
_CORRUPTION_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes: the low byte of an extended code)


def what_to_do(path: Path) -> str:
    """The advice every refusal of a damaged store ends with."""
    return (
        f"stop every process using it, move {path} (and its -wal and -shm files) aside, and restore the latest "
        f'backup in its place (docs/operations.md, "Backups"); to salvage what is readable: '
        f"sqlite3 {path} .recover | sqlite3 recovered.db"
    )


def check_path(path: Path) -> None:
    """Refuse (StoreError) a store path that cannot be an event store: a directory, a file or directory we may not
    write, or a file that is not an SQLite database. A missing file is fine (it will be created)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        parent = path.parent if str(path.parent) else Path(".")
        if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
            raise StoreError(f"cannot create the event store {path}: its directory {parent} is not writable") from None
        return
    except OSError as exc:
        raise StoreError(f"cannot use {path} as the event store: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(
            f"{path} is a directory, not an event store: point `storage:` at a file (sqlite:///{path}/events.db)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file: point `storage:` at an SQLite file")
    if not info.st_mode & stat.S_IWUSR or not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(
            f"{path} is read-only (mode {stat.filemode(info.st_mode)}): the server writes every event it accepts "
            "there; make it writable by the user running actions-1flow (chmod u+rw), or point `storage:` elsewhere"
        )
    if not os.access(path.parent if str(path.parent) else Path("."), os.W_OK | os.X_OK):
        raise StoreError(
            f"the directory of {path} is not writable: SQLite keeps its -wal and -shm files beside the store"
        )
    if info.st_size == 0:
        return  # an empty file is a new database to SQLite
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read the event store {path}: {exc.strerror or exc}") from None
    if header != SQLITE_HEADER:
        raise StoreError(
            f"{path} is not an SQLite database (its first bytes are not SQLite's header); " + what_to_do(path)
        )


def quick_check(conn: sqlite3.Connection, path: Path, budget: float = QUICK_CHECK_BUDGET_S) -> bool:
    """Run `PRAGMA quick_check` for at most `budget` seconds: True when the file passed, False when the budget ran
    out first (logged); StoreError when SQLite finds damage."""
    deadline = time.monotonic() + budget
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEPS)
    try:
        rows = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.OperationalError as exc:
        if "interrupted" not in str(exc):
            raise damaged(path, exc) from None
        log.warning(
            "the event store %s was not integrity-checked: quick_check did not finish within %.0fs; check it while "
            "the server is stopped with: sqlite3 %s 'PRAGMA quick_check'",
            path,
            budget,
            path,
        )
        return False
    except sqlite3.DatabaseError as exc:
        raise damaged(path, exc) from None
    finally:
        conn.set_progress_handler(None, 0)
    if rows != ["ok"]:
        raise damaged(path, "; ".join(line for row in rows for line in str(row).splitlines()))
    return True


def is_corruption(exc: BaseException) -> bool:
    """Whether an error says the database file itself is damaged (not busy, full or closed)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPTION_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def damaged(path: Path, detail: object) -> StoreError:
    """The refusal for a store SQLite reports as damaged."""
    return StoreError(f"the event store {path} is damaged ({detail}); " + what_to_do(path))
