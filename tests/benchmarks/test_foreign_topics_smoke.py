"""The foreign-topics benchmark at a tiny size: every format lands every event and gets a ratio."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def foreign_topics(
    run_benchmark, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    work: Path = tmp_path_factory.mktemp("foreign_topics")
    return run_benchmark(
        "foreign_topics",
        *("--events", "600", "--runs", "1", "--session-timeout", "2", "--work-dir", str(work)),
        timeout=900,
    )


@pytest.mark.parametrize("contestant", ["own", "json", "cloudevents", "debezium"])
def test_every_format_lands_every_event_and_gets_a_ratio(
    foreign_topics: subprocess.CompletedProcess[str], contestant: str
) -> None:
    out = foreign_topics.stdout
    assert re.search(rf"^run 1 {contestant} +[\d,]+ events/s  \([\d.]+s timed", out, re.M), out
    row = rf"^\| {contestant} \| [\d,]+ \| [\d,]+ - [\d,]+ \| ([\d.]+) \| [\d.]+ - [\d.]+ \|$"
    match = re.search(row, out, re.M)
    assert match, out
    if contestant == "own":
        assert match.group(1) == "1.00"  # the floor is its own unit
    else:
        assert float(match.group(1)) > 0
