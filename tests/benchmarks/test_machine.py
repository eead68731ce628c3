"""Every benchmark result names the filesystem its store was on (see tests/processors/test_filesystem.py)."""

from __future__ import annotations

from pathlib import Path

from benchmarks._machine import machine
from processors.runtime import filesystem


def test_the_machine_line_names_the_stores_filesystem(tmp_path: Path) -> None:
    line = machine(tmp_path)
    assert line.startswith(machine() + ", store on ")
    assert line.removeprefix(machine() + ", store on ") == filesystem(tmp_path)
