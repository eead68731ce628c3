"""Forget the insert tokens an embedded store remembers for parts that never landed.

A table with `non_replicated_deduplication_window` drops a block whose insert token it has
seen. It appends the token to its deduplication log and only then moves the new part into
place, so a process killed between the two leaves the token without its part: the replay
that should land the block is dropped as a duplicate, and the block is lost for good. In
embedded mode the process killed is the store itself, and any table of an insert's chain can
be caught so: raw_events, or a KPI rollup a view writes after it (then raw_events is right and
the KPI is short).

So before chDB loads the data dir, each table's log is read, and a token whose part is on disk
neither as itself nor inside a part merged or mutated from it is forgotten, with the DROP
record ClickHouse itself writes when a part is dropped. The next replay then lands the block
in each table that lacks it, and is dropped where it landed. (A replicated table commits a
token with its part, in Keeper, and has no such gap.) It is done only while the store's
`status` file, which chDB locks while it has the store open, can be locked: never under a live
owner, whose tokens may be a moment ahead of their parts.

A log whose last line was cut (a torn write) would have ClickHouse append the next record to that
line, and stop reading the log there at the next start: such a log gets a new one after it.

Parts that okrstream never makes (ATTACH or REPLACE PARTITION, ATTACH PART, RESTORE) take new
block numbers, and their tokens would be forgotten as lost: do not bring parts in so by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_LOG_NAME = re.compile(r"deduplication_log_(\d+)\.txt")
_ADD, _DROP = "1", "2"


@dataclass(frozen=True)
class PartRange:
    """What a part name says of the blocks a part holds: a partition and a block number range."""

    partition: str
    first_block: int
    last_block: int

    @classmethod
    def parse(cls, name: str) -> PartRange | None:
        """`<partition>_<min>_<max>_<level>[_<mutation>]`, else None (tmp_, detached, files)."""
        fields = name.split("_")
        if len(fields) not in (4, 5) or not all(f.isdigit() for f in fields[1:]):
            return None
        return cls(fields[0], int(fields[1]), int(fields[2]))

    def covers(self, other: PartRange) -> bool:
        return (
            self.partition == other.partition
            and self.first_block <= other.first_block
            and other.last_block <= self.last_block
        )


@dataclass(frozen=True)
class LostToken:
    """A token a table remembered for a part that is not on disk: forgotten."""

    table: str  # the table's name, or its directory's when the name is not found
    part: str
    token: str


def forget_lost_tokens(chdb_dir: Path) -> list[LostToken] | None:
    """In each table of a chDB data dir, forget the tokens of lost parts; None if it is open elsewhere."""
    with _closed(chdb_dir) as closed:
        if not closed:
            return None
        names = _table_names(chdb_dir)
        lost: list[LostToken] = []
        for logs in sorted(chdb_dir.glob("store/*/*/deduplication_logs")):
            table_dir = logs.parent
            found = _lost_in(table_dir, logs)
            if found or _ends_cut(logs):
                _new_log(logs, found)
                lost += [LostToken(names.get(table_dir.name, table_dir.name), p, t) for p, t in found]
        return lost


@contextlib.contextmanager
def _closed(chdb_dir: Path) -> Iterator[bool]:
    """Whether no process has the store open, holding chDB's own lock on its status file meanwhile.

    The lock must be on the file that is there: chDB deletes its status file as it closes, so one
    opened just before may be gone, and another chDB may have made and locked a new one. A status
    file made here is left in place (chDB only logs that it found one).
    """
    status = chdb_dir / "status"
    fd = os.open(status, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held, there = os.fstat(fd), os.stat(status)
        except (BlockingIOError, FileNotFoundError):
            yield False
            return
        yield (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)
    finally:
        os.close(fd)


def _lost_in(table_dir: Path, logs: Path) -> list[tuple[str, str]]:
    """(part, token) of each remembered token whose part no part on disk covers."""
    remembered: dict[str, str] = {}  # token -> part
    for _, path in _logs(logs):
        for op, part, token in _records(path):
            if op == _DROP:
                remembered.pop(token, None)
            else:
                remembered[token] = part
    on_disk = [r for r in (PartRange.parse(p.name) for p in table_dir.iterdir() if p.is_dir()) if r]
    lost = []
    for token, part in remembered.items():
        wanted = PartRange.parse(part)
        if wanted is not None and not any(have.covers(wanted) for have in on_disk):
            lost.append((part, token))
    return lost


def _logs(logs: Path) -> list[tuple[int, Path]]:
    """The log files in the order ClickHouse reads them."""
    found = [(m, p) for p in logs.iterdir() if (m := _LOG_NAME.fullmatch(p.name))]
    return sorted((int(m.group(1)), p) for m, p in found)


def _records(path: Path) -> list[tuple[str, str, str]]:
    """(operation, part, token) lines; like ClickHouse, stop at the first malformed one."""
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").split("\n")[:-1]:
        fields = line.split("\t")
        if len(fields) != 3 or fields[0] not in (_ADD, _DROP):
            break
        records.append((fields[0], fields[1], fields[2]))
    return records


def _ends_cut(logs: Path) -> bool:
    """Whether the log ClickHouse would append to ends inside a line."""
    found = _logs(logs)
    if not found:
        return False
    data = found[-1][1].read_bytes()
    return bool(data) and not data.endswith(b"\n")


def _new_log(logs: Path, lost: list[tuple[str, str]]) -> None:
    """A new log after the last, holding a DROP record per lost token; it and its entry made durable."""
    number = max((n for n, _ in _logs(logs)), default=0) + 1
    text = "".join(f"{_DROP}\t{part}\t{token}\n" for part, token in lost)
    path = logs / f"deduplication_log_{number}.txt"
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    directory = os.open(logs, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _table_names(chdb_dir: Path) -> dict[str, str]:
    """Table directory (its UUID) -> `database.table`, from the metadata chDB keeps beside the data."""
    names = {}
    for database in (chdb_dir / "metadata").glob("*"):
        for sql in database.glob("*.sql"):
            first = sql.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
            if (m := re.search(r"UUID '([0-9a-f-]+)'", first)) is not None:
                names[m.group(1)] = f"{database.name}.{sql.stem}"
    return names
