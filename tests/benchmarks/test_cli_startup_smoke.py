"""The CLI start-up benchmark at a tiny size, so that it cannot rot unseen (its numbers are not judged)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

MS = r"[\d,]+"


def test_the_cli_startup_benchmark_times_each_command(run_benchmark) -> None:
    done = run_benchmark("cli_startup", "--repeats", "1")
    for command in (
        "okrstream --help",
        "okrstream kpi list, answered by the running process",
        "okrstream kpi list, opening the store itself",
    ):
        row = rf"^\| {re.escape(command)} \| {MS} \| {MS} \| {MS} \| [\d,.]+x \|$"
        assert re.search(row, done.stdout, re.M), done.stdout
