"""How events travel in the Kafka log: one log record carries a batch of events.

A faust agent spends about 200 microseconds of Python per Kafka message, so one event per
message caps a worker near 5,000 events/s. Producers therefore group events by partition and
send records of up to a few hundred events each; the sink unpacks them. Every copy of one
event identity (source, event_id) is routed to the same partition by `partition_for`, which
ClickHouse can compute too (`CRC32(concat(source, '\\0', event_id)) % partitions`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson

from ._event import RawEvent, event_to_json_dict

RECORD_FORMAT = "okrstream.events.v1"


def partition_for(source: str, event_id: str, partitions: int) -> int:
    """The partition every copy of the event (source, event_id) is written to."""
    return zlib.crc32(f"{source}\0{event_id}".encode()) % partitions


def encode_record(events: Sequence[dict[str, Any]]) -> bytes:
    """One log record: a JSON object holding a list of canonical event dicts."""
    return orjson.dumps({"format": RECORD_FORMAT, "events": events})


class EncodedEvent(NamedTuple):
    """A validated event encoded for the log where it was validated (say, in a worker process),
    with what the writer needs without decoding it: its identity and partition."""

    source: str
    event_id: str
    partition: int
    json: bytes  # the event's object, as `encode_record` writes it inside a record

    @property
    def identity(self) -> tuple[str, str]:
        return (self.source, self.event_id)


def encode_event(event: RawEvent, partitions: int) -> EncodedEvent:
    # A copy of orjson's answer, whose own buffer is freed at once: kept by the thousand (a chunk
    # of a file), orjson's buffers made encoding 6.5 us an event, the copies 3.8 (measured).
    json = bytes(memoryview(orjson.dumps(event_to_json_dict(event))))
    partition = partition_for(event.source, event.event_id, partitions)
    return EncodedEvent(event.source, event.event_id, partition, json)


_RECORD_HEAD = b'{"format":' + orjson.dumps(RECORD_FORMAT) + b',"events":['


def encode_record_of(events: Sequence[bytes]) -> bytes:
    """`encode_record` of events already encoded one by one: the same bytes, joined, not re-encoded."""
    return _RECORD_HEAD + b",".join(events) + b"]}"


def encoded_log_records(events: Iterable[EncodedEvent], max_events: int) -> list[tuple[int, bytes]]:
    """`log_records` of encoded events: the same records, each at most `max_events` events."""
    by_partition: dict[int, list[bytes]] = {}
    for event in events:
        by_partition.setdefault(event.partition, []).append(event.json)
    return [
        (partition, encode_record_of(group))
        for partition, parts in by_partition.items()
        for group in chunk(parts, max_events)
    ]


def decode_record(value: bytes) -> list[Any]:
    """The events of one log record; raises ValueError when the record is not ours."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"record is not JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT:
        raise ValueError(f"record is not an {RECORD_FORMAT!r} object")
    events = doc.get("events")
    if not isinstance(events, list):
        raise ValueError("record has no 'events' list")
    return events


def log_records(events: Iterable[RawEvent], partitions: int, max_events: int) -> list[tuple[int, bytes]]:
    """Events as the log carries them: (partition, record) pairs, each record at most `max_events`
    events bound for one partition. Every writer of the raw log sends what this returns."""
    by_partition: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        partition = partition_for(event.source, event.event_id, partitions)
        by_partition.setdefault(partition, []).append(event_to_json_dict(event))
    return [
        (partition, encode_record(group))
        for partition, dicts in by_partition.items()
        for group in chunk(dicts, max_events)
    ]


def chunk(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """Consecutive lists of at most `size` items."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
