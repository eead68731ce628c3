"""RawEventsSink: how _plan splits records, and landing, dedup, replay and dead letters on the real store."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from processors import LogRecord, RawEventsSink, SinkError, SinkStats
from processors.clickhouse import LandedBatch
from schemas import encode_record, partition_for
from tests.conftest import Sql

NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
PARTITIONS = 4


# -- _plan: pure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("landed", "resume", "offsets", "groups"),
    [
        pytest.param([], 0, [0, 1, 2], [("free", 0, 2, [0, 1, 2])], id="nothing-landed"),
        pytest.param([(0, 2)], 0, [0, 1, 2], [("replay", 0, 2, [0, 1, 2])], id="whole-batch-landed"),
        pytest.param(
            [(0, 1)],
            0,
            [0, 1, 2, 3],
            [("replay", 0, 1, [0, 1]), ("free", 2, 3, [2, 3])],
            id="landed-then-new",
        ),
        pytest.param(
            [(2, 3)],
            0,
            [0, 1, 2, 3, 4],
            [("free", 0, 1, [0, 1]), ("replay", 2, 3, [2, 3]), ("free", 4, 4, [4])],
            id="new-landed-new",
        ),
        pytest.param(
            [(0, 1), (2, 4)],
            0,
            [0, 1, 2, 3, 4],
            [("replay", 0, 1, [0, 1]), ("replay", 2, 4, [2, 3, 4])],
            id="adjacent-ranges-stay-apart",
        ),
        pytest.param([(0, 9)], 0, [0, 1, 2], [("replay", 0, 9, [0, 1, 2])], id="range-longer-than-batch"),
        pytest.param(
            [(0, 4)],
            2,
            [2, 3, 4, 5],
            [("skip", 0, 4, [2, 3, 4]), ("free", 5, 5, [5])],
            id="begun-before-resume",
        ),
        pytest.param(
            [(0, 4), (5, 9)],
            3,
            [3, 4, 5, 6],
            [("skip", 0, 4, [3, 4]), ("replay", 5, 9, [5, 6])],
            id="skip-then-replay",
        ),
        pytest.param([(0, 4)], 0, [10, 11], [("free", 10, 11, [10, 11])], id="range-behind-the-records"),
        pytest.param(
            [(2, 6)],
            0,
            [0, 3, 6, 9],
            [("free", 0, 0, [0]), ("replay", 2, 6, [3, 6]), ("free", 9, 9, [9])],
            id="offset-gaps",
        ),
    ],
)
def test_plan(landed: list, resume: int, offsets: list[int], groups: list) -> None:
    records = [LogRecord(offset, b"", 0) for offset in offsets]
    planned = RawEventsSink._plan(deque(LandedBatch(*r) for r in landed), resume, records)
    assert [(g.kind, g.first_offset, g.last_offset, [r.offset for r in g.records]) for g in planned] == groups


# -- against the real store ----------------------------------------------------------------------


def ids_on(partition: int, count: int, prefix: str = "e") -> list[str]:
    """Event ids whose identity (source "shop") routes to `partition`, as the producer guarantees."""
    ids = (f"{prefix}-{n:05d}" for n in range(10_000))  # zero-padded: they sort in the order made
    return [i for i in ids if partition_for("shop", i, PARTITIONS) == partition][:count]


A, B, C, D = ids_on(0, 4)


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-10-01T11:00:00Z",
        "measures": {"amount": 10},
        **fields,
    }


def record(offset: int, *events: Any) -> LogRecord:
    return LogRecord(offset, encode_record([e if isinstance(e, dict) else event(e) for e in events]), NOW_MS)


@pytest.fixture
def dead_letters() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def make_sink(store, settings, dead_letters) -> Callable[..., RawEventsSink]:
    """A new sink on the same store: a second call is the worker after a restart.

    Keywords go to the sink: its landed hook (`on_landed`) or its lock (`landing`).
    """

    def make(**worker: Any) -> RawEventsSink:
        log_ids = {settings.raw_topic: "log-1"}
        return RawEventsSink(
            store, settings, log_ids, PARTITIONS, dead_letters.extend, clock=lambda: NOW, **worker
        )

    return make


def feed(sink: RawEventsSink, topic: str, *records: LogRecord, partition: int = 0) -> list[int]:
    """Add records and flush; returns the offsets released for acknowledgement."""
    for r in records:
        sink.add(topic, partition, r)
    return [r.offset for r in sink.flush()]


def landed(store, settings) -> list[tuple]:
    sql = (
        "SELECT event_id, kafka_partition, kafka_offset, batch_first_offset, batch_last_offset"
        " FROM {db:Identifier}.raw_events ORDER BY kafka_partition, kafka_offset, event_id"
    )
    return store.fetch(Sql(sql, db=settings.clickhouse_database))


def test_a_batch_lands_as_one_block_at_its_position(store, settings, make_sink) -> None:
    sink = make_sink()
    released = feed(sink, settings.raw_topic, record(5, A, B), record(6, C), record(7, D))
    assert released == [5, 6, 7]
    assert landed(store, settings) == [(A, 0, 5, 5, 7), (B, 0, 5, 5, 7), (C, 0, 6, 5, 7), (D, 0, 7, 5, 7)]
    assert sink.stats == SinkStats(events_landed=4, batches_written=1)


def test_each_partition_lands_under_its_own_position(store, settings, make_sink) -> None:
    sink = make_sink()
    [other] = ids_on(1, 1)
    sink.add(settings.raw_topic, 0, record(0, A))
    sink.add(settings.raw_topic, 1, record(0, other))
    assert len(sink.flush()) == 2
    assert landed(store, settings) == [(A, 0, 0, 0, 0), (other, 1, 0, 0, 0)]


def test_resends_are_dropped_and_counted(store, settings, make_sink) -> None:
    sink = make_sink()
    feed(sink, settings.raw_topic, record(0, A, B))
    feed(sink, settings.raw_topic, record(1, A, C), record(2, B, C))  # A, B resent; C twice in one batch
    assert [(row[0], row[2]) for row in landed(store, settings)] == [(A, 0), (B, 0), (C, 1)]
    assert (sink.stats.events_landed, sink.stats.duplicates_dropped) == (3, 3)


def test_the_last_insert_gauge_marks_inserts_by_the_sinks_clock(store, settings, dead_letters) -> None:
    """Monitoring and the KPI benchmark read it as the instant the block's views were written too."""
    now = [datetime(2031, 2, 3, 4, 5, 6, 700_000, tzinfo=UTC)]  # no other test's clock reads this
    log_ids = {settings.raw_topic: "log-1"}
    sink = RawEventsSink(store, settings, log_ids, PARTITIONS, dead_letters.extend, clock=lambda: now[0])
    feed(sink, settings.raw_topic, record(0, A, B))
    gauge = "okrstream_sink_last_insert_timestamp_seconds"
    assert REGISTRY.get_sample_value(gauge) == now[0].timestamp()
    inserted = now[0]
    now[0] = datetime(2031, 2, 3, 4, 9, tzinfo=UTC)
    feed(sink, settings.raw_topic, record(1, A, B))  # resends only: nothing is inserted
    assert REGISTRY.get_sample_value(gauge) == inserted.timestamp()
    feed(sink, settings.raw_topic, record(2, C))
    assert REGISTRY.get_sample_value(gauge) == now[0].timestamp()


