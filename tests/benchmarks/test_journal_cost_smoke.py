"""The journal benchmark at a tiny size, so that it cannot rot unseen (its numbers are not judged)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_the_journal_benchmark_runs_and_reports_every_row() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.journal_cost", "--batches", "1,10", "--requests", "20"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^machine: .+, journal on \S", done.stdout, re.M), done.stdout
    for batch in (1, 10):
        assert re.search(rf"^\s+{batch}\s+floor\s+[\d.]+\s+[\d.]+\s+[\d,]+$", done.stdout, re.M), done.stdout
        assert re.search(rf"^\s+{batch}\s+journal\s+[\d.]+\s+[\d.]+\s+[\d,]+$", done.stdout, re.M), (
            done.stdout
        )
    assert len(re.findall(r"[\d.]+x events/s", done.stdout)) == 2
    assert len(re.findall(r"the journal's own work: [\d,]+ us per request", done.stdout)) == 2
