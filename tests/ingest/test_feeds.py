"""ForeignFeeds on the real broker: a batch's events in the raw log, routed by identity; its
invalid messages in the dead-letter topic with their place; tombstones in neither."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import yaml

import schemas
from ingest import EventProducer, ForeignFeeds
from processors.runtime import load_registry
from schemas import ForeignMessage, MappingCatalog, Settings, SubscriptionCatalog, partition_for
from tests.conftest import read_topic

SHIPPED = Path(schemas.__file__).parent
FAILED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ORDER = {
    "order_id": "o-1",
    "created_at": "2026-11-20T09:15:00Z",
    "customer_id": "c-1",
    "total_cents": 990,
    "items": 1,
}


def test_forward_appends_events_and_dead_letters_with_their_place(settings: Settings, topics, logged) -> None:
    mappings = MappingCatalog.from_mapping(yaml.safe_load((SHIPPED / "mappings.yaml").read_text()))
    subscriptions = SubscriptionCatalog.from_mapping(
        yaml.safe_load((SHIPPED / "subscriptions.yaml").read_text()), mappings
    )
    producer = EventProducer(settings.kafka_bootstrap_servers or "", settings)
    feeds = ForeignFeeds(subscriptions, load_registry(settings), mappings, producer, clock=lambda: FAILED_AT)
    assert feeds.topics == ["billing.events", "shop.orders", "shopdb.public.orders"]

    def message(offset: int, value: bytes | None, key: bytes | None = None) -> ForeignMessage:
        return ForeignMessage(
            "shop.orders", 1, offset, 1_795_600_000_000, key, value, [("trace", b"\xff\x00")]
        )

    batch = [
        message(10, orjson.dumps(ORDER), b"o-1"),
        message(11, orjson.dumps(ORDER | {"total_cents": "lots"}), b"\xfe"),
        message(12, None, b"o-1"),
        message(13, orjson.dumps(ORDER | {"order_id": "o-2"})),
    ]
    try:
        outcomes = feeds.forward(batch)
    finally:
        feeds.close()

    assert dict(outcomes) == {
        ("shop_orders", "event"): 2,
        ("shop_orders", "dead_letter"): 1,
        ("shop_orders", "tombstone"): 1,
    }
    assert feeds.outcomes == outcomes
    landed = logged("raw")
    assert sorted((e["source"], e["event_id"]) for e in landed) == [("shop", "o-1"), ("shop", "o-2")]
    assert {e["received_at"] for e in landed} == {"2026-11-25T09:46:40.000000Z"}  # the message's broker time
    for m in read_topic(settings, settings.raw_topic):
        for event in schemas.decode_record(m.value):
            assert m.partition == partition_for(event["source"], event["event_id"], settings.topic_partitions)
    [dead] = logged("deadletter")
    assert dead["origin"] == "shop.orders[1]@11"
    assert dead["kafka"] == {
        "subscription": "shop_orders",
        "topic": "shop.orders",
        "partition": 1,
        "offset": 11,
        "key": "base64:/g==",
        "headers": [["trace", "base64:/wA="]],
    }
    assert dead["errors"] == [
        {
            "path": "total_cents",
            "message": "measures.amount: must be a number, got string 'lots'",
            "rule": "type",
        }
    ]
    assert dead["processor"]["name"] == "feeds" and dead["failed_at"] == "2026-12-01T09:00:00Z"
    assert orjson.loads(dead["raw"])["total_cents"] == "lots"