def test_after_a_restart_resends_of_landed_events_are_still_dropped(store, settings, make_sink) -> None:
    feed(make_sink(), settings.raw_topic, record(0, A, B))
    restarted = make_sink()  # its dedup set comes from ClickHouse
    feed(restarted, settings.raw_topic, record(1, A, C))
    assert [(row[0], row[2]) for row in landed(store, settings)] == [(A, 0), (B, 0), (C, 1)]
    assert restarted.stats.duplicates_dropped == 1


def test_a_landed_batch_read_again_after_a_restart_is_replayed_not_doubled(
    store, settings, make_sink
) -> None:
    batch = [record(0, A, B), record(1, B, C)]  # B twice: the replay must drop the same copy
    feed(make_sink(), settings.raw_topic, *batch)  # landed, but the crash came before the commit
    before = landed(store, settings)
    restarted = make_sink()
    assert feed(restarted, settings.raw_topic, *batch, record(2, A, D)) == [0, 1, 2]
    assert landed(store, settings) == [*before, (D, 0, 2, 2, 2)]
    assert before == [(A, 0, 0, 0, 1), (B, 0, 0, 0, 1), (C, 0, 1, 0, 1)]
    assert (restarted.stats.batches_replayed, restarted.stats.duplicates_dropped) == (1, 2)
    assert (restarted.stats.events_landed, restarted.stats.events_replayed) == (1, 3)  # D is the one new row


