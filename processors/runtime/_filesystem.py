"""Which filesystem holds the embedded store, and a warning where that makes every insert dearer.

Each insert writes a part, a directory of 12 files, to every table it reaches, and merges replace
parts all the time. ext4 without a journal does not reuse an inode freed in the last minute or so,
and checks every free one in turn before it creates a file. Measured on such a disk, an insert with
3 KPIs took 4 - 5 times as long as on ext4 with a journal (docs/benchmarks.md, "The store's
filesystem"), so the roles that own the store say so when they start.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from schemas import Settings

from ..clickhouse import chdb_path

NO_JOURNAL = "ext4 without a journal"


def filesystem(path: Path, mounts: str | None = None, journals: Iterable[str] | None = None) -> str:
    """The filesystem holding `path` (`tmpfs`, `xfs`, ...); for ext4, whether it has a journal.

    `mounts` is /proc/mounts' text and `journals` the names under /proc/fs/jbd2 (`vda-8`: a journal
    on /dev/vda), both read from this machine when not given; `unknown` where they cannot be read.
    """
    target = os.path.realpath(path)
    try:
        text = Path("/proc/mounts").read_text() if mounts is None else mounts
    except OSError:
        return "unknown"
    point, kind, device = "", "unknown", ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mounted = fields[1].replace("\\040", " ")
        inside = target == mounted or target.startswith(mounted.rstrip("/") + "/")
        if inside and len(mounted) >= len(point):  # the innermost mount wins
            point, kind, device = mounted, fields[2], fields[0]
    if kind != "ext4":
        return kind
    if journals is None:
        jbd2 = Path("/proc/fs/jbd2")
        journals = [p.name for p in jbd2.iterdir()] if jbd2.is_dir() else []
    name = Path(os.path.realpath(device)).name  # /dev/mapper/x -> dm-0, as jbd2 names it
    journaled = any(j.rsplit("-", 1)[0] == name for j in journals)
    return "ext4 with a journal" if journaled else NO_JOURNAL


def slow_disk_warning(settings: Settings, where: str | None = None) -> str | None:
    """A line for the start-up banner when the embedded store sits on ext4 without a journal.

    `where` is the filesystem, found from the store's directory when not given.
    """
    if settings.clickhouse_url:
        return None  # a server's disks are its operator's
    if (where or filesystem(chdb_path(settings))) != NO_JOURNAL:
        return None
    return (
        f"  Note        the store is on {NO_JOURNAL}, where each insert costs several times more\n"
        '              (README, "What the batch settings trade")'
    )
