"""Batches for a vendor's API: packing messages into requests under its limits (bytes per body, messages per
request), and sending the requests in order, split in halves when a batch is refused as a whole."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from .outcomes import Outcome, not_sent

T = TypeVar("T")


def pack(
    items: Sequence[T],
    size: Callable[[T], int],
    *,
    max_bytes: int,
    overhead: int = 0,
    max_items: int | None = None,
) -> list[list[T]]:
    """`items` in order, in groups whose body (`overhead` bytes around the items, a one-byte separator between two)
    stays within `max_bytes` and, with `max_items`, holds at most that many. An item too large on its own gets a
    group of its own (callers refuse those before packing)."""
    groups: list[list[T]] = []
    current: list[T] = []
    used = overhead
    for item in items:
        grown = size(item) + (1 if current else 0)
        if current and (used + grown > max_bytes or (max_items is not None and len(current) >= max_items)):
            groups.append(current)
            current, used = [], overhead
            grown -= 1
        current.append(item)
        used += grown
    if current:
        groups.append(current)
    return groups


async def send_groups(
    groups: list[list[T]],
    post: Callable[[list[T]], Awaitable[Outcome]],
    *,
    split_on: frozenset[int] = frozenset(),
    stop_on_retryable: bool = False,
) -> list[Outcome]:
    """`post` each group in order. An answer in `split_on` to a group of several splits it in halves, each sent on
    its own, so one refused message does not sink the others. With `stop_on_retryable`, the first retryable answer
    ends the call: what was not sent yet gets a retryable outcome without a request (`not_sent`)."""
    outcomes: list[Outcome] = []
    for index, group in enumerate(groups):
        sent = await _send_splitting(group, post, split_on, stop_on_retryable)
        outcomes.extend(sent)
        failed = next((o for o in sent if o.retryable), None)
        if stop_on_retryable and failed is not None:
            rest = tuple(m for g in groups[index + 1 :] for m in g)
            if rest:
                outcomes.append(not_sent(rest, failed))
            break
    return outcomes


async def _send_splitting(
    group: list[T], post: Callable[[list[T]], Awaitable[Outcome]], split_on: frozenset[int], stop_on_retryable: bool
) -> list[Outcome]:
    outcome = await post(group)
    if outcome.status not in split_on or len(group) < 2:
        return [outcome]
    middle = len(group) // 2
    first = await _send_splitting(group[:middle], post, split_on, stop_on_retryable)
    failed = next((o for o in first if o.retryable), None)
    if stop_on_retryable and failed is not None:
        return [*first, not_sent(tuple(group[middle:]), failed)]
    return [*first, *await _send_splitting(group[middle:], post, split_on, stop_on_retryable)]
