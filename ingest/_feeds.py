"""Foreign topics into the event log: each message translated, the events appended to the raw log.

A worker reads the topics its subscriptions name (in its own consumer group, so their offsets
and lag are tracked like the raw topic's) and hands each batch of messages here. The events go
to the raw log through the same producer as every other writer, routed by identity, so the
sink lands them with the same exactly-once rules; invalid messages go to the dead-letter topic
with their place in the foreign topic. A batch is acknowledged only after `forward` returned:
a worker that dies before translates the same messages again into the same identities, and the
sink drops those copies.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from schemas import (
    EventTypeRegistry,
    EventValidationError,
    ForeignMessage,
    MappingCatalog,
    RawEvent,
    SubscriptionCatalog,
    dead_letter_record,
)

from ._producer import EventProducer

EVENT, DEAD_LETTER = "event", "dead_letter"  # outcomes beside the reasons of schemas.Skipped


class ForeignFeeds:
    """Translates messages of the subscribed topics and appends what they make to the log."""

    def __init__(
        self,
        subscriptions: SubscriptionCatalog,
        registry: EventTypeRegistry,
        mappings: MappingCatalog,
        producer: EventProducer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._by_topic = subscriptions.by_topic()
        self._registry = registry
        self._mappings = mappings
        self._producer = producer
        self._clock = clock
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (subscription, outcome) -> messages

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def forward(self, messages: Sequence[ForeignMessage]) -> Counter[tuple[str, str]]:
        """Append the batch's events and dead letters, and wait until the broker acknowledged them.

        Returns what became of the messages, per subscription; raises if the broker failed, and
        the caller then forwards the same messages again.
        """
        events: list[RawEvent] = []
        outcomes: Counter[tuple[str, str]] = Counter()
        for message in messages:
            name, subscription = self._by_topic[message.topic]
            try:
                translation = subscription.translate(message, self._registry, self._mappings)
            except EventValidationError as e:
                self._producer.send_dead_letter(self._dead_letter(name, message, e), key=message.origin)
                outcomes[(name, DEAD_LETTER)] += 1
                continue
            if translation.event is None:
                assert translation.skipped is not None
                outcomes[(name, translation.skipped.value)] += 1
            else:
                events.append(translation.event)
                outcomes[(name, EVENT)] += 1
        self._producer.send(events)
        self._producer.flush()
        self.outcomes.update(outcomes)
        return outcomes

    def close(self) -> None:
        self._producer.close()

    def _dead_letter(self, name: str, message: ForeignMessage, error: EventValidationError) -> dict[str, Any]:
        raw = b"" if message.value is None else message.value
        kafka = {
            "subscription": name,
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": _text(message.key),
            "headers": [[header, _text(value)] for header, value in message.headers],
        }
        return dead_letter_record(
            origin=message.origin,
            errors=error.errors,
            raw=raw.decode("utf-8", "replace"),
            failed_at=self._clock(),
            processor="feeds",
            kafka=kafka,
        )


def _text(value: bytes | None) -> str | None:
    """UTF-8 text as it is; other bytes as base64, so a dead letter keeps them exactly."""
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode()
