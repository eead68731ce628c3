"""A file's lines validated in worker processes, so that an import uses every core.

One interpreter validates about 145,000 events a second at best (pydantic and the type contract,
7 us an event), and an import that also read the file, asked the store and sent the records in
that interpreter landed about 23,000 a second. Here worker processes decode, validate and encode
chunks of lines (`Validation.run`); the importing process keeps what must see every line in
order: the duplicates within the file, the store's answer, the dead letters and the sending.

Workers are forked, so they inherit the conversion (a mapping, the registry, the clock) without
pickling it; only the lines and the outcomes cross between processes.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from schemas import EncodedEvent, EventValidationError, FieldError, RawEvent, encode_event

from ._files import SourceLine

CHUNK_LINES = 2000  # lines a worker takes at once: enough to amortize the hop between processes


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _as_read(line: SourceLine) -> SourceLine:
    return line


@dataclass(frozen=True)
class Rejected:
    """A line that is not an event, and why."""

    line: int
    text: str
    errors: Sequence[FieldError]


Outcome = EncodedEvent | Rejected


@dataclass(frozen=True)
class Validation:
    """What becomes of each line: `decode` it (NDJSON read undecoded), `convert` it to an event
    received now, and encode that event for the log (its partition of the raw topic's)."""

    convert: Callable[[Any, datetime], RawEvent]
    decode: Callable[[SourceLine], SourceLine] = _as_read
    clock: Callable[[], datetime] = field(default=_utc_now)

    def run(self, lines: Sequence[SourceLine], partitions: int) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for read in lines:
            line = self.decode(read)
            if line.error is not None:
                outcomes.append(Rejected(line.line, line.text, [line.error]))
                continue
            try:
                event = self.convert(line.data, self.clock())
            except EventValidationError as e:
                outcomes.append(Rejected(line.line, line.text, e.errors))
                continue
            outcomes.append(encode_event(event, partitions))
        return outcomes


_validation: Validation | None = None  # in a worker: what its parent asked of it


def _start_worker(validation: Validation) -> None:
    global _validation
    _validation = validation


def _run_chunk(lines: list[SourceLine], partitions: int) -> list[Outcome]:
    assert _validation is not None, "a worker runs only after _start_worker"
    return _validation.run(lines, partitions)


class ValidationPool:
    """`jobs` worker processes running one `Validation`; outcomes come back in the lines' order.

    At most two chunks per worker are read ahead of the outcomes taken, so memory stays bounded
    however large the file. The workers are forked when the pool is made: make it before the
    process starts threads (a producer, a store), since a fork copies only the calling thread,
    and a lock another thread held stays held in the child. A worker that dies (killed, out of
    memory) fails the import with `WorkerDied`, where `multiprocessing.Pool` would wait forever.
    """

    def __init__(self, validation: Validation, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self._jobs = jobs
        self._executor = ProcessPoolExecutor(
            jobs, multiprocessing.get_context("fork"), initializer=_start_worker, initargs=(validation,)
        )
        self._executor.submit(int).result()  # forks every worker now, not at the first chunk

    def outcomes(
        self, lines: Iterable[SourceLine], partitions: int, chunk_lines: int = CHUNK_LINES
    ) -> Iterator[tuple[list[Outcome], int]]:
        """(outcomes of a chunk, the number of the chunk's last line), chunk by chunk in order;
        `partitions`: the raw topic's, which the events are encoded for."""
        answered = 0  # the last line of the chunks whose outcomes were taken
        try:
            for outcomes, last in self._in_order(lines, partitions, chunk_lines):
                yield outcomes, last
                answered = last
        except BrokenProcessPool as e:
            raise WorkerDied(
                "a validation process died (killed, or out of memory?) before it answered for the"
                f" lines after line {answered}; lines before them may have been sent, and importing"
                " the file again is safe: the sink drops the copies"
            ) from e

    def _in_order(
        self, lines: Iterable[SourceLine], partitions: int, chunk_lines: int
    ) -> Iterator[tuple[list[Outcome], int]]:
        waiting: deque[tuple[Future[list[Outcome]], int]] = deque()
        chunk: list[SourceLine] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= chunk_lines:
                waiting.append((self._executor.submit(_run_chunk, chunk, partitions), line.line))
                chunk = []
                if len(waiting) >= 2 * self._jobs:
                    done, last = waiting.popleft()
                    yield done.result(), last
        if chunk:
            waiting.append((self._executor.submit(_run_chunk, chunk, partitions), chunk[-1].line))
        while waiting:
            done, last = waiting.popleft()
            yield done.result(), last

    def close(self) -> None:
        """Stop the workers; chunks not yet taken are dropped (an import that failed)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ValidationPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class WorkerDied(RuntimeError):
    """A validation process ended before it answered for a chunk: the import cannot go on."""
