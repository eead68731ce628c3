"""The store's filesystem: named in every benchmark's result, and a note at start-up on ext4 without a
journal, where each part a store writes costs several times more."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.runtime import filesystem
from processors.runtime._filesystem import slow_disk_warning
from schemas import Settings

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


def test_this_machines_answer_is_one_of_the_kinds(tmp_path: Path) -> None:
    assert filesystem(tmp_path) != "", "read from /proc/mounts: never empty"


def test_the_note_is_for_an_embedded_store_on_ext4_without_a_journal(tmp_path: Path) -> None:
    embedded = Settings(data_dir=tmp_path)
    note = slow_disk_warning(embedded, where="ext4 without a journal")
    assert note is not None and "ext4 without a journal" in note and "What the batch settings trade" in note
    assert slow_disk_warning(embedded, where="ext4 with a journal") is None
    assert slow_disk_warning(embedded, where="tmpfs") is None
    server = Settings(data_dir=tmp_path, clickhouse_url="http://localhost:8123")
    assert slow_disk_warning(server, where="ext4 without a journal") is None  # a server's disks
