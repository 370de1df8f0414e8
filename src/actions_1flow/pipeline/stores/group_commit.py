"""What both stores' writer threads do between commits: take everything queued so far, up to a bound, as one group."""

from __future__ import annotations

import queue
from typing import Any

STOP = object()
"""Queued by `close()`: commit what came before it, then end the writer."""


def take_group(pending: queue.SimpleQueue[Any], max_ops: int) -> tuple[list[Any], bool]:
    """Wait for one operation, then take the ones already queued behind it (at most `max_ops` in all). Returns
    them and whether `STOP` came (the writer ends after committing them)."""
    first = pending.get()
    if first is STOP:
        return [], True
    ops = [first]
    while len(ops) < max_ops:
        try:
            nxt = pending.get_nowait()
        except queue.Empty:
            break
        if nxt is STOP:
            return ops, True
        ops.append(nxt)
    return ops, False
