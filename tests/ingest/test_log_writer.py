"""The HTTP API's log writer on a real broker: concurrent appends committed as one group."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from ingest import Journal, KafkaLogWriter, LogUnavailable, segments
from schemas import decode_record, validate_event
from tests.conftest import read_topic


def order(event_id: str):
    return validate_event(
        {
            "event_id": event_id,
            "type": "order.placed",
            "source": "shop",
            "occurred_at": "2026-11-20T09:15:00Z",
        },
        received_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


def test_concurrent_appends_share_log_records_and_one_journal_write(settings, topics, tmp_path: Path) -> None:
    journal = Journal(tmp_path, "test")
    writer = KafkaLogWriter(settings.kafka_bootstrap_servers, settings, 30.0, journal)
    requests = [[order(f"o-{i}-{j}") for j in range(i % 3 + 1)] for i in range(40)]

    async def all_at_once() -> None:
        await asyncio.gather(*(writer.append(events) for events in requests))

    try:
        asyncio.run(all_at_once())
    finally:
        writer.close()
    messages = read_topic(settings, settings.raw_topic)
    logged = sorted(e["event_id"] for m in messages for e in decode_record(m.value))
    assert logged == sorted(e.event_id for events in requests for e in events)  # each once
    # the 40 requests waited together: one group, so at most one record per partition
    assert len(messages) <= settings.topic_partitions
    journaled = [record for segment in segments(tmp_path) for _, record in segment.records()]
    assert sorted(e["event_id"] for r in journaled for e in decode_record(r)) == logged
    assert all(s.sealed for s in segments(tmp_path))  # everything acknowledged: nothing left open


class FullDisk:
    """A journal whose disk is full: nothing may be acknowledged."""

    def write(self, records) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


def test_when_the_group_cannot_be_journaled_every_request_in_it_fails(settings, topics) -> None:
    writer = KafkaLogWriter(settings.kafka_bootstrap_servers, settings, 30.0, FullDisk())  # type: ignore[arg-type]

    async def two_at_once() -> list[BaseException | None]:
        return await asyncio.gather(
            writer.append([order("a")]), writer.append([order("b")]), return_exceptions=True
        )

    try:
        failures = asyncio.run(two_at_once())
    finally:
        writer.close()
    # the service's 503 with Retry-After: the disk may have room again by the retry
    assert [type(f) for f in failures] == [LogUnavailable, LogUnavailable]
    assert all(isinstance(f.__cause__, OSError) and f.__cause__.errno == 28 for f in failures)
    assert read_topic(settings, settings.raw_topic) == []  # nothing was sent
