"""Validate incoming events one by one; send the valid ones to the log, the rest to dead letters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import (
    EventTypeRegistry,
    EventValidationError,
    FieldError,
    RawEvent,
    dead_letter_record,
    validate_event,
)

from ._producer import EventProducer


@dataclass
class IngestSummary:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0  # copies of an identity already accepted from this same input
    errors: list[tuple[int | None, str]] = field(default_factory=list)  # (line, reason)


class EventIntake:
    """One input's worth of events (a file, a demo feed); `finish()` makes everything durable."""

    def __init__(
        self,
        producer: EventProducer,
        registry: EventTypeRegistry,
        origin: str,
        *,
        send_every: int = 5000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        convert: Callable[[Any, datetime], RawEvent] | None = None,
    ) -> None:
        """`convert` turns a decoded input into an event (default: it is a canonical event already)."""
        self._producer = producer
        self._origin = origin
        self._send_every = send_every
        self._clock = clock
        self._convert = convert or (lambda data, now: validate_event(data, registry, received_at=now))
        self._seen: set[tuple[str, str]] = set()
        self._pending: list[RawEvent] = []
        self.summary = IngestSummary()

    def offer(self, data: Any, raw: str, line: int | None = None) -> RawEvent | None:
        """Validate one decoded event; returns it when accepted (None when rejected or a duplicate)."""
        now = self._clock()
        try:
            event = self._convert(data, now)
        except EventValidationError as e:
            self.reject(e.errors, raw, line)
            return None
        if event.identity in self._seen:
            self.summary.duplicates += 1
            return None
        self._seen.add(event.identity)
        self._pending.append(event)
        self.summary.accepted += 1
        if len(self._pending) >= self._send_every:
            self._send()
        return event

    def reject(self, errors: Sequence[FieldError], raw: str, line: int | None = None) -> None:
        """Send one rejected input to the dead-letter topic, saying why."""
        record = dead_letter_record(
            origin=self._origin, errors=errors, raw=raw, failed_at=self._clock(), line=line
        )
        self._producer.send_dead_letter(record, key=self._origin)
        self.summary.rejected += 1
        self.summary.errors.append((line, "; ".join(f"{e.path}: {e.message}" for e in errors)))

    def finish(self) -> IngestSummary:
        """Send what is pending and wait until the broker has acknowledged every record."""
        self._send()
        self._producer.flush()
        return self.summary

    def _send(self) -> None:
        self._producer.send(self._pending)
        self._pending = []
