"""The KPI read-latency benchmark at tiny sizes, so that it cannot rot unseen (its numbers are not judged).

The benchmark itself checks that the rollup and the raw scan agree on every day of the quarter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_the_kpi_query_benchmark_reports_every_size(run_benchmark, tmp_path: Path) -> None:
    done = run_benchmark(
        "kpi_queries", *("--sizes", "5000,20000", "--repeats", "2", "--work-dir", str(tmp_path))
    )
    applied = r"^  applied revenue over 5,000 events \(backfill included\) in [\d.]+s$"
    assert re.search(applied, done.stdout, re.M), done.stdout
    for size in ("5,000", "20,000"):
        line = rf"^ +{size} +[\d.]+ +[\d.]+ / +[\d.]+ +[\d.]+ / +[\d.]+ +[\d.]+x$"
        assert re.search(line, done.stdout, re.M), done.stdout
    storage = (
        r"^ +bytes per million events: raw_events [\d,]+, revenue's minute rollup [\d,]+,"
        r" its hourly level [\d,]+ \(read from the hourly level\)$"
    )
    assert len(re.findall(storage, done.stdout, re.M)) == 2, done.stdout


def test_with_every_aggregation_it_sizes_each_kpi(run_benchmark, tmp_path: Path) -> None:
    done = run_benchmark(
        "kpi_queries",
        *("--sizes", "5000", "--repeats", "2", "--work-dir", str(tmp_path), "--every-aggregation"),
    )
    sized = re.findall(
        r"^ +bytes per million events: (\w+) \(([\w, ]+)\) minute rollup [\d,]+, hourly level [\d,]+$",
        done.stdout,
        re.M,
    )
    kinds = {kind for _, kind in sized}
    every = {
        "count",
        "avg",
        "min",
        "max",
        "quantile",
        "count_distinct",
        "count_distinct, approximate",
        "latest",
    }
    assert every <= kinds, done.stdout
    assert len(sized) == len({name for name, _ in sized}) == 9, done.stdout
