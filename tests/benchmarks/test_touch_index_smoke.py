"""The touch index benchmark at a tiny size, so that it cannot rot unseen (its numbers are not judged)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def test_the_touch_index_benchmark_touches_key_results(run_benchmark) -> None:
    done = run_benchmark("touch_index", "--key-results", "10", "--block", "50", "--blocks", "5")
    line = (
        r"^10 key results, 5 blocks of 50 events: median [\d.]+ us per event \([\d.]+ ms per block\),"
        r" [1-9]\d* touches per block$"  # none would mean the run fell outside the objectives' period
    )
    assert re.search(line, done.stdout, re.M), done.stdout
