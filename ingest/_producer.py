"""The Python producer: validated events into the raw log, rejections into the dead-letter log."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from schemas import EncodedEvent, RawEvent, Settings, encoded_log_records, log_records

from ._journal import Journal
from ._kafka import AcknowledgedSends, durable_producer


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
        self._tickets: list[Path] = []
        config = {"client_id": "okrstream-producer"} | overrides  # a caller may name its client
        self._sends = AcknowledgedSends(durable_producer(bootstrap_servers, **config))
        partitions = self._sends.producer.partitions_for(settings.raw_topic)
        if not partitions:
            raise RuntimeError(f"topic {settings.raw_topic!r} does not exist: create it first")
        self.partitions = len(partitions)

    def send(self, events: Iterable[RawEvent]) -> int:
        """Queue events for sending; returns how many. Call `flush()` to wait until they are durable."""
        events = list(events)
        self.send_records(log_records(events, self.partitions, self._settings.record_max_events))
        return len(events)

    def send_encoded(self, events: Iterable[EncodedEvent]) -> None:
        """Queue events encoded where they were validated (`schemas.encode_event`), as `send` would."""
        self.send_records(encoded_log_records(events, self._settings.record_max_events))

    def send_records(self, records: list[tuple[int, bytes]]) -> None:
        """Queue encoded log records, each to its partition (journaled first when there is a journal)."""
        if self._journal is not None and records:
            self._tickets.append(self._journal.write(records))
        for partition, record in records:
            self._sends.send(self._settings.raw_topic, record, partition=partition)

    def send_dead_letter(self, record: dict[str, Any], key: str | None = None) -> None:
        """Queue one dead-letter record (a JSON object saying what failed and why)."""
        self._sends.send(
            self._settings.dead_letter_topic, orjson.dumps(record), key=key.encode() if key else None
        )

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued is acknowledged by the broker; raises if any send failed."""
        try:
            self._sends.flush(timeout)
        finally:
            tickets, self._tickets = self._tickets, []
            for ticket in tickets:
                self._journal.done(ticket)  # type: ignore[union-attr]

    def close(self) -> None:
        self._sends.close()
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
