"""Benchmarks run as their README shows them: `python -m benchmarks.NAME` from the repository's root."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run benchmarks.`module` with `args`; fail with its output's tail unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"benchmarks.{module} exited with {done.returncode}\n"
        f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="session")
def run_benchmark() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_benchmark("kpi_queries", "--sizes", "5000")`: the finished run, exit code 0 checked."""
    return _run
