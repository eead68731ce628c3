"""The journal's files: what a writer leaves behind is what a reader gets back, torn tails excluded."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ingest import Journal, Segment, segments


def test_records_come_back_in_order_with_their_partitions(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "inc1")
    first = journal.write([(0, b"a"), (3, b"bb")])
    second = journal.write([(1, b"")])
    [segment] = segments(tmp_path)
    assert (segment.incarnation, segment.pid, segment.sealed) == ("inc1", os.getpid(), False)
    assert list(segment.records()) == [(0, b"a"), (3, b"bb"), (1, b"")]
    assert first == second  # one segment until it rotates


def test_a_segment_is_sealed_once_rotated_and_nothing_is_pending(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "inc1", rotate_bytes=1)
    ticket = journal.write([(0, b"one")])
    journal.write([(0, b"two")])  # rotates: the first segment still waits for its acknowledgement
    assert [s.sealed for s in segments(tmp_path)] == [False, False]
    journal.done(ticket)
    assert [s.sealed for s in segments(tmp_path)] == [True, False]
    assert list(segments(tmp_path)[0].records()) == [(0, b"one")]


def test_close_seals_what_is_acknowledged_and_leaves_the_rest_open(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "inc1")
    journal.write([(2, b"in flight")])
    journal.close()
    [segment] = segments(tmp_path)
    assert not segment.sealed  # adopted by the supervisor once this process is gone

    done = Journal(tmp_path / "other", "inc1")
    done.done(done.write([(2, b"acknowledged")]))
    done.close()
    assert [s.sealed for s in segments(tmp_path / "other")] == [True]


def test_an_empty_segment_leaves_no_file(tmp_path: Path) -> None:
    Journal(tmp_path, "inc1").close()
    assert list(tmp_path.iterdir()) == []


def test_a_torn_or_corrupt_tail_ends_the_segment(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "inc1")
    journal.write([(0, b"whole"), (1, b"also whole")])
    [segment] = segments(tmp_path)
    data = segment.path.read_bytes()
    with segment.path.open("ab") as f:  # a crash in the middle of a write
        f.write(data[:12])
    assert list(segment.records()) == [(0, b"whole"), (1, b"also whole")]

    flipped = bytearray(data)
    flipped[-1] ^= 0xFF  # the last record's last byte
    segment.path.write_bytes(bytes(flipped))
    assert list(segment.records()) == [(0, b"whole")]


def test_journals_of_one_process_never_share_a_file(tmp_path: Path) -> None:
    names = set()
    for _ in range(3):
        journal = Journal(tmp_path, "inc1")
        journal.done(journal.write([(0, b"x")]))
        journal.close()
        names |= {s.path.name for s in segments(tmp_path)}
    assert len(names) == 3 and len(segments(tmp_path)) == 3


def test_files_that_are_not_segments_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "a.b.open").write_text("x")  # a pid that is not a number
    assert segments(tmp_path) == []
    assert Segment.parse(tmp_path / "inc.12.34.sealed") == Segment(
        tmp_path / "inc.12.34.sealed", "inc", 12, True
    )


def test_a_quiet_writer_still_gets_its_segment_sealed(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "inc1", rotate_s=0.05)
    journal.done(journal.write([(0, b"last words")]))
    deadline = time.monotonic() + 30
    while not any(s.sealed for s in segments(tmp_path)):  # sealed by the writer's own rotation
        assert time.monotonic() < deadline, "the quiet segment was never sealed"
        time.sleep(0.01)
    assert [list(s.records()) for s in segments(tmp_path) if s.sealed] == [[(0, b"last words")]]
    journal.close()


class DiskFillsUp:
    """os.write on a disk that takes `room` more bytes of the journal's, then refuses the rest."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.real = os.write

    def __call__(self, fd: int, data: bytes) -> int:
        if self.room <= 0:
            raise OSError(28, "No space left on device")
        taken = self.real(fd, data[: self.room])
        self.room -= taken
        return taken


def cannot_shrink(fd: int, size: int) -> None:
    raise OSError(5, "Input/output error")


def test_a_frame_torn_by_a_full_disk_is_cut_off_so_the_retry_reads_back(tmp_path: Path, monkeypatch) -> None:
    journal = Journal(tmp_path, "inc1")
    journal.write([(0, b"before")])
    monkeypatch.setattr(os, "write", DiskFillsUp(room=5))  # half a frame's header
    with pytest.raises(OSError):
        journal.write([(1, b"refused")])
    monkeypatch.undo()  # room again: the client retries, as the 503 told it to
    journal.write([(1, b"retried")])
    assert [r for s in segments(tmp_path) for r in s.records()] == [(0, b"before"), (1, b"retried")]


def test_a_torn_frame_that_cannot_be_cut_off_ends_its_segment(tmp_path: Path, monkeypatch) -> None:
    journal = Journal(tmp_path, "inc1")
    journal.write([(0, b"before")])
    monkeypatch.setattr(os, "write", DiskFillsUp(room=5))
    monkeypatch.setattr(os, "ftruncate", cannot_shrink)
    with pytest.raises(OSError):
        journal.write([(1, b"refused")])
    monkeypatch.undo()
    journal.write([(1, b"retried")])
    assert len(segments(tmp_path)) == 2  # the retry went to a segment of its own
    assert [r for s in segments(tmp_path) for r in s.records()] == [(0, b"before"), (1, b"retried")]
