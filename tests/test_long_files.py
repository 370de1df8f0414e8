"""The run's order (tests/conftest.py LONG_FILES) names files that exist: a renamed file would silently run last."""

from __future__ import annotations

from tests.conftest import LONG_FILES, ROOT


def test_every_long_file_named_for_the_run_order_exists():
    assert [name for name in LONG_FILES if not (ROOT / name).is_file()] == []
