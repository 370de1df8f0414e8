"""Reusable test helpers (sandbox fixtures, CLI runners) for every issue's tests."""
