"""Mapping previews and the Event Tester's verdicts, run in a child process with bounds: operators (or whoever
holds a session) hand these arbitrary mappings and events, and a `@liquid` template can be made slow (each is
limited to 500 ms between nodes, as Segment's, but a request may carry hundreds) or large (one `replace` of a
big string grows by megabytes per node).

Run on the event loop, one such request held every `/v1/track` answer for seconds; run in a thread it would still
share the loop's interpreter lock and the process's memory. So each request is evaluated in a separate process
(one at a time, a pool of one kept warm) whose address space is capped (`MEMORY_BOUND`, the OS refuses more:
`MemoryError`), within a total `DEADLINE` (then the process is killed and replaced), with at most
`MAX_TEMPLATES` `@liquid` templates and `MAX_DEPTH` levels of nesting in its mapping (`MAX_EVENT_DEPTH` in its
event) per request, checked before it is sent.
The engine itself runs unchanged, so results are exactly what delivery computes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from .. import fql, mapping
from ..actions import CompiledSubscription, Subscription, run_subscription
from ..actions.payload import PayloadValidationError
from ..destinations import REGISTRY
from ..service import records

log = logging.getLogger("actions_1flow.admin")
T = TypeVar("T")

DEADLINE = 5.0
"""Seconds one request's evaluation may take in all (every template of it together)."""
MEMORY_BOUND = 768 * 1024 * 1024
"""The evaluating process's address space, in bytes (the interpreter and the engine take about a fifth of it)."""
MAX_TEMPLATES = 50
"""`@liquid` templates per request: a mapping (or a destination's subscriptions together) with more is refused."""
MAX_DEPTH = 64
"""Levels of nesting in a request's mapping; Segment's own mappings use a handful."""
MAX_EVENT_DEPTH = 254
"""Levels of nesting in an event: what the store keeps (its JSON encoder's limit), so every stored event passes."""
QUEUE_WAIT = 2.0
"""Seconds a request may wait for its turn (and for the process to be ready) before it is answered 429."""
STARTUP_TIMEOUT = 60.0
PARENT_POLL = 0.5
"""Seconds between the evaluating process's checks that its server still lives."""


class EvaluationRefused(Exception):
    """The request is over a bound (or its evaluation was stopped at one); the message says which, and the fix."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def check_size(value: Any, what: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse `value` nested deeper than `max_depth` or holding more than `MAX_TEMPLATES` `@liquid` templates."""
    templates = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise EvaluationRefused(400, "too_deep", f"{what} nests deeper than {max_depth} levels")
        if isinstance(item, dict):
            templates += "@liquid" in item
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    if templates > MAX_TEMPLATES:
        raise EvaluationRefused(
            400,
            "too_many_templates",
            f"{what} has {templates} @liquid templates; at most {MAX_TEMPLATES} are evaluated per request",
        )


