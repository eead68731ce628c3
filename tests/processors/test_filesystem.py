"""The store's filesystem: named in every benchmark's result, and a note at start-up on ext4 without a
journal, where each part a store writes costs several times more."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.runtime import _filesystem, filesystem
from processors.runtime._filesystem import slow_disk_warning
from schemas import Settings

MOUNTS = """\
/dev/vda / ext4 rw,relatime,discard 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
/dev/loop0 /mnt/j ext4 rw,relatime 0 0
/dev/sdb1 /mnt/with\\040space xfs rw 0 0
/dev/sdc1 /mnt/back\\134slash btrfs rw 0 0
/dev/mapper/vg-data /srv/data ext4 rw 0 0
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
        ("/mnt/back\\slash/store", [], "btrfs"),  # and a backslash as \134
        ("/srv/data/store", ["vg-data-8"], "ext4 with a journal"),  # named as the table names it
        ("/srv/data/store", ["vg-data-1-8"], "ext4 without a journal"),  # another device's
    ],
)
def test_the_filesystem_of_a_path(path: str, journals: list[str], expected: str) -> None:
    assert filesystem(Path(path), mounts=MOUNTS, journals=journals) == expected


def test_a_path_outside_every_mount_is_unknown() -> None:
    assert filesystem(Path("/srv/store"), mounts="tmpfs /dev/shm tmpfs rw 0 0\n", journals=[]) == "unknown"


def test_this_machines_answer_names_the_kind_in_proc_mounts(tmp_path: Path) -> None:
    kinds = {line.split()[2] for line in Path("/proc/mounts").read_text().splitlines()}
    answer = filesystem(tmp_path)
    assert answer.split()[0] in kinds, answer


def test_the_note_is_for_an_embedded_store_on_ext4_without_a_journal(tmp_path: Path) -> None:
    embedded = Settings(data_dir=tmp_path)
    note = slow_disk_warning(embedded, where="ext4 without a journal")
    assert note is not None and "ext4 without a journal" in note and "What the batch settings trade" in note
    assert slow_disk_warning(embedded, where="ext4 with a journal") is None
    assert slow_disk_warning(embedded, where="tmpfs") is None
    server = Settings(data_dir=tmp_path, clickhouse_url="http://localhost:8123")
    assert slow_disk_warning(server, where="ext4 without a journal") is None  # a server's disks


def test_the_note_never_stops_a_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable(path: Path) -> str:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "a mount point that is not UTF-8")

    monkeypatch.setattr(_filesystem, "filesystem", unreadable)
    assert slow_disk_warning(Settings(data_dir=tmp_path)) is None
