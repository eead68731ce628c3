"""The end-to-end throughput benchmark at a tiny size, every contestant, so that none rots unseen.

One run of 2,000 events (its numbers are not judged): each contestant must land every event and
appear in the table with a rate. Quix Streams is optional; without it the benchmark skips `quix`
and says so, and so does its test here.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONTESTANTS = ("okrstream", "floor", "floor-records", "quix")
CONTESTANTS += ("okrstream+10kpis", "okrstream+50kpis", "okrstream+200kpis")
N, F = r"[\d,]+", r"[\d.]+"
QUIX_MISSING = "quixstreams is not installed: skipping the quix contestant"


@pytest.fixture(scope="module")
def end_to_end(run_benchmark, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    work: Path = tmp_path_factory.mktemp("end_to_end")
    return run_benchmark(
        "end_to_end",
        *("--events", "2000", "--runs", "1", "--contestants", ",".join(CONTESTANTS)),
        *("--session-timeout", "2", "--timeout", "180", "--work-dir", str(work)),
        timeout=900,
    )


@pytest.mark.parametrize("contestant", CONTESTANTS)
def test_every_contestant_lands_every_event_and_gets_a_rate(
    end_to_end: subprocess.CompletedProcess[str], contestant: str
) -> None:
    if contestant == "quix" and importlib.util.find_spec("quixstreams") is None:
        assert QUIX_MISSING in end_to_end.stderr, end_to_end.stderr[-3000:]
        pytest.skip(f"{QUIX_MISSING} (`pip install quixstreams` runs it; see benchmarks/README.md)")
    name = re.escape(contestant)
    assert re.search(rf"^  {name} +[\d,]+ events/s  \([\d.]+s timed", end_to_end.stdout, re.M), (
        end_to_end.stdout
    )
    # events/s, min - max, timed s, startup s, load 1m, CPUs busy before
    row = rf"^\| {name} \| {N} \| {N} - {N} \| {F} \| {F} \| {F} - {F} \| {F} - {F} \|$"
    assert re.search(row, end_to_end.stdout, re.M), end_to_end.stdout
    assert "INCOMPLETE" not in end_to_end.stdout


def test_producing_is_reported(end_to_end: subprocess.CompletedProcess[str]) -> None:
    assert re.search(
        r"^producing \(not timed above\), median: JSON topic [\d,]+ events/s;"
        r" okrstream ingest \(validation, process start included\) [\d,]+ events/s$",
        end_to_end.stdout,
        re.M,
    ), end_to_end.stdout