def _prepare(limit: int, parent: int) -> None:
    """In the evaluating process, before anything runs: its address space capped at `limit` bytes, and a watch that
    ends it when its server is gone (a server killed with SIGKILL cannot stop it, and the executor's pipes, held at
    both ends by the child, would never tell it)."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os._exit(0)


def _ready() -> bool:
    return True


class Evaluator:
    """The evaluating process and what runs in it. `start()` begins starting it (the server does at start-up);
    the first request does otherwise."""

    def __init__(
        self, deadline: float = DEADLINE, memory_bound: int = MEMORY_BOUND, queue_wait: float = QUEUE_WAIT
    ) -> None:
        self.deadline = deadline
        self.memory_bound = memory_bound
        self.queue_wait = queue_wait
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._ready: concurrent.futures.Future[bool] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> concurrent.futures.Future[bool]:
        """Start the evaluating process in the background, unless it is started or starting; the future is done
        once it is ready."""
        if self._pool is None or self._ready is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),  # never a fork of a process with threads
                initializer=_prepare,
                initargs=(self.memory_bound, os.getpid()),
            )
            self._ready = self._pool.submit(_ready)
        return self._ready

    def _discard(self) -> None:
        """Kill the evaluating process (a runaway evaluation) and start another in the background."""
        pool, self._pool, self._ready = self._pool, None, None
        if pool is not None:
            for process in list(getattr(pool, "_processes", {}).values()):  # the executor offers no other way
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
        self.start()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the evaluating process within the bounds; EvaluationRefused when a bound stops it. The
        process starting (at the first request, or after one was killed) is waited for apart from `deadline`."""
        try:
            await asyncio.wait_for(self._lock.acquire(), self.queue_wait)
        except TimeoutError:
            raise EvaluationRefused(
                429, "evaluation_busy", "other previews are being evaluated (one at a time); retry in a moment"
            ) from None
        try:
            await asyncio.wait_for(asyncio.wrap_future(self.start()), STARTUP_TIMEOUT)
            assert self._pool is not None
            future = self._pool.submit(fn, *args)
            return await asyncio.wait_for(asyncio.wrap_future(future), self.deadline)
        except TimeoutError:
            self._discard()
            raise EvaluationRefused(
                422,
                "evaluation_timeout",
                f"evaluating this request took longer than {self.deadline:g} s in all; use fewer or simpler "
                "@liquid templates",
            ) from None
        except (MemoryError, BrokenProcessPool):
            self._discard()
            raise EvaluationRefused(
                422,
                "evaluation_memory",
                f"evaluating this request needed more than {self.memory_bound // 2**20} MB; a template "
                "builds too large a value",
            ) from None
        finally:
            self._lock.release()

    def close(self) -> None:
        pool, self._pool, self._ready = self._pool, None, None
        if pool is not None:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)


# -- what runs in the evaluating process --------------------------------------------------------------------------


def _out_of_memory(exc: BaseException | None) -> bool:
    """Whether `exc` (a MappingError) was caused by the process running out of memory."""
    while exc is not None:
        if isinstance(exc, MemoryError):
            return True
        exc = exc.__cause__
    return False


def verdicts(
    destination: str, type_: str, specs: Sequence[Subscription], settings: dict[str, Any], event: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each subscription's verdict on `event`, as `records.verdict` shapes it."""
    definition = REGISTRY.get(type_)
    out = []
    for spec in specs:
        result = run_subscription(definition, CompiledSubscription(spec), event, settings)
        if result.failed and "MemoryError" in result.reason:  # the bound, not the mapping (the reason is text here)
            raise MemoryError
        out.append(records.verdict(destination, result))
    return out


def preview(
    type_: str, action_name: Any, subscribe: str, mapping_: dict[str, Any], event: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trigger's verdict on `event` and the mapping's payload (validated by the action, when named)."""
    definition = REGISTRY.get(type_)
    trigger: dict[str, Any] = {"ok": True, "matched": None, "error": None}
    try:
        parsed = fql.parse(subscribe)
    except fql.FQLSyntaxError as exc:
        trigger = {"ok": False, "matched": None, "error": str(exc)}
    else:
        trigger["matched"] = parsed.matches(event)  # never raises (see fql.Subscription)
    result: dict[str, Any] = {"ok": False, "payload": None, "error": None}
    try:
        compiled = mapping.compile(dict(mapping_))
    except mapping.MappingValidationError as exc:
        result["error"] = "\n".join(exc.explained())
        return trigger, result
    try:
        mapped = compiled.apply(event)
    except mapping.MappingError as exc:
        if _out_of_memory(exc):  # the bound, not the mapping: answered as such
            raise MemoryError from None
        result["error"] = f"mapping failed: {exc}"
        return trigger, result
    result = {"ok": True, "payload": mapped, "error": None}
    action = definition.actions.get(action_name) if isinstance(action_name, str) else None
    if isinstance(action_name, str) and action is None:
        result["error"] = f"unknown action {action_name!r} (known: {', '.join(definition.actions)})"
        result["ok"] = False
    elif action is not None:
        try:
            result["payload"] = action.validator(mapped, batch=False)
        except PayloadValidationError as exc:
            result = {"ok": False, "payload": mapped, "error": str(exc)}
    return trigger, result
