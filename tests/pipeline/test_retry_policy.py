"""Retry policy: backoff from ~10 s to 5 min with jitter, Retry-After respected, 4 h window."""

import random

from actions_1flow.pipeline import RetryPolicy


def test_backoff_grows_from_base_to_cap_with_jitter():
    policy = RetryPolicy()
    rng = random.Random(7)
    first = [policy.delay(1, rng=rng) for _ in range(100)]
    assert all(d == 10.0 for d in first)
    third = [policy.delay(3, rng=rng) for _ in range(500)]
    assert all(10.0 <= d <= 40.0 for d in third) and len(set(third)) > 400
    late = [policy.delay(20, rng=rng) for _ in range(500)]
    assert all(10.0 <= d <= 300.0 for d in late) and max(late) > 250


def test_retry_after_is_a_floor():
    policy = RetryPolicy()
    assert policy.delay(1, retry_after=90.0) == 90.0
    assert policy.delay(1, retry_after=1.0) == 10.0


def test_window_gives_a_last_attempt_then_dead_letters():
    policy = RetryPolicy(base=10, cap=300, window=4 * 3600)
    start = 1_000.0
    assert policy.next_attempt(1, start, now=start) == start + 10
    near_end = start + 4 * 3600 - 5
    assert policy.next_attempt(9, start, now=near_end, rng=random.Random(1)) == start + 4 * 3600
    assert policy.next_attempt(10, start, now=start + 4 * 3600) is None
    assert policy.next_attempt(9, start, now=near_end, retry_after=60) is None
