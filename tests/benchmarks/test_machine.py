"""Every result names the filesystem its store was on: ext4 without a journal makes each part dearer."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks._machine import filesystem, machine

MOUNTS = """\
/dev/vda / ext4 rw,relatime,discard 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
/dev/loop0 /mnt/j ext4 rw,relatime 0 0
/dev/sdb1 /mnt/with\\040space xfs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "journals", "expected"),
    [
        ("/tmp/store", [], "ext4 without a journal"),
        ("/tmp/store", ["loop0-8"], "ext4 without a journal"),  # another device's journal
        ("/mnt/j/store", ["loop0-8"], "ext4 with a journal"),
        ("/mnt/j", ["loop0-8"], "ext4 with a journal"),  # the mount point itself
        ("/mnt/jj/store", ["loop0-8"], "ext4 without a journal"),  # not under /mnt/j
        ("/dev/shm/store", [], "tmpfs"),  # the innermost mount wins over /
        ("/mnt/with space/store", [], "xfs"),  # /proc/mounts escapes a space as \040
    ],
)
def test_the_filesystem_of_a_path(path: str, journals: list[str], expected: str) -> None:
    assert filesystem(Path(path), mounts=MOUNTS, journals=journals) == expected


def test_a_path_outside_every_mount_is_unknown() -> None:
    assert filesystem(Path("/srv/store"), mounts="tmpfs /dev/shm tmpfs rw 0 0\n", journals=[]) == "unknown"


def test_the_machine_line_names_the_stores_filesystem(tmp_path: Path) -> None:
    line = machine(tmp_path)
    assert line.startswith(machine() + ", store on ")
    assert line.removeprefix(machine() + ", store on ") == filesystem(tmp_path)
