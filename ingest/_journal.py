"""The journal: what makes an acknowledgement durable when the broker keeps its log in memory.

The embedded broker forgets its log when it stops, so on that configuration every writer of the
raw log (the HTTP API, `okrstream ingest`, the demo) first appends each log record to a segment
file of its own in `<data dir>/journal/`, then sends it, and reports success only after both.
A record in a segment's file survives `kill -9` of any process (the kernel holds it); on power
loss, the last seconds may be lost, as with the store's own files.

Segments are named `<incarnation>.<pid>.<seq>.open` and renamed `.sealed` once every record
written to them has been acknowledged or refused. The incarnation names one run of the embedded
broker. The supervisor of `okrstream run` (see `processors`) keeps the journal short:
- a sealed segment of the current incarnation is deleted once the sink's committed offsets
  pass the log's end offsets taken after it was sealed (so everything in it has landed);
- a segment of an earlier incarnation (the broker restarted), or an open one whose writer is
  dead, is adopted: its records are journaled and sent again to the current broker, then the
  file is deleted. A copy of an event that already landed is dropped by the sink, as any resend.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_FRAME = struct.Struct(">IIH")  # payload length, CRC32 of partition + payload, partition
OPEN, SEALED = ".open", ".sealed"


@dataclass(frozen=True)
class Segment:
    """One segment file, as its name describes it."""

    path: Path
    incarnation: str
    pid: int
    sealed: bool

    @classmethod
    def parse(cls, path: Path) -> Segment | None:
        """None for a file that is not a segment (a stray file is left alone)."""
        if path.suffix not in (OPEN, SEALED):
            return None
        parts = path.stem.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return cls(path, parts[0], int(parts[1]), path.suffix == SEALED)

    def records(self) -> Iterator[tuple[int, bytes]]:
        """(partition, record) of every whole frame; a torn last frame (a crash mid-write) ends it.

        A torn frame was never sent, so it was never acknowledged.
        """
        data = self.path.read_bytes()
        at = 0
        while at + _FRAME.size <= len(data):
            length, crc, partition = _FRAME.unpack_from(data, at)
            start, end = at + _FRAME.size, at + _FRAME.size + length
            if end > len(data):
                return
            payload = data[start:end]
            if zlib.crc32(payload, zlib.crc32(partition.to_bytes(2, "big"))) != crc:
                return
            yield partition, payload
            at = end


def segments(directory: Path) -> list[Segment]:
    """The journal's segments, oldest first within each writer."""
    if not directory.is_dir():
        return []
    found = (Segment.parse(p) for p in sorted(directory.iterdir()))
    return [s for s in found if s is not None]


def frame(partition: int, record: bytes) -> bytes:
    crc = zlib.crc32(record, zlib.crc32(partition.to_bytes(2, "big")))
    return _FRAME.pack(len(record), crc, partition) + record


class Journal:
    """One writer's segments. Thread-safe: the HTTP API appends from its event loop, while
    acknowledgements arrive on the producer's thread.

    Use: `ticket = journal.write(records)` before sending them, then `journal.done(ticket)` once
    the broker acknowledged or refused each of them (refused records were never reported
    accepted, so nothing depends on them).
    """

    def __init__(
        self, directory: Path, incarnation: str, rotate_bytes: int = 64 << 20, rotate_s: float = 5.0
    ) -> None:
        self.directory = directory
        self.incarnation = incarnation
        self._rotate_bytes = rotate_bytes
        self._rotate_s = rotate_s
        self._lock = threading.Lock()
        self._seq = 0
        self._pending: dict[Path, int] = {}  # records written, not yet acknowledged or refused
        self._retired: set[Path] = set()  # rotated away: sealed as soon as nothing is pending
        self._torn = False  # a torn frame that could not be cut off ends the current segment
        directory.mkdir(parents=True, exist_ok=True)
        self._fd, self._path, self._opened, self._size = self._open()
        self._closed = threading.Event()
        # a writer that falls quiet still gets its last records sealed, and so trimmed
        threading.Thread(target=self._rotate_while_idle, name="journal-rotation", daemon=True).start()

    def _rotate_while_idle(self) -> None:
        while not self._closed.wait(self._rotate_s):
            with self._lock:
                if self._fd >= 0 and self._size and time.monotonic() - self._opened >= self._rotate_s:
                    self._rotate()

    def _open(self) -> tuple[int, Path, float, int]:
        self._seq = max(self._seq + 1, time.time_ns())  # unique across this process's journals too
        path = self.directory / f"{self.incarnation}.{os.getpid()}.{self._seq}{OPEN}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._pending[path] = 0
        return fd, path, time.monotonic(), 0

    def write(self, records: list[tuple[int, bytes]]) -> Path:
        """Append (partition, record) pairs in one write; returns the ticket for `done`."""
        data = b"".join(frame(partition, record) for partition, record in records)
        with self._lock:
            if self._torn or (
                self._size
                and (self._size >= self._rotate_bytes or time.monotonic() - self._opened >= self._rotate_s)
            ):
                self._rotate()
            elif self._fd < 0 and not self._closed.is_set():  # a rotation could not open the next one
                self._fd, self._path, self._opened, self._size = self._open()
            written = 0
            try:
                while written < len(data):  # a regular file takes it whole; loop for the rule's sake
                    written += os.write(self._fd, data[written:])
            except OSError:
                # a full disk can take part of a frame: cut it off, or a retry's frames would sit
                # behind a torn one, which ends what `Segment.records` reads
                if written:
                    self._cut_torn_frame()
                raise
            self._size += len(data)
            self._pending[self._path] += 1
            return self._path

    def _cut_torn_frame(self) -> None:
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:  # the file cannot even shrink: the next write starts a segment of its own
            self._torn = True

    def done(self, ticket: Path) -> None:
        with self._lock:
            self._pending[ticket] -= 1
            if ticket in self._retired and self._pending[ticket] == 0:
                self._seal(ticket)

    def _rotate(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd, self._torn = -1, False
            self._retired.add(self._path)
            if self._pending[self._path] == 0:
                self._seal(self._path)
        self._fd, self._path, self._opened, self._size = self._open()

    def _seal(self, path: Path) -> None:
        self._retired.discard(path)
        del self._pending[path]
        if path.stat().st_size == 0:
            path.unlink()
        else:
            os.replace(path, path.with_suffix(SEALED))

    def close(self) -> None:
        """Seal what can be sealed; a segment with records still pending stays open (adopted later)."""
        self._closed.set()
        with self._lock:
            if self._fd < 0:
                return
            os.close(self._fd)
            self._fd = -1
            self._retired.add(self._path)
            for path in [p for p in self._retired if self._pending[p] == 0]:
                self._seal(path)
