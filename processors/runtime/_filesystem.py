"""Which filesystem holds the embedded store, and a warning where that makes every insert dearer.

Each insert writes a part, a directory of a dozen files, to every table it reaches, and merges
replace parts all the time. ext4 without a journal does not reuse an inode freed in the last
minute or so: to create a file it steps past every such one, each checked in turn. Measured on
such a disk, an insert with 3 KPIs took 4 to 6 times as long as on ext4 with a journal
(docs/benchmarks.md, "The store's filesystem"), so the roles that own the store say so when
they start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from schemas import Settings

from ..clickhouse import chdb_path

NO_JOURNAL = "ext4 without a journal"
WITH_JOURNAL = "ext4 with a journal"
_ESCAPE = re.compile(r"\\([0-7]{3})")  # /proc/mounts writes a space as \040, a backslash as \134


def filesystem(path: Path, mounts: str | None = None, journals: Iterable[str] | None = None) -> str:
    """The filesystem holding `path` (`tmpfs`, `xfs`, ...); for ext4, whether it has a journal.

    Read from this machine: /proc/mounts, then for ext4 the device's `journal_task` in sysfs
    (`<none>` without a journal), else the journals listed in /proc/fs/jbd2 (`vda-8`: one on vda).
    Plain `ext4` when neither can be read, `unknown` without /proc/mounts. Given `mounts` (its
    text) and `journals` (jbd2's names), as tests do, only those are read.
    """
    target = os.path.realpath(path)
    try:
        table = os.fsdecode(Path("/proc/mounts").read_bytes()) if mounts is None else mounts
    except OSError:
        return "unknown"
    point, kind, device = "", "unknown", ""
    for line in table.splitlines():
        fields = [_unescape(f) for f in line.split()]
        if len(fields) < 3:
            continue
        mounted = fields[1]
        inside = target == mounted or target.startswith(mounted.rstrip("/") + "/")
        if inside and len(mounted) >= len(point):  # the innermost mount wins
            point, kind, device = mounted, fields[2], fields[0]
    if kind != "ext4":
        return kind
    # the kernel's name of the device (vda, sda1, dm-0), which /dev/root or a missing
    # /dev/mapper link inside a container would not give
    name = (_block_device(target) if mounts is None else None) or Path(os.path.realpath(device)).name
    if journals is None:
        task = _read(Path("/sys/fs/ext4") / name / "journal_task")
        if task is not None:
            return NO_JOURNAL if task == "<none>" else WITH_JOURNAL
        try:
            journals = os.listdir("/proc/fs/jbd2")
        except OSError:
            return "ext4"
    journaled = any(j.rsplit("-", 1)[0] == name for j in journals)  # `<device>-<journal inode>`
    return WITH_JOURNAL if journaled else NO_JOURNAL


def slow_disk_warning(settings: Settings, where: str | None = None) -> str | None:
    """Lines for the start-up banner when the embedded store sits on ext4 without a journal.

    `where` is the filesystem, found from the store's directory when not given. Never raises: a
    note must not stop a role from starting.
    """
    if settings.clickhouse_url:
        return None  # a server's disks are its operator's (a chdb:// URL is not looked at either)
    try:
        found = where or filesystem(chdb_path(settings))
    except Exception:  # whatever the machine's /proc holds, the role starts
        return None
    if found != NO_JOURNAL:
        return None
    return (
        f"  Note        the store is on {NO_JOURNAL}, where each insert costs several times more\n"
        '              (README, "What the batch settings trade")'
    )


def _unescape(field: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def _block_device(target: str) -> str | None:
    """The kernel's name of the block device holding `target`, from its device number."""
    here = Path(target)
    while not here.exists() and here != here.parent:  # a directory not made yet: its parent's
        here = here.parent
    try:
        number = os.stat(here).st_dev
    except OSError:
        return None
    link = Path(f"/sys/dev/block/{os.major(number)}:{os.minor(number)}")
    return Path(os.path.realpath(link)).name if link.exists() else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeError):
        return None
