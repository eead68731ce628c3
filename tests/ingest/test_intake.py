"""EventIntake and EventProducer on the real broker: the raw and dead-letter topics, and the summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest import EventIntake, EventProducer, IngestSummary, read_ndjson
from processors.runtime import load_registry
from schemas import FieldError, Settings, decode_record, partition_for, validate_event

NOW = datetime(2026, 10, 1, 12, 0, 0, tzinfo=UTC)


def order(event_id: str, source: str = "shop", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "order.placed",
        "source": source,
        "occurred_at": "2026-10-01T11:00:00+02:00",
        "dimensions": {"region": "EU", "channel": "web"},
        "measures": {"amount": 20.5, "items": 1},
        **fields,
    }


@pytest.fixture
def small_records(settings: Settings) -> Settings:
    """At most 2 events per log record, so one partition gets several records."""
    return settings.model_copy(update={"record_max_events": 2})


@pytest.fixture
def producer(small_records: Settings, topics) -> Iterator[EventProducer]:
    with EventProducer(small_records.kafka_bootstrap_servers, small_records) as producer:
        yield producer


def intake(producer: EventProducer, settings: Settings, origin: str = "file:test.ndjson") -> EventIntake:
    return EventIntake(producer, load_registry(settings), origin, send_every=3, clock=lambda: NOW)


def raw_events(messages: list) -> list[tuple[int, dict[str, Any]]]:
    """(partition, event) for every event in these raw-topic messages."""
    return [(m.partition, e) for m in messages for e in decode_record(m.value)]


def test_accepted_events_reach_the_raw_topic_on_their_identitys_partition(
    small_records, producer, topic_messages
) -> None:
    offered = [order(f"ord-{i}", source=("shop", "shop/eu", "pos")[i % 3]) for i in range(11)]
    events = intake(producer, small_records)
    for n, data in enumerate(offered, start=1):
        assert events.offer(data, orjson.dumps(data).decode(), line=n) is not None
    assert events.finish() == IngestSummary(accepted=11, unchecked=11)  # no store asked
    messages = topic_messages(small_records, small_records.raw_topic)
    assert all(len(decode_record(m.value)) <= 2 for m in messages)
    landed = [(m.partition, e) for m in messages for e in decode_record(m.value)]
    assert sorted(e["event_id"] for _, e in landed) == sorted(d["event_id"] for d in offered)
    for partition, event in landed:
        assert partition == partition_for(event["source"], event["event_id"], small_records.topic_partitions)
        assert validate_event(event).occurred_at == datetime(2026, 10, 1, 9, tzinfo=UTC)
        assert event["received_at"] == "2026-10-01T12:00:00.000000Z"  # stamped by the intake's clock


def test_every_copy_of_an_event_goes_to_the_same_partition(small_records, producer, topic_messages) -> None:
    offered = [order(f"ord-{i}") for i in range(8)] + [order("ord-0", source="crm")]
    first = intake(producer, small_records, origin="file:a.ndjson")
    for data in [*offered, offered[0], offered[3]]:  # two copies inside the same input
        first.offer(data, orjson.dumps(data).decode())
    assert first.finish() == IngestSummary(accepted=9, duplicates=2, unchecked=9)
    second = intake(producer, small_records, origin="file:b.ndjson")  # a client resends everything
    for data in offered:
        second.offer(data, orjson.dumps(data).decode())
    assert second.finish().accepted == 9
    partitions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for partition, event in raw_events(topic_messages(small_records, small_records.raw_topic)):
        partitions[(event["source"], event["event_id"])].append(partition)
    assert len(partitions) == 9
    assert {identity: len(set(seen)) for identity, seen in partitions.items()} == dict.fromkeys(partitions, 1)
    assert all(len(seen) == 2 for seen in partitions.values())  # in-input copies were never sent


def test_rejected_lines_reach_the_dead_letter_topic_with_line_errors_and_raw_text(
    small_records, producer, tmp_path: Path, topic_messages
) -> None:
    lines = [
        orjson.dumps(order("ok-1")).decode(),
        '{"event_id": "x", broken',
        orjson.dumps(order("bad-1", occurred_at="2026-10-01T11:00:00")).decode(),
        "",
        orjson.dumps(order("bad-2", measures={"amount": -1, "items": 0})).decode(),
        orjson.dumps(order("ok-1")).decode(),
    ]
    path = tmp_path / "orders.ndjson"
    path.write_text("\n".join(lines) + "\n")
    events = intake(producer, small_records, origin=f"file:{path}")
    for line in read_ndjson(path):  # as `okrstream ingest` does it
        if line.error is not None:
            events.reject([line.error], line.text, line.line)
        else:
            events.offer(line.data, line.text, line.line)
    summary = events.finish()
    assert (summary.accepted, summary.rejected, summary.duplicates) == (1, 3, 1)
    assert [line for line, _ in summary.errors] == [2, 3, 5]
    assert summary.errors[1][1] == "occurred_at: needs an explicit UTC offset, e.g. 2026-10-01T12:00:00Z"

    messages = topic_messages(small_records, small_records.dead_letter_topic)
    assert {m.key for m in messages} == {f"file:{path}".encode()}
    letters = sorted((orjson.loads(m.value) for m in messages), key=lambda r: r["line"])
    assert [(r["line"], r["raw"]) for r in letters] == [(2, lines[1]), (3, lines[2]), (5, lines[4])]
    assert [[(e["path"], e["rule"]) for e in r["errors"]] for r in letters] == [
        [("$", "json")],
        [("occurred_at", "timezone")],
        [("measures.amount", "min"), ("measures.items", "min")],
    ]
    assert all(r["origin"] == f"file:{path}" and r["failed_at"] == "2026-10-01T12:00:00Z" for r in letters)
    assert {r["processor"]["name"] for r in letters} == {"okrstream"}
    landed = raw_events(topic_messages(small_records, small_records.raw_topic))
    assert [e["event_id"] for _, e in landed] == ["ok-1"]


def test_reject_without_a_line_leaves_it_out(small_records, producer, topic_messages) -> None:
    events = intake(producer, small_records, origin="http")
    events.reject([FieldError("$", "body is not JSON", "json")], "<html>")
    assert events.finish() == IngestSummary(rejected=1, errors=[(None, "$: body is not JSON")])
    [message] = topic_messages(small_records, small_records.dead_letter_topic)
    letter = orjson.loads(message.value)
    assert "line" not in letter and letter["raw"] == "<html>"


def test_events_the_store_holds_are_counted_and_not_sent_again(
    small_records, producer, topic_messages
) -> None:
    """The lookup is asked once per chunk of `send_every`, in order; a chunk it cannot answer is sent."""
    held = {("shop", "ord-1"), ("shop", "ord-4"), ("shop", "ord-5"), ("shop", "ord-7")}
    asked: list[list[str]] = []

    def stored(identities):
        asked.append([event_id for _, event_id in identities])
        return None if len(asked) == 3 else {i for i in identities if i in held}

    events = EventIntake(producer, load_registry(small_records), "file:x", send_every=3, stored=stored)
    for i in [*range(9), 0]:  # ord-0 twice: the copy is a duplicate within the input, never asked about
        data = order(f"ord-{i}")
        events.offer(data, orjson.dumps(data).decode())
    summary = events.finish()
    assert asked == [["ord-0", "ord-1", "ord-2"], ["ord-3", "ord-4", "ord-5"], ["ord-6", "ord-7", "ord-8"]]
    assert summary == IngestSummary(accepted=9, duplicates=1, new=3, already_stored=3, unchecked=3)
    sent = raw_events(topic_messages(small_records, small_records.raw_topic))
    # ord-6 to ord-8 went unchecked, ord-7 too: the sink drops its copy
    assert sorted(e["event_id"] for _, e in sent) == ["ord-0", "ord-2", "ord-3", "ord-6", "ord-7", "ord-8"]