def test_a_landed_batch_read_only_in_part_is_held_back_until_complete(store, settings, make_sink) -> None:
    feed(make_sink(), settings.raw_topic, record(0, A), record(1, B), record(2, C))
    restarted = make_sink()
    assert feed(restarted, settings.raw_topic, record(0, A), record(1, B)) == []  # 0-2 not all read yet
    assert restarted.stats.batches_replayed == 0
    assert feed(restarted, settings.raw_topic, record(2, C), record(3, D)) == [0, 1, 2, 3]
    assert [(row[0], row[3], row[4]) for row in landed(store, settings)] == [
        (A, 0, 2),
        (B, 0, 2),
        (C, 0, 2),
        (D, 3, 3),
    ]
    assert restarted.stats.batches_replayed == 1


def test_records_of_a_batch_landed_before_the_resume_offset_are_skipped(store, settings, make_sink) -> None:
    feed(make_sink(), settings.raw_topic, record(0, A), record(1, B), record(2, C))
    restarted = make_sink()  # resumes at 1, inside the landed range 0-2
    assert feed(restarted, settings.raw_topic, record(1, B), record(2, C), record(3, D)) == [1, 2, 3]
    assert [row[0] for row in landed(store, settings)] == [A, B, C, D]
    assert (restarted.stats.records_skipped, restarted.stats.events_landed) == (2, 1)


NO_TIME = {"event_id": "x", "source": "shop", "type": "order.placed"}
NAIVE = event("x", occurred_at="2026-10-01T11:00:00")


@pytest.mark.parametrize(
    ("value", "origin_suffix", "path", "reason", "raw"),
    [
        pytest.param(b"not json", "@1", "$", "record is not JSON", "not json", id="not-json"),
        pytest.param(
            b'{"format": "v0"}',
            "@1",
            "$",
            "is not an 'okrstream.events.v1' object",
            '{"format": "v0"}',
            id="not-ours",
        ),
        pytest.param(
            b'{"format": "okrstream.events.v1"}',
            "@1",
            "$",
            "no 'events' list",
            '{"format": "okrstream.events.v1"}',
            id="no-events",
        ),
        pytest.param(
            encode_record([NO_TIME]),
            "@1#0",
            "occurred_at",
            "must be an ISO 8601 string, got None",
            orjson.dumps(NO_TIME).decode(),
            id="no-time",
        ),
        pytest.param(
            encode_record([NAIVE]),
            "@1#0",
            "occurred_at",
            "has no UTC offset",
            orjson.dumps(NAIVE).decode(),
            id="naive-time",
        ),
        pytest.param(
            encode_record(["oops"]), "@1#0", "$", "JSON object, got str", '"oops"', id="not-an-object"
        ),
    ],
)
def test_a_malformed_record_is_dead_lettered_with_its_reason(
    store, settings, make_sink, dead_letters, value: bytes, origin_suffix: str, path: str, reason: str, raw
) -> None:
    sink = make_sink()
    released = feed(sink, settings.raw_topic, record(0, A), LogRecord(1, value, NOW_MS), record(2, B))
    assert released == [0, 1, 2]
    assert [row[0] for row in landed(store, settings)] == [A, B]
    [letter] = dead_letters
    assert letter["origin"] == f"{settings.raw_topic}[0]{origin_suffix}"
    [error] = letter["errors"]
    assert (error["path"], error["rule"]) == (path, "malformed_record")
    assert reason in error["message"]
    assert letter["raw"] == raw
    assert letter["processor"]["name"] == "sink"
    assert letter["failed_at"] == "2026-10-01T12:00:00Z"
    assert sink.stats.dead_lettered == 1


def test_a_malformed_event_keeps_its_own_text_in_the_dead_letter(settings, make_sink, dead_letters) -> None:
    bad = event("x", measures={"amount": "lots"})
    feed(make_sink(), settings.raw_topic, record(0, A, bad))
    [letter] = dead_letters
    assert letter["origin"] == f"{settings.raw_topic}[0]@0#1"
    assert '"amount":"lots"' in letter["raw"] and A not in letter["raw"]


def test_when_dead_letters_cannot_be_written_the_batch_is_kept_for_a_retry(store, settings) -> None:
    written: list[dict[str, Any]] = []
    broken = True

    def write(records: list[dict[str, Any]]) -> None:
        if broken:
            raise RuntimeError("dead-letter topic unavailable")
        written.extend(records)

    sink = RawEventsSink(store, settings, {settings.raw_topic: "log-1"}, PARTITIONS, write, clock=lambda: NOW)
    sink.add(settings.raw_topic, 0, record(0, A))
    sink.add(settings.raw_topic, 0, LogRecord(1, b"garbage", NOW_MS))
    with pytest.raises(SinkError, match="offsets 0-1: dead-letter topic unavailable"):
        sink.flush()
    assert landed(store, settings) == []  # nothing inserted ahead of its dead letters
    broken = False
    assert [r.offset for r in sink.flush()] == [0, 1]
    assert [row[0] for row in landed(store, settings)] == [A]
    assert [letter["raw"] for letter in written] == ["garbage"]


