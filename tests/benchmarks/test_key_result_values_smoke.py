"""The scorer's read benchmark at a tiny size, so that it cannot rot unseen (its numbers are not judged)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def test_the_key_result_values_benchmark_times_both_reads(run_benchmark) -> None:
    done = run_benchmark("key_result_values", "--events", "1000", "--reads", "2")
    assert re.search(r"^machine: .+, store on \S", done.stdout, re.M), done.stdout
    assert re.search(r"^1,000 events, 50 key results over 3 KPIs", done.stdout, re.M), done.stdout
    for label in ("rollups", "as of now"):
        line = rf"^{label}: \d+ UNION branches, median [\d.]+ ms, min [\d.]+, max [\d.]+$"
        assert re.search(line, done.stdout, re.M), done.stdout
