"""The KPI view-cost benchmark at a tiny size, so that it cannot rot unseen (its numbers are not judged).

The benchmark itself checks that both long layouts' states agree with the per-KPI views'.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_the_kpi_view_cost_benchmark_times_every_layout_and_checks_answers(
    run_benchmark, tmp_path: Path
) -> None:
    done = run_benchmark(
        "kpi_view_cost",
        *("--kpis", "3", "--rows", "20", "--inserts", "2", "--warmup", "1", "--work-dir", str(tmp_path)),
    )
    for layout in ("none", "views", "long", "long_index"):
        line = rf"^  {layout} +p50 +[\d.]+ ms  mean +[\d.]+ ms  floor/this +[\d.]+x$"
        assert re.search(line, done.stdout, re.M), done.stdout
    assert re.search(r"^  answers: views, long and long_index agree on all [\d,]+ rows", done.stdout, re.M), (
        done.stdout
    )
