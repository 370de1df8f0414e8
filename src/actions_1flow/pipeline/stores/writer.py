"""Group commit, for both stores: one writer thread owns the write connection and runs every operation queued
meanwhile in one transaction, so one flush to disk acknowledges many requests.

An operation is a function of the connection, run inside the group's transaction; its future resolves once the
transaction has committed. One failing operation must not undo the others: when an operation fails, the group is
rolled back and its operations run again one by one, each in its own transaction, so only the failing one fails.
An operation may refuse before writing anything by raising `LeaseLost` (a fence): that one fails, the group goes
on. When the commit itself fails, or the connection is lost, nothing was written and every operation fails.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, Protocol, TypeVar

from ..records import LeaseLost, StoreError

C = TypeVar("C")
T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_GROUP_OPS = 512
"""Operations folded into one transaction at most; bounds a commit's latency under heavy load."""

_STOP = object()
"""Queued by `close()`: commit what came before it, then end the writer."""


class WriteDriver(Protocol[C]):
    """What the writer needs of a backend: a connection, its transactions, and how to read its errors."""

    def connect(self) -> C:
        """The write connection (made anew after `failure` said the last one is gone)."""

    def begin(self, conn: C) -> None: ...

    def commit(self, conn: C) -> None: ...

    def rollback(self, conn: C) -> None: ...

    def failure(self, exc: BaseException, conn: C | None) -> tuple[BaseException, bool]:
        """What the operations hit by `exc` fail with, and whether the connection is gone (then it is closed)."""


class _Op:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.future: Future[Any] = Future()


class _OpFailed(Exception):
    """An operation raised: the group's transaction was rolled back."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause


_Outcome = tuple[_Op, Any, BaseException | None]


class GroupWriter(Generic[C]):
    """The writer thread of one store; `submit(fn)` queues an operation, `close()` commits the rest and stops."""

    def __init__(self, driver: WriteDriver[C], name: str, max_ops: int = MAX_GROUP_OPS) -> None:
        self.driver = driver
        self.max_ops = max_ops
        self.closed = False
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn: C | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[C], T]) -> Future[T]:
        """Run `fn(connection)` inside the next group transaction; the future resolves after the commit."""
        if self.closed:
            raise StoreError("the store is closed")
        op = _Op(fn)
        self._queue.put(op)
        return op.future

    def close(self) -> None:
        """Commit what is queued, then stop the thread (the connection is the driver's to close)."""
        if self.closed:
            return
        self.closed = True
        self._queue.put(_STOP)
        self._thread.join()

    @property
    def connection(self) -> C | None:
        """The write connection in use, if any (for the driver to close)."""
        return self._conn

    def _loop(self) -> None:
        while True:
            ops, stop = self._take()
            if ops:
                self._settle(self._commit(ops))
            if stop:
                return

    def _take(self) -> tuple[list[_Op], bool]:
        """Wait for one operation, then take those already queued behind it (at most `max_ops` in all)."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        ops = [first]
        while len(ops) < self.max_ops:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return ops, True
            ops.append(nxt)
        return ops, False

    def _commit(self, ops: list[_Op]) -> list[_Outcome]:
        try:
            return self._transaction(ops)
        except _OpFailed as failed:  # rolled back: each alone, below (unless the connection is gone)
            error, gone = self._failure(failed.cause)
            if gone:
                return [(op, None, error) for op in ops]
        except Exception as exc:  # the connection, or the commit: nothing is durable
            return [(op, None, self._failure(exc)[0]) for op in ops]
        outcomes: list[_Outcome] = []
        for i, op in enumerate(ops):
            try:
                outcomes += self._transaction([op])
            except _OpFailed as failed:
                error, gone = self._failure(failed.cause)
                if gone:
                    return outcomes + [(rest, None, error) for rest in ops[i:]]
                outcomes.append((op, None, error))
            except Exception as exc:
                error = self._failure(exc)[0]
                return outcomes + [(rest, None, error) for rest in ops[i:]]
        return outcomes

    def _transaction(self, ops: list[_Op]) -> list[_Outcome]:
        if self._conn is None:
            self._conn = self.driver.connect()
        conn = self._conn
        self.driver.begin(conn)
        outcomes: list[_Outcome] = []
        for op in ops:
            try:
                outcomes.append((op, op.fn(conn), None))
            except LeaseLost as exc:  # a fence: refused before writing anything
                outcomes.append((op, None, exc))
            except Exception as exc:
                self._rollback(conn)
                raise _OpFailed(exc) from exc
        self.driver.commit(conn)
        return outcomes

    def _failure(self, exc: BaseException) -> tuple[BaseException, bool]:
        """What `exc` means for the operations (and whether the connection is gone: then it is dropped)."""
        conn = self._conn
        error, gone = self.driver.failure(exc, conn)
        if gone:
            self._conn = None
        elif conn is not None:
            self._rollback(conn)
        return error, gone

    def _rollback(self, conn: C) -> None:
        try:
            self.driver.rollback(conn)
        except Exception as exc:  # the connection broke meanwhile: the next transaction finds out
            log.debug("rollback failed: %s", exc)

    @staticmethod
    def _settle(outcomes: list[_Outcome]) -> None:
        for op, result, error in outcomes:
            if error is None:
                op.future.set_result(result)
            else:
                op.future.set_exception(error)