# -- a run killed inside an insert: ClickHouse may remember a token whose rows never landed --------


def lose_rows(store, settings, *event_ids: str) -> None:
    """Remove rows but not the insert token ClickHouse remembers for them, as a kill mid-insert can."""
    store.execute(
        Sql(
            "ALTER TABLE {db:Identifier}.raw_events DELETE WHERE event_id IN {ids:Array(String)}"
            " SETTINGS mutations_sync = 1",
            db=settings.clickhouse_database,
            ids=list(event_ids),
        )
    )


def test_a_new_run_lands_a_batch_whose_token_outlived_its_rows(store, settings, make_sink) -> None:
    feed(make_sink(), settings.raw_topic, record(0, A, B))
    lose_rows(store, settings, A, B)  # nothing of the batch is left, so it is not replayed
    restarted = make_sink()  # a new run: its fresh batches carry its own epoch in their tokens
    assert feed(restarted, settings.raw_topic, record(0, A, B)) == [0]
    assert [row[0] for row in landed(store, settings)] == [A, B]


def test_a_replayed_batch_missing_rows_in_clickhouse_is_completed(store, settings, make_sink) -> None:
    feed(make_sink(), settings.raw_topic, record(0, A, B), record(1, C))
    lose_rows(store, settings, C)  # one part of the batch is gone, its token still remembered
    restarted = make_sink()
    assert feed(restarted, settings.raw_topic, record(0, A, B), record(1, C)) == [0, 1]
    assert [row[0] for row in landed(store, settings)] == [A, B, C]
    assert (restarted.stats.batches_replayed, restarted.stats.events_restored) == (1, 1)


class RecordingHook:
    """A landed hook that records what it is told and can fail its publish, as a broker outage would."""

    def __init__(self) -> None:
        self.blocks: list[list[str]] = []
        self.published: list[list[str]] = []
        self.pending: list[str] = []
        self.broken = False

    def landed(self, rows: list[tuple]) -> None:
        self.blocks.append([row[0] for row in rows])
        self.pending += [row[0] for row in rows]

    def publish(self) -> None:
        if self.broken:
            raise RuntimeError("touch topic unavailable")
        self.published.append(self.pending)
        self.pending = []


def test_the_landed_hook_hears_every_block_and_publishes_once_per_flush(settings, make_sink) -> None:
    hook = RecordingHook()
    sink = make_sink(on_landed=hook)
    [other] = ids_on(1, 1)
    sink.add(settings.raw_topic, 0, record(0, A, B))
    sink.add(settings.raw_topic, 1, record(0, other))
    assert len(sink.flush()) == 2
    assert hook.blocks == [[A, B], [other]]  # one block per partition, as inserted
    assert hook.published == [[A, B, other]]  # one publish, after both


def test_a_failed_publish_releases_nothing_until_a_retry_publishes(store, settings, make_sink) -> None:
    hook = RecordingHook()
    sink = make_sink(on_landed=hook)
    sink.add(settings.raw_topic, 0, record(0, A))
    hook.broken = True
    with pytest.raises(SinkError, match="could not finish its flush: touch topic unavailable"):
        sink.flush()
    assert [row[0] for row in landed(store, settings)] == [A]  # landed, but not to be acknowledged yet
    hook.broken = False
    assert [r.offset for r in sink.flush()] == [0]  # the retry publishes, then releases
    assert hook.published == [[A]]


class WatchedLanding:
    """The lock a worker's sink shares with its scorer, noting what had landed as it was taken and let go."""

    def __init__(self, store, settings) -> None:
        self.store, self.settings = store, settings
        self.seen: list[tuple[list[str], list[str]]] = []

    def __enter__(self) -> None:
        self._before = [row[0] for row in landed(self.store, self.settings)]

    def __exit__(self, *exc: object) -> None:
        self.seen.append((self._before, [row[0] for row in landed(self.store, self.settings)]))


def test_each_insert_lands_while_the_sink_holds_the_landing_lock(store, settings, make_sink) -> None:
    landing = WatchedLanding(store, settings)
    sink = make_sink(landing=landing)
    [other] = ids_on(1, 1)
    sink.add(settings.raw_topic, 0, record(0, A, B))
    sink.add(settings.raw_topic, 1, record(0, other))
    assert len(sink.flush()) == 2
    # a scorer that takes the lock reads either side of an insert, never under it
    assert landing.seen == [([], [A, B]), ([A, B], [A, B, other])]
