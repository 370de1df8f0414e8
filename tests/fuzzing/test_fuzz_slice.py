"""20,000 of `make fuzz`'s generated requests through the whole ASGI app: no answer ≥ 500, no exception out of the
app, every refusal JSON with a code, memory flat, and every kind of answer reached (so the generator still gets
past routing, auth, CORS, sizes, encodings, body timeouts and rate limits)."""

from __future__ import annotations

import logging

from tests.fuzzing.run import run

SLICE = 20_000
RSS_GROWTH_BOUND = 48 * 1024 * 1024
"""After the first tenth, RSS may grow by caches filling (SQLite's pages), not by the number of requests."""


def test_a_slice_of_the_fuzz_run_never_crashes_or_answers_5xx(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        report = run(SLICE, seed=1, directory=tmp_path)
    print(report.render())
    assert report.failures == {}, report.render()
    assert report.requests == SLICE
    assert not [s for s in report.statuses if s.isdigit() and int(s) >= 500]
    assert {"200", "204", "400", "401", "403", "404", "405", "408", "413", "415", "429", "no answer"} <= set(
        report.statuses
    )
    assert report.rss_growth < RSS_GROWTH_BOUND, report.render()
    assert caplog.records == []  # nothing logged as an error: no unhandled exception anywhere
