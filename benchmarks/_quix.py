"""Quix Streams with a small batching ClickHouse sink (quixstreams' BatchingSink base).

Rows are okrstream's own (`event_row`), as the floor builds them, so only the framework differs.

Quix flushes a sink at each checkpoint: every `batch_size` messages (`commit_every`) or every
0.5 s (`commit_interval`, like okrstream's `batch_max_seconds`), one insert per partition.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from quixstreams import Application
from quixstreams.sinks import BatchingSink, SinkBatch

from processors.clickhouse import BatchPosition, event_row

from ._store import insert, landed, open_store
from ._trial import Timing, TrialSpec, child_main


class ClickHouseSink(BatchingSink):
    """One clickhouse-connect insert per partition batch; stops the app once `target` events landed."""

    def __init__(self, client: Client, database: str, target: int, app: Application) -> None:
        super().__init__()
        self._client = client
        self._database = database
        self._target = target
        self._app = app
        self.inserted = 0

    def write(self, batch: SinkBatch) -> None:
        items = list(batch)
        if not items:
            return
        position = BatchPosition(batch.topic, batch.partition, items[0].offset, items[-1].offset)
        rows = [
            event_row(item.value, item.offset, datetime.fromtimestamp(item.timestamp / 1000, UTC), position)
            for item in items
        ]
        insert(self._client, self._database, rows)
        self.inserted += len(rows)
        if self.inserted >= self._target:
            self._app.stop()


class _TimedApplication(Application):
    """Remembers when the consumer first got partitions (quixstreams has no public hook for it)."""

    assigned_at: float | None = None

    def _on_assign(self, consumer: Any, topic_partitions: list[Any]) -> None:
        if topic_partitions and self.assigned_at is None:
            self.assigned_at = time.time()
        super()._on_assign(consumer, topic_partitions)


def run(spec: TrialSpec) -> Timing:
    client = open_store(spec.data_dir, spec.database)
    app = _TimedApplication(
        broker_address=spec.bootstrap_servers,
        consumer_group=spec.group,
        auto_offset_reset="earliest",
        commit_every=spec.batch_size,
        commit_interval=0.5,
        state_dir=f"{spec.data_dir}/quix-state",
        use_changelog_topics=False,
        auto_create_topics=False,
        loglevel=logging.WARNING,
        consumer_extra_config={
            "session.timeout.ms": int(spec.session_timeout_s * 1000),
            "heartbeat.interval.ms": int(spec.session_timeout_s * 200),
        },
    )
    topic = app.topic(spec.topic, value_deserializer="json")
    sink = ClickHouseSink(client, spec.database, spec.events, app)
    app.dataframe(topic).sink(sink)
    app.run()  # no count/timeout: those make quixstreams collect every output; the sink stops it
    count, first, last = landed(client, spec.database)
    client.close()
    assert app.assigned_at is not None
    return Timing(app.assigned_at, first, last, count)


if __name__ == "__main__":
    child_main(run)
