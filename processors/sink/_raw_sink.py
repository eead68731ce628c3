"""The sink that lands log records in `raw_events`, each event exactly once.

Two rules make it exactly-once (the README's design section says why they suffice):

1. A client's resend is dropped by identity. Every copy of (source, event_id) lives in one
   partition, which one sink owns and reads in order, so a per-partition set of identities
   already landed (rebuilt from ClickHouse when a partition is assigned) keeps the first copy.
2. A worker's retry is dropped by position. Each insert is one block whose token is its place
   in the log; every row records that place. After a restart the sink asks which batches at
   or after its resume offset landed, and replays exactly those record ranges under the same
   tokens, so ClickHouse drops what it has and completes what a crash cut short.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from schemas import FieldError, InvalidFieldsError, Settings, dead_letter_record, decode_record

from ..clickhouse import (
    RAW_EVENTS_COLUMN_NAMES,
    BatchPosition,
    InsertRawEvents,
    LandedBatch,
    LandedBatches,
    LandedIdentities,
    SeenEvents,
    event_row,
)
from ..metrics import (
    DEAD_LETTERS,
    EVENTS_LANDED,
    SINK_BATCH_EVENTS,
    SINK_BATCH_SECONDS,
    SINK_DUPLICATES,
    SINK_LAST_INSERT,
)
from ..store import Store
from ._sink import BatchingSink, LogRecord, SinkBatch

log = logging.getLogger(__name__)

# where event_row puts what the sink reads back from a row
_EVENT_ID, _SOURCE, _RECEIVED_AT = (
    RAW_EVENTS_COLUMN_NAMES.index(c) for c in ("event_id", "source", "received_at")
)

DeadLetterWriter = Callable[[list[dict[str, Any]]], None]


class LandedHook(Protocol):
    """Told of what lands, before it is acknowledged: OKR scoring learns here what a batch moved."""

    def landed(self, rows: list[tuple]) -> None:
        """A block of rows ClickHouse now holds (replays too), in RAW_EVENTS_COLUMN_NAMES order."""

    def publish(self) -> None:
        """Make durable what `landed` learned: once per flush, after every block, before acknowledging."""


@dataclass
class SinkStats:
    events_landed: int = 0  # rows of new batches
    events_replayed: int = 0  # rows re-sent under a landed batch's token; ClickHouse keeps them once
    events_restored: int = 0  # rows of a replayed batch that ClickHouse had lost, landed again
    duplicates_dropped: int = 0
    dead_lettered: int = 0
    batches_written: int = 0
    batches_replayed: int = 0
    records_skipped: int = 0


@dataclass
class _PartitionState:
    log: str
    partition: int
    resume_offset: int
    replay: deque[LandedBatch]
    seen: dict[tuple[str, str], int]  # identity -> received_at (microseconds), for the dedup window
    writes: int = 0


@dataclass
class _Group:
    first_offset: int
    last_offset: int
    kind: str  # "free" (new records), "replay" (a landed range, rewritten as it was) or "skip"
    records: list[LogRecord] = field(default_factory=list)
    epoch: int | None = None  # a landed range's epoch; None for free records (this run's)


class RawEventsSink(BatchingSink):
    def __init__(
        self,
        store: Store,
        settings: Settings,
        log_ids: dict[str, str],
        partitions: int,
        dead_letters: DeadLetterWriter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        epoch: int | None = None,
        on_landed: LandedHook | None = None,
        landing: AbstractContextManager[object] | None = None,
    ) -> None:
        super().__init__()
        self._on_landed = on_landed
        # held around each insert: the scorer in this worker reads only between them (see OkrScorer)
        self._landing = landing if landing is not None else nullcontext()
        self._store = store
        self._settings = settings
        self._log_ids = log_ids
        self._partitions = partitions
        self._dead_letters = dead_letters
        self._clock = clock
        self._epoch = time.time_ns() // 1000 if epoch is None else epoch  # this run's, see BatchPosition
        self._states: dict[tuple[str, int], _PartitionState] = {}
        self.stats = SinkStats()

    def write(self, batch: SinkBatch) -> int | None:
        state = self._state_for(batch)
        for group in self._plan(state.replay, state.resume_offset, batch.records):
            while state.replay and state.replay[0].last_offset < group.first_offset:
                state.replay.popleft()  # a landed range whose records are all behind us
            if group.kind == "skip":
                self.stats.records_skipped += len(group.records)
                continue
            if group.kind == "replay":
                if group.last_offset > batch.last_offset:
                    return group.first_offset - 1  # not all of the range is read yet: hold it back
                self.stats.batches_replayed += 1
            self._write_group(state, group)
        return None

    def flushed(self) -> None:
        if self._on_landed is not None:
            self._on_landed.publish()

    def on_revoke(self, topic: str, partition: int) -> None:
        self._states.pop((topic, partition), None)

    # -- planning ---------------------------------------------------------------------------

    def _state_for(self, batch: SinkBatch) -> _PartitionState:
        key = (batch.topic, batch.partition)
        if key not in self._states:
            db, cluster = self._settings.clickhouse_database, self._settings.clickhouse_cluster
            log_id = self._log_ids[batch.topic]
            resume = batch.first_offset
            landed = LandedBatches.parse(
                self._store.fetch(LandedBatches(db, log_id, batch.partition, resume, cluster))
            )
            since = self._clock() - timedelta(days=self._settings.dedup_window_days)
            seen_query = SeenEvents(db, log_id, batch.partition, self._partitions, resume, since, cluster)
            seen = SeenEvents.parse(self._store.fetch(seen_query))
            if landed:
                log.info(
                    "partition %s resumes at %s with %s landed batches to replay",
                    batch.partition,
                    resume,
                    len(landed),
                )
            self._states[key] = _PartitionState(log_id, batch.partition, resume, deque(landed), seen)
        return self._states[key]

    @staticmethod
    def _plan(replay: deque[LandedBatch], resume_offset: int, records: list[LogRecord]) -> list[_Group]:
        """Split records into insert groups: landed ranges exactly as before, the rest freely.

        A landed range that began before the resume offset was acknowledged only after its
        insert returned, so it is complete: its remaining records are skipped, not rewritten.
        """
        groups: list[_Group] = []
        ranges = list(replay)
        i = 0
        for record in records:
            while i < len(ranges) and record.offset > ranges[i].last_offset:
                i += 1
            landed = ranges[i] if i < len(ranges) else None
            if landed is None or record.offset < landed.first_offset:
                if not groups or groups[-1].kind != "free":
                    groups.append(_Group(record.offset, record.offset, kind="free"))
                groups[-1].last_offset = record.offset
            elif not groups or groups[-1].first_offset != landed.first_offset:
                kind = "skip" if landed.first_offset < resume_offset else "replay"
                groups.append(_Group(landed.first_offset, landed.last_offset, kind, epoch=landed.epoch))
            groups[-1].records.append(record)
        return groups

    # -- writing ----------------------------------------------------------------------------

    def _write_group(self, state: _PartitionState, group: _Group) -> None:
        started = time.perf_counter()
        epoch = self._epoch if group.epoch is None else group.epoch
        position = BatchPosition(state.log, state.partition, group.first_offset, group.last_offset, epoch)
        rows: list[tuple] = []
        rejected: list[dict[str, Any]] = []
        fresh: dict[tuple[str, str], int] = {}
        duplicates = 0
        for record in group.records:
            received = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
            try:
                events = decode_record(record.value)
            except ValueError as e:
                error = FieldError(path="$", message=str(e), rule="malformed_record")
                origin = self._origin(state, record)
                rejected.append(self._dead_letter(origin, [error], record.value))
                continue
            for index, event in enumerate(events):
                try:
                    row = event_row(event, record.offset, received, position)
                except InvalidFieldsError as e:
                    origin = f"{self._origin(state, record)}#{index}"
                    rejected.append(self._dead_letter(origin, e.errors, event))
                    continue
                identity = (row[_SOURCE], row[_EVENT_ID])
                if identity in state.seen or identity in fresh:
                    duplicates += 1
                    continue
                fresh[identity] = int(row[_RECEIVED_AT].timestamp() * 1_000_000)
                rows.append(row)
        if rejected:
            self._dead_letters(rejected)  # durable before the insert and the acknowledgement
        if rows:
            db, cluster = self._settings.clickhouse_database, self._settings.clickhouse_cluster
            with self._landing:
                self._store.insert(InsertRawEvents(db, position, rows, cluster=cluster))
                if group.kind == "replay":
                    self._restore_missing(position, rows)
            SINK_LAST_INSERT.set(self._clock().timestamp())
            if self._on_landed is not None:
                self._on_landed.landed(rows)
        state.seen.update(fresh)
        state.writes += 1
        if state.writes % 100 == 0:
            self._prune(state)
        if group.kind == "replay":
            self.stats.events_replayed += len(rows)
        else:
            self.stats.events_landed += len(rows)
        self.stats.duplicates_dropped += duplicates
        self.stats.dead_lettered += len(rejected)
        self.stats.batches_written += 1
        if group.kind != "replay":
            EVENTS_LANDED.inc(len(rows))
        SINK_DUPLICATES.inc(duplicates)
        DEAD_LETTERS.labels(origin="sink").inc(len(rejected))
        SINK_BATCH_EVENTS.observe(len(rows))
        SINK_BATCH_SECONDS.observe(time.perf_counter() - started)

    def _restore_missing(self, position: BatchPosition, rows: list[tuple]) -> None:
        """Land the rows of a replayed batch that ClickHouse dropped though it never kept them.

        A run killed inside an insert can leave a block's token remembered without its part, so
        the replay under that token is dropped as well. Replays are rare (after a restart), so
        each is checked against what the batch holds, and what is missing lands once more
        under a token of its own.
        """
        db, cluster = self._settings.clickhouse_database, self._settings.clickhouse_cluster
        query = LandedIdentities(
            db, position.log, position.partition, position.first_offset, position.last_offset, cluster
        )
        present = LandedIdentities.parse(self._store.fetch(query))
        missing = [row for row in rows if (row[_SOURCE], row[_EVENT_ID]) not in present]
        if missing:
            log.warning(
                "batch %s was incomplete in ClickHouse: restoring %s rows", position.token, len(missing)
            )
            token = f"{position.token}:restore:{self._epoch}"
            self._store.insert(InsertRawEvents(db, position, missing, token, cluster))
            self.stats.events_restored += len(missing)

    def _prune(self, state: _PartitionState) -> None:
        horizon = self._clock() - timedelta(days=self._settings.dedup_window_days)
        cutoff = int(horizon.timestamp() * 1_000_000)
        state.seen = {k: v for k, v in state.seen.items() if v >= cutoff}

    def _origin(self, state: _PartitionState, record: LogRecord) -> str:
        """Where a rejected record sits in the log, for its dead letter."""
        return f"{self._settings.raw_topic}[{state.partition}]@{record.offset}"

    def _dead_letter(self, origin: str, errors: Sequence[FieldError], raw: Any) -> dict[str, Any]:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else _json_text(raw)
        return dead_letter_record(
            origin=origin, errors=errors, raw=text, failed_at=self._clock(), processor="sink"
        )


def _json_text(value: Any) -> str:
    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)
