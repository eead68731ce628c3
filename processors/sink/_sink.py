"""A small batching sink: records buffered per topic-partition, `write(batch)` the one override.

`flush()` returns the records that are durably written and may be acknowledged. A sink may
hold back the tail of a batch (by returning the last offset it wrote); held records stay
buffered and come back in the next batch. A failed write keeps its batch buffered, so the
caller retries exactly the same records. `flushed()` runs once all batches are written, before
their records are returned: a sink finishes there what must be durable before acknowledgement.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class SinkError(RuntimeError):
    """A sink could not write a batch; the batch is kept for a retry."""


@dataclass(frozen=True)
class LogRecord:
    offset: int
    value: bytes
    timestamp_ms: int
    handle: Any = field(default=None, compare=False, repr=False)  # what the consumer acks


@dataclass(frozen=True)
class SinkBatch:
    topic: str
    partition: int
    records: list[LogRecord]

    @property
    def first_offset(self) -> int:
        return self.records[0].offset

    @property
    def last_offset(self) -> int:
        return self.records[-1].offset


class BatchingSink:
    def __init__(self) -> None:
        self._buffers: dict[tuple[str, int], list[LogRecord]] = {}
        self._released: list[LogRecord] = []
        self._lock = threading.Lock()  # flush runs in a thread; revocations arrive on the event loop

    def add(self, topic: str, partition: int, record: LogRecord) -> None:
        with self._lock:
            self._buffers.setdefault((topic, partition), []).append(record)

    def flush(self) -> list[LogRecord]:
        """Write every buffered batch; returns the records now safe to acknowledge."""
        with self._lock:
            for (topic, partition), records in self._buffers.items():
                if not records:
                    continue
                batch = SinkBatch(topic, partition, records)
                try:
                    written = self.write(batch)
                except Exception as e:
                    raise SinkError(
                        f"{type(self).__name__} could not write {topic}[{partition}] "
                        f"offsets {batch.first_offset}-{batch.last_offset}: {e}"
                    ) from e
                upto = batch.last_offset if written is None else written
                self._released.extend(r for r in records if r.offset <= upto)
                self._buffers[(topic, partition)] = [r for r in records if r.offset > upto]
            try:
                self.flushed()
            except Exception as e:  # the written records stay unreleased: the retry calls it again
                raise SinkError(f"{type(self).__name__} could not finish its flush: {e}") from e
            released, self._released = self._released, []
            return released

    def revoke(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Forget what belongs to partitions this process no longer owns."""
        with self._lock:
            for topic, partition in partitions:
                self._buffers.pop((topic, partition), None)
                self.on_revoke(topic, partition)
            self._released = []

    def write(self, batch: SinkBatch) -> int | None:
        """Write the batch durably; return None when all of it is written, else the last offset written."""
        raise NotImplementedError

    def flushed(self) -> None:
        """After every buffered batch is written, before their records may be acknowledged."""

    def on_revoke(self, topic: str, partition: int) -> None:
        """Drop per-partition state; the next owner rebuilds it."""
