"""The file import benchmark at a tiny size, so that it cannot rot unseen (its numbers are not judged)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

N, F = r"[\d,]+", r"[\d.]+"


def test_the_file_ingest_benchmark_reports_every_run_and_the_median_ratio(run_benchmark, tmp_path) -> None:
    done = run_benchmark("file_ingest", "--events", "300", "--runs", "2", "--work-dir", str(tmp_path))
    assert re.search(rf"^  okrstream ingest of one line \(start-up\): {F} s$", done.stdout, re.M), done.stdout
    for run in (1, 2):
        # producer events/s, okrstream ingest events/s, ratio, CPUs busy before
        row = rf"^\| {run} \| {N} \| {N} \| {F} \| {F} \|$"
        assert re.search(row, done.stdout, re.M), done.stdout
    assert re.search(rf"^median ratio {F} .*: {F}$", done.stdout, re.M), done.stdout
