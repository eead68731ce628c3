"""Every benchmark module has a smoke run here: a benchmark nobody runs rots unseen."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_benchmark_module_has_a_smoke_test() -> None:
    modules = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if not p.stem.startswith("_"))
    assert modules, "no benchmark modules found"
    missing = [m for m in modules if not (REPO / "tests" / "benchmarks" / f"test_{m}_smoke.py").exists()]
    assert not missing, f"benchmarks without tests/benchmarks/test_<name>_smoke.py: {missing}"
