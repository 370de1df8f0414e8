"""Segment's own engine (pinned npm packages) driven from Python, for differential tests and benchmarks."""

from .client import NodeOracle, node_modules_dir

__all__ = ["NodeOracle", "node_modules_dir"]
