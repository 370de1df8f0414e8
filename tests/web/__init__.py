"""Tests of the 1Flow web plugin: its evaluators against Segment's reference, its lifecycle, its build."""
