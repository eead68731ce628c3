"""The Python producer: validated events into the raw log, rejections into the dead-letter log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson
from kafka import KafkaProducer

from schemas import RawEvent, Settings, chunk, encode_record, event_to_json_dict, partition_for

from ._journal import Journal


class ProducerError(RuntimeError):
    """Some records were not acknowledged by the broker: nothing may be reported as accepted."""


class EventProducer:
    """Sends events durably (acks=all, idempotent), grouped into log records per partition.

    Every copy of one (source, event_id) goes to the partition `partition_for` names, so the one
    sink that owns that partition sees all copies in order and can keep the first.
    """

    def __init__(
        self, bootstrap_servers: str, settings: Settings, journal: Journal | None = None, **overrides: Any
    ) -> None:
        self._settings = settings
        self._journal = journal  # set when the broker's log is memory-only: flush() is durable then
        self._tickets: list[Any] = []
        config: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 20,
            "batch_size": 512 * 1024,
            "max_request_size": 8 * 1024 * 1024,
            "compression_type": "lz4",
            "client_id": "okrstream-producer",
        } | overrides
        self._producer = KafkaProducer(**config)
        self._pending: list[Any] = []
        partitions = self._producer.partitions_for(settings.raw_topic)
        if not partitions:
            raise RuntimeError(f"topic {settings.raw_topic!r} does not exist: create it first")
        self.partitions = len(partitions)

    def send(self, events: Iterable[RawEvent]) -> int:
        """Queue events for sending; returns how many. Call `flush()` to wait until they are durable."""
        by_partition: dict[int, list[dict[str, Any]]] = defaultdict(list)
        count = 0
        for event in events:
            by_partition[partition_for(event.source, event.event_id, self.partitions)].append(
                event_to_json_dict(event)
            )
            count += 1
        self.send_records(
            [
                (partition, encode_record(group))
                for partition, dicts in by_partition.items()
                for group in chunk(dicts, self._settings.record_max_events)
            ]
        )
        return count

    def send_records(self, records: list[tuple[int, bytes]]) -> None:
        """Queue encoded log records, each to its partition (journaled first when there is a journal)."""
        if self._journal is not None and records:
            self._tickets.append(self._journal.write(records))
        topic = self._settings.raw_topic
        for partition, record in records:
            self._pending.append(self._producer.send(topic, record, partition=partition))

    def send_dead_letter(self, record: dict[str, Any], key: str | None = None) -> None:
        """Queue one dead-letter record (a JSON object saying what failed and why)."""
        self._pending.append(
            self._producer.send(
                self._settings.dead_letter_topic,
                value=orjson.dumps(record),
                key=key.encode() if key else None,
            )
        )

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued is acknowledged by the broker; raises if any send failed."""
        try:
            self._producer.flush(timeout)
        finally:
            tickets, self._tickets = self._tickets, []
            for ticket in tickets:
                self._journal.done(ticket)  # type: ignore[union-attr]
        pending, self._pending = self._pending, []
        for future in pending:
            if future.failed():
                raise ProducerError("the broker did not acknowledge every record") from future.exception

    def close(self) -> None:
        self._producer.close()
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
