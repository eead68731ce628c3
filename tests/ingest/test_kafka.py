"""The one way okrstream writes to Kafka, on a real broker: settings that callers may override, and
a flush that vouches for every send since the last one."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest import AcknowledgedSends, EventProducer, durable_producer
from schemas import decode_record, validate_event
from tests.conftest import read_topic


def test_a_caller_may_name_its_client_and_tune_the_producer(settings, topics) -> None:
    event = validate_event(
        {"event_id": "k1", "type": "order.placed", "source": "shop", "occurred_at": "2026-11-20T09:15:00Z"},
        received_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    with EventProducer(
        settings.kafka_bootstrap_servers, settings, client_id="bench", linger_ms=2
    ) as producer:
        assert producer.send([event]) == 1
        producer.flush(30)
    [message] = read_topic(settings, settings.raw_topic)
    assert [e["event_id"] for e in decode_record(message.value)] == ["k1"]


def test_flush_returns_once_the_broker_holds_what_was_sent(settings, topics) -> None:
    sends = AcknowledgedSends(durable_producer(settings.kafka_bootstrap_servers, "test"))
    try:
        sends.send(settings.dead_letter_topic, b'{"n": 1}', key=b"k")
        sends.flush(30)
        [message] = read_topic(settings, settings.dead_letter_topic)
        assert (message.key, message.value) == (b"k", b'{"n": 1}')
        sends.flush(30)  # nothing pending since: nothing to vouch for, nothing raised
    finally:
        sends.close(5)
