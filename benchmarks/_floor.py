"""The floor: a bare aiokafka consumer group inserting every fetched batch with clickhouse-connect.

No validation, no dedup, no insert tokens: fetch up to `batch_size` events, build rows with
okrstream's `event_row` (its cheap per-field checks, the same row the sink builds), insert (in a
thread, so aiokafka keeps fetching meanwhile), commit, repeat until all events landed.
`floor` reads one JSON event per message; `floor-records` reads okrstream's log records
(`okrstream.events.v1`, a batch of events per message, decoded by okrstream's `decode_record`)
from the topic `okrstream ingest` wrote.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from processors.clickhouse import BatchPosition, event_row
from schemas import decode_record

from ._store import insert, landed, open_store
from ._trial import Timing, TrialSpec, child_main


class _AssignmentClock(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.assigned_at: float | None = None

    async def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned and self.assigned_at is None:
            self.assigned_at = time.time()


def _rows(spec: TrialSpec, batches: dict[TopicPartition, list[ConsumerRecord]]) -> list[tuple]:
    records = spec.contestant == "floor-records"
    rows = []
    for tp, messages in batches.items():
        if not messages:
            continue
        position = BatchPosition(tp.topic, tp.partition, messages[0].offset, messages[-1].offset)
        for m in messages:
            received = datetime.fromtimestamp(m.timestamp / 1000, UTC)
            events = decode_record(m.value) if records else [orjson.loads(m.value)]
            rows.extend(event_row(event, m.offset, received, position) for event in events)
    return rows


async def _consume(spec: TrialSpec) -> Timing:
    client = open_store(spec.data_dir, spec.database, spec.clickhouse_url)
    per_message = spec.record_events if spec.contestant == "floor-records" else 1
    consumer = AIOKafkaConsumer(
        bootstrap_servers=spec.bootstrap_servers,
        group_id=spec.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=int(spec.session_timeout_s * 1000),
        heartbeat_interval_ms=int(spec.session_timeout_s * 200),
    )
    clock = _AssignmentClock()
    consumer.subscribe([spec.topic], listener=clock)
    await consumer.start()
    try:
        inserted = 0
        deadline = time.monotonic() + spec.timeout_s
        while inserted < spec.events and time.monotonic() < deadline:
            batches = await consumer.getmany(
                timeout_ms=500, max_records=max(1, spec.batch_size // per_message)
            )
            rows = _rows(spec, batches)
            if rows:
                await asyncio.to_thread(insert, client, spec.database, rows)
                inserted += len(rows)
                await consumer.commit()
    finally:
        await consumer.stop()
    count, first, last = landed(client, spec.database)
    client.close()
    assert clock.assigned_at is not None
    return Timing(clock.assigned_at, first, last, count)


def run(spec: TrialSpec) -> Timing:
    return asyncio.run(_consume(spec))


if __name__ == "__main__":
    child_main(run)
