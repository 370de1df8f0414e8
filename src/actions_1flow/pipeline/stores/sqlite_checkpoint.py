"""Background WAL checkpoints for the SQLite store.

SQLite's automatic checkpoint runs inside the commit that crosses the threshold, so that one commit (and every
request waiting for it) also copies megabytes of log into the database and fsyncs it: tens to hundreds of
milliseconds on an otherwise sub-millisecond commit. Checkpointing often from a thread of its own, on its own
connection, keeps the log short so the writer's automatic checkpoint has nothing left to do; a PASSIVE checkpoint
never blocks the writer or readers.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("actions_1flow.pipeline")

CHECKPOINT_INTERVAL_S = 0.25
"""How often the log is copied into the database; at ingest's peak rate that is well under a megabyte each time."""


class Checkpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` every `interval` seconds until `close()`."""

    def __init__(self, path: Path, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy or I/O trouble: the writer's own checkpoint still backs us up
                    log.debug("background checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
