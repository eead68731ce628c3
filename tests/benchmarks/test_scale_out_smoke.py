"""The scale-out benchmark at a tiny size, so that it cannot rot unseen.

One run of 3,000 events (its numbers are not judged): the floor and 1, 2 and 3 workers must each
land every event once into their own database of one `okrstream store`, and appear in the table
with a rate and their ratios to the floor and to one worker.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

N, F = r"[\d,]+", r"[\d.]+"
CONTESTANTS = ("floor", "1 worker", "2 workers", "3 workers")


@pytest.fixture(scope="module")
def scale_out(run_benchmark, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    work: Path = tmp_path_factory.mktemp("scale_out")
    return run_benchmark(
        "scale_out",
        *("--events", "3000", "--runs", "1", "--workers", "1,2,3", "--session-timeout", "2"),
        *("--timeout", "240", "--work-dir", str(work)),
        timeout=900,
    )


@pytest.mark.parametrize("contestant", CONTESTANTS)
def test_every_contestant_lands_every_event_and_gets_a_rate(
    scale_out: subprocess.CompletedProcess[str], contestant: str
) -> None:
    name = re.escape(contestant)
    assert re.search(rf"^  {name} +{N} events/s  \({F}s timed, {N} landed before", scale_out.stdout, re.M), (
        scale_out.stdout
    )
    # events/s, min - max, x floor, x 1 worker, landed before the clock, CPUs used by the store and the
    # workers (none for the floor), load 1m, CPUs busy before
    used = r"- \| -" if contestant == "floor" else rf"{F} \| {F}"
    row = rf"^\| {name} \| {N} \| {N} - {N} \| {F} \| {F} \| {N} \| {used} \| {F} - {F} \| {F} - {F} \|$"
    assert re.search(row, scale_out.stdout, re.M), scale_out.stdout
    assert "INCOMPLETE" not in scale_out.stdout
