"""Log records built from events encoded one by one are the records built from the events."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas import (
    RECORD_FORMAT,
    decode_record,
    encode_event,
    encoded_log_records,
    event_to_json_dict,
    log_records,
    partition_for,
    validate_event,
)

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def event(event_id: str, **fields):
    data = {
        "event_id": event_id,
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-10-01T11:00:00+02:00",
        "dimensions": {"region": "EU", "city": 'Zürich "Nord"'},
        "measures": {"amount": 20.5},
        "payload": {"note": "line\nbreak", "tags": ["a", 1, None]},
    }
    return validate_event(data | fields, received_at=NOW)


def test_an_encoded_event_carries_its_identity_partition_and_json() -> None:
    e = event("ord-1")
    encoded = encode_event(e, 4)
    assert encoded.identity == ("shop", "ord-1")
    assert encoded.partition == partition_for("shop", "ord-1", 4)
    assert orjson.loads(encoded.json) == event_to_json_dict(e)


def test_records_of_encoded_events_are_byte_for_byte_the_records_of_the_events() -> None:
    events = [event(f"ord-{i}", subject=f"c-{i}" if i % 2 else None) for i in range(23)]
    expected = log_records(events, partitions=3, max_events=4)
    assert encoded_log_records((encode_event(e, 3) for e in events), max_events=4) == expected
    assert len(expected) > 3  # several records per partition: the chunking is compared too
    for _, record in expected:
        assert orjson.loads(record)["format"] == RECORD_FORMAT
        assert len(decode_record(record)) <= 4


def test_no_events_make_no_records() -> None:
    assert encoded_log_records([], max_events=4) == log_records([], 3, 4) == []
