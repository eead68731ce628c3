"""The OKR freshness benchmark at a tiny size, so that it cannot rot unseen (its numbers are not judged).

The benchmark exits 1 unless every timed event was covered by a score and every key result was
scored past the last event that moves it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

N, F, SOME = r"[\d,]+", r"[\d.]+", r"[1-9][\d,]*"


def test_the_freshness_benchmark_scores_every_event(run_benchmark, tmp_path: Path) -> None:
    done = run_benchmark(
        "okr_freshness",
        *("--rates", "100", "--seconds", "2", "--warmup", "1", "--key-results", "5"),
        *("--drain-timeout", "60", "--work-dir", str(tmp_path)),
    )
    # rate, sent/s, timed events, scored events, p50, p99, max, p99 all KRs, unmatched, drained s, cores
    row = rf"^\| 100 \| {N} \| {SOME} \| {SOME} \| {N} \| {N} \| {N} \| {N} \| 0 \| {F} \| {F} \|$"
    assert re.search(row, done.stdout, re.M), done.stdout
    # ... landed, scorer began, published, received (p50 / p99), and the sink's inserts a second
    stages = rf"^\| 100 \| {N} / {N} \| {N} / {N} \| {N} / {N} \| {N} / {N} \| {N}\.\d \|$"
    assert re.search(stages, done.stdout, re.M), done.stdout
    # ... and the worker's store statements while the producer ran, the sink's inserts among them
    store = rf"^\| 100 \| InsertRawEvents \| {F} \| [\d,.]+ \| {F} \|$"
    assert re.search(store, done.stdout, re.M), done.stdout
