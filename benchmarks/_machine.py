"""What every benchmark writes down about where it ran: the machine, the load, versions, the commit."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from processors.runtime import filesystem

REPO = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


def busy_cpus(seconds: float = 1.0) -> float:
    """How many CPUs were busy (not idle, not waiting on I/O) over the next `seconds`: others' load."""

    def snapshot() -> tuple[int, int]:
        ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]

    total0, idle0 = snapshot()
    time.sleep(seconds)
    total1, idle1 = snapshot()
    total = max(total1 - total0, 1)
    return (os.cpu_count() or 1) * (total - (idle1 - idle0)) / total


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0 when it is unknown or gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of stat


def tree_cpu_seconds(pid: int | None) -> float:
    """CPU seconds of a process and its live descendants: `okrstream run` works in a child process."""
    if pid is None:
        return 0.0
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # field 4 of stat
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo += children.get(current, [])
    return total


def machine(store: Path | None = None) -> str:
    """`2 CPUs (model), Python 3.11.7, Linux`; given a store's directory, `, store on tmpfs` (say)."""
    python, system = platform.python_version(), platform.system()
    described = f"{os.cpu_count()} CPUs ({_cpu_model()}), Python {python}, {system}"
    return described if store is None else f"{described}, store on {filesystem(store)}"


def _cpu_model() -> str:
    return next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )


def versions(packages: Iterable[str]) -> str:
    """`name version` of each package, comma-separated ("not installed" for a missing one)."""
    return ", ".join(f"{p} {_version(p)}" for p in packages)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def commit() -> str:
    """The checkout's commit as `git describe` names it ("-dirty" with uncommitted changes)."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return described.stdout.strip() or "unknown"
