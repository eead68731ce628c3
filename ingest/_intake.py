"""Validate incoming events one by one; send the valid ones to the log, the rest to dead letters."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import (
    EncodedEvent,
    EventTypeRegistry,
    EventValidationError,
    FieldError,
    RawEvent,
    dead_letter_record,
    encode_event,
    validate_event,
)

from ._producer import EventProducer

Identity = tuple[str, str]
# Which of these identities the store already holds (the sink would drop them); None: it cannot say
StoredLookup = Callable[[Collection[Identity]], set[Identity] | None]


@dataclass
class IngestSummary:
    accepted: int = 0  # valid and not a copy within the input: new + already_stored + unchecked
    rejected: int = 0
    duplicates: int = 0  # copies of an identity already accepted from this same input
    errors: list[tuple[int | None, str]] = field(default_factory=list)  # (line, reason)
    new: int = 0  # sent: not in the store when asked
    already_stored: int = 0  # in the store when asked: not sent again
    unchecked: int = 0  # sent without the store's answer (no lookup, or it failed)


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
        stored: StoredLookup | None = None,
    ) -> None:
        """`convert` turns a decoded input into an event (default: it is a canonical event already).

        `stored` is asked, for every `send_every` accepted events before they are sent, which of
        them the store already holds: those are counted as already stored and not sent again.
        It is asked on a thread of its own, one chunk at a time and in order, so the lookup and
        the send of one chunk overlap the validation of the next.
        """
        self._stored = stored
        self._worker = ThreadPoolExecutor(1, "okrstream-intake") if stored is not None else None
        self._in_flight: Future[None] | None = None
        self._producer = producer
        self._origin = origin
        self._send_every = send_every
        self._clock = clock
        self._convert = convert or (lambda data, now: validate_event(data, registry, received_at=now))
        self._seen: set[tuple[str, str]] = set()
        self._pending: list[EncodedEvent] = []
        self.summary = IngestSummary()

    def offer(self, data: Any, raw: str, line: int | None = None) -> RawEvent | None:
        """Validate one decoded event; returns it when accepted (None when rejected or a duplicate)."""
        now = self._clock()
        try:
            event = self._convert(data, now)
        except EventValidationError as e:
            self.reject(e.errors, raw, line)
            return None
        return event if self.accept(encode_event(event, self._producer.partitions)) else None

    def accept(self, event: EncodedEvent) -> bool:
        """Take one event validated and encoded elsewhere (a worker process); False for a duplicate."""
        if event.identity in self._seen:
            self.summary.duplicates += 1
            return False
        self._seen.add(event.identity)
        self._pending.append(event)
        self.summary.accepted += 1
        if len(self._pending) >= self._send_every:
            self._send()
        return True

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
        self._wait()
        if self._worker is not None:
            self._worker.shutdown()
        self._producer.flush()
        return self.summary

    def _send(self) -> None:
        events, self._pending = self._pending, []
        if not events:
            return
        if self._worker is None:
            self._check_and_send(events)
            return
        self._wait()  # at most one chunk ahead of validation: memory stays bounded
        self._in_flight = self._worker.submit(self._check_and_send, events)

    def _wait(self) -> None:
        """Until the chunk in flight is sent; raises what sending it raised."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def _check_and_send(self, events: list[EncodedEvent]) -> None:
        known = self._stored([e.identity for e in events]) if self._stored is not None else None
        if known is None:
            self.summary.unchecked += len(events)
        else:
            fresh = [e for e in events if e.identity not in known]
            self.summary.new += len(fresh)
            self.summary.already_stored += len(events) - len(fresh)
            events = fresh
        self._producer.send_encoded(events)
