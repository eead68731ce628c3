"""Subscriptions: messages as JSON producers, CloudEvents' Kafka binding and Debezium write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

import schemas
from schemas import (
    ConfigError,
    EventTypeRegistry,
    EventValidationError,
    ForeignMessage,
    MappingCatalog,
    Skipped,
    SubscriptionCatalog,
)

SHIPPED = Path(schemas.__file__).parent
AT_MS = 1_795_600_000_000  # 2026-11-25T09:46:40Z, the broker's timestamp of every message here

SUBSCRIPTIONS = """
subscriptions:
  shop_orders:
    topic: shop.orders
    format: json
    mapping:
      type: {const: order.placed}
      source: {const: shop-json}
      occurred_at: created_at
      subject: customer
      dimensions: {region: region, channel: {path: channel, default: web}}
      measures: {amount: {path: total_cents, scale: 0.01}, items: items}
  shop_orders_with_id:
    topic: shop.orders.v2
    format: json
    mapping: csv_orders
  billing:
    topic: billing.events
    format: cloudevents
  shopdb:
    topic: shopdb.public.orders
    format: debezium
    rules:
      - table: public.orders
        op: [create, read]
        mapping:
          event_id: {path: after.id}
          type: {const: order.placed}
          source: {const: shop-db}
          occurred_at: {path: source.ts_ms, time: unix_ms}
          subject: after.customer_id
          dimensions: {region: after.region, channel: after.channel}
          measures: {amount: {path: after.total_cents, scale: 0.01}, items: after.items}
      - table: orders
        op: update
        when: "after.status == 'refunded' && before.status != 'refunded'"
        mapping:
          type: {const: order.refunded}
          source: {const: shop-db}
          occurred_at: {path: source.ts_ms, time: unix_ms}
          subject: after.customer_id
          dimensions: {region: after.region}
          measures: {amount: {path: after.total_cents, scale: 0.01}}
"""


@pytest.fixture(scope="module")
def registry() -> EventTypeRegistry:
    return EventTypeRegistry.from_mapping(yaml.safe_load((SHIPPED / "event_types.yaml").read_text()))


@pytest.fixture(scope="module")
def mappings() -> MappingCatalog:
    return MappingCatalog.from_mapping(yaml.safe_load((SHIPPED / "mappings.yaml").read_text()))


@pytest.fixture(scope="module")
def catalog(mappings: MappingCatalog) -> SubscriptionCatalog:
    return SubscriptionCatalog.from_mapping(yaml.safe_load(SUBSCRIPTIONS), mappings)


def message(
    topic: str,
    value: Any,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    offset: int = 7,
) -> ForeignMessage:
    raw = value if value is None or isinstance(value, bytes) else orjson.dumps(value)
    return ForeignMessage(topic, 2, offset, AT_MS, key, raw, headers or [], log="topic-id-1")


def translate(catalog, registry, mappings, msg: ForeignMessage):
    _, sub = catalog.by_topic()[msg.topic]
    return sub.translate(msg, registry, mappings)


# -- plain JSON -----------------------------------------------------------------------------------

ORDER = {
    "created_at": "2026-11-20T09:15:00+01:00",
    "customer": "c-1",
    "region": "EU",
    "total_cents": 4990,
    "items": 2,
}


def test_json_message_without_an_id_is_named_by_its_place_in_the_topic(catalog, registry, mappings) -> None:
    first = translate(catalog, registry, mappings, message("shop.orders", ORDER)).event
    again = translate(catalog, registry, mappings, message("shop.orders", ORDER)).event
    later = translate(catalog, registry, mappings, message("shop.orders", ORDER, offset=8)).event
    assert first is not None and again is not None and later is not None
    assert first == again  # a replay of the message is the same event, received_at included
    assert first.event_id != later.event_id  # another message of the same content is another event
    assert first.event_id.startswith("kafka-") and first.event_id.endswith(":2:7")
    assert (first.type, first.source, first.subject) == ("order.placed", "shop-json", "c-1")
    assert first.dimensions == {"region": "EU", "channel": "web"}
    assert first.measures == {"amount": 49.9, "items": 2.0}
    assert first.received_at is not None and int(first.received_at.timestamp() * 1000) == AT_MS


def test_json_message_with_a_declared_id_field_keeps_it(catalog, registry, mappings) -> None:
    row = {"order_id": "o-9", "created": "2026-11-20T09:15:00Z", "customer": "c", "country": "EU"}
    row |= {"total_cents": "1250", "items": "1"}
    event = translate(catalog, registry, mappings, message("shop.orders.v2", row)).event
    assert event is not None and event.identity == ("shop-csv", "o-9")


def test_json_problems_name_the_field(catalog, registry, mappings) -> None:
    with pytest.raises(EventValidationError) as bad:
        translate(catalog, registry, mappings, message("shop.orders", ORDER | {"total_cents": "lots"}))
    assert [(e.path, e.rule) for e in bad.value.errors] == [("total_cents", "type")]
    with pytest.raises(EventValidationError) as not_json:
        translate(catalog, registry, mappings, message("shop.orders", b"{not json"))
    assert [(e.path, e.rule) for e in not_json.value.errors] == [("$", "json")]
    assert translate(catalog, registry, mappings, message("shop.orders", None)).skipped is Skipped.TOMBSTONE


# -- CloudEvents, Kafka protocol binding ------------------------------------------------------------

CLOUDEVENT = {
    "specversion": "1.0",
    "id": "inv-1",
    "source": "https://billing.example.com/invoices",
    "type": "order.placed",
    "time": "2026-11-20T09:20:00Z",
    "subject": "customer-42",
    "datacontenttype": "application/json",
    "data": {"region": "EU", "channel": "app", "amount": 80, "items": 1, "invoice": "I-77"},
}


def test_cloudevent_structured_mode(catalog, registry, mappings) -> None:
    headers = [("content-type", b"application/cloudevents+json; charset=UTF-8")]
    event = translate(
        catalog, registry, mappings, message("billing.events", CLOUDEVENT, b"cus-42", headers)
    ).event
    assert event is not None
    assert event.identity == ("https://billing.example.com/invoices", "inv-1")
    assert (event.type, event.subject, event.dimensions, event.measures) == (
        "order.placed",
        "customer-42",
        {"region": "EU", "channel": "app"},
        {"amount": 80.0, "items": 1.0},
    )
    # the message key is the partitionkey extension, kept with the rest of the data
    assert event.payload == {"data": {"invoice": "I-77"}, "extensions": {"partitionkey": "cus-42"}}


def test_cloudevent_binary_mode_reads_ce_headers(catalog, registry, mappings) -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"inv-2"),
        ("ce_source", b"/billing"),
        ("ce_type", b"order.placed"),
        ("ce_time", b"2026-11-20T09:25:00Z"),
        ("ce_traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("content-type", b"application/json"),
    ]
    data = {"region": "US", "channel": "web", "amount": 12, "items": 1}
    event = translate(catalog, registry, mappings, message("billing.events", data, None, headers)).event
    assert event is not None and event.identity == ("/billing", "inv-2")
    assert event.measures == {"amount": 12.0, "items": 1.0}
    assert event.payload == {
        "extensions": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    }


def test_cloudevent_problems_name_the_attribute(catalog, registry, mappings) -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"x"),
        ("ce_source", b"/b"),
        ("ce_type", b"order.placed"),
    ]
    with pytest.raises(EventValidationError) as bad:
        translate(catalog, registry, mappings, message("billing.events", {"region": "EU"}, None, headers))
    paths = [e.path for e in bad.value.errors]
    assert paths[0] == "time" and "data.amount" in paths
    structured = [("content-type", b"application/cloudevents+json")]
    with pytest.raises(EventValidationError) as no_spec:
        translate(catalog, registry, mappings, message("billing.events", {"id": "1"}, None, structured))
    assert "specversion" in [e.path for e in no_spec.value.errors]
    tombstone = message("billing.events", None, b"k")
    assert translate(catalog, registry, mappings, tombstone).skipped is Skipped.TOMBSTONE


# -- Debezium -------------------------------------------------------------------------------------

ROW = {"id": "o-1", "customer_id": "c-7", "region": "EU", "channel": "web", "total_cents": 2500, "items": 3}


def change(op: str, before: dict | None, after: dict | None, lsn: int, schema: bool = False) -> dict:
    """A Debezium PostgreSQL change event, as its JSON converter writes it."""
    source = {
        "version": "2.7.0.Final",
        "connector": "postgresql",
        "name": "shopdb",
        "ts_ms": 1_795_600_000_000,
        "snapshot": "false",
        "db": "shop",
        "sequence": f'["{lsn - 8}","{lsn}"]',
        "schema": "public",
        "table": "orders",
        "txId": 771,
        "lsn": lsn,
        "xmin": None,
    }
    payload = {"before": before, "after": after, "source": source, "op": op, "ts_ms": 1_795_600_000_123}
    return (
        {"schema": {"type": "struct", "name": "shopdb.public.orders.Envelope"}, "payload": payload}
        if schema
        else payload
    )


KEY = orjson.dumps({"id": "o-1"})


@pytest.mark.parametrize("schema", [True, False], ids=["with-schema", "without-schema"])
def test_debezium_insert_is_an_order_placed(catalog, registry, mappings, schema: bool) -> None:
    msg = message("shopdb.public.orders", change("c", None, ROW, 100, schema), KEY)
    event = translate(catalog, registry, mappings, msg).event
    assert event is not None
    assert event.identity == ("shop-db", "o-1")
    assert event.type == "order.placed" and event.occurred_at.isoformat() == "2026-11-25T09:46:40+00:00"
    assert event.measures == {"amount": 25.0, "items": 3.0}


def test_debezium_status_update_to_refunded_is_an_order_refunded(catalog, registry, mappings) -> None:
    refunded = ROW | {"status": "refunded"}
    msg = message("shopdb.public.orders", change("u", ROW | {"status": "paid"}, refunded, 200), KEY)
    event = translate(catalog, registry, mappings, msg).event
    assert event is not None and event.type == "order.refunded" and event.measures == {"amount": 25.0}
    # named by the change's place in the database's log: Debezium sending it again is a copy
    resent = translate(
        catalog, registry, mappings, message("shopdb.public.orders", msg_value(msg), KEY, offset=99)
    )
    assert resent.event is not None and resent.event.event_id == event.event_id
    other = translate(
        catalog, registry, mappings, message("shopdb.public.orders", change("u", None, refunded, 300), KEY)
    )
    assert (
        other.event is not None and other.event.event_id != event.event_id
    )  # before is null: still a refund


def msg_value(msg: ForeignMessage) -> Any:
    assert msg.value is not None
    return orjson.loads(msg.value)


def test_debezium_changes_no_rule_asks_for_and_tombstones_are_skipped(catalog, registry, mappings) -> None:
    paid = message("shopdb.public.orders", change("u", ROW, ROW | {"status": "paid"}, 400), KEY)
    assert translate(catalog, registry, mappings, paid).skipped is Skipped.NO_RULE
    deleted = message("shopdb.public.orders", change("d", ROW, None, 500), KEY)
    assert translate(catalog, registry, mappings, deleted).skipped is Skipped.NO_RULE
    assert translate(catalog, registry, mappings, message("shopdb.public.orders", None, KEY)).skipped is (
        Skipped.TOMBSTONE
    )
    truncate = {"before": None, "after": None, "source": change("c", None, ROW, 1)["source"], "op": "t"}
    assert translate(catalog, registry, mappings, message("shopdb.public.orders", truncate)).skipped is (
        Skipped.NOT_A_ROW_CHANGE
    )


def test_debezium_problems_name_the_field(catalog, registry, mappings) -> None:
    broken = change("c", None, ROW | {"total_cents": "n/a"}, 600)
    with pytest.raises(EventValidationError) as bad:
        translate(catalog, registry, mappings, message("shopdb.public.orders", broken, KEY))
    assert [(e.path, e.rule) for e in bad.value.errors] == [("after.total_cents", "type")]
    with pytest.raises(EventValidationError) as no_op:
        translate(catalog, registry, mappings, message("shopdb.public.orders", {"source": {}, "op": "x"}))
    assert [e.path for e in no_op.value.errors] == ["op"]


# -- loading --------------------------------------------------------------------------------------


def test_bad_subscriptions_are_named(mappings) -> None:
    data = {
        "subscriptions": {
            "a": {"topic": "t1", "format": "json"},
            "b": {"topic": "t1", "format": "cloudevents", "mapping": "nope"},
            "c": {
                "topic": "okrstream.events.raw",
                "format": "debezium",
                "rules": [],
                "mapping": "csv_orders",
            },
        }
    }
    with pytest.raises(ConfigError) as bad:
        SubscriptionCatalog.from_mapping(data, mappings)
    assert [e.path for e in bad.value.errors] == ["subscriptions.c.rules"]
    data["subscriptions"]["c"]["rules"] = [{"table": "orders", "op": "create", "mapping": {"type": "x"}}]
    with pytest.raises(ConfigError) as bad_rule:
        SubscriptionCatalog.from_mapping(data, mappings)
    assert any(e.path == "subscriptions.c.rules[0].mapping.source" for e in bad_rule.value.errors)
    data["subscriptions"]["c"]["rules"] = [
        {"table": "orders", "op": "create", "when": "after.status ==", "mapping": "csv_orders"}
    ]
    with pytest.raises(ConfigError) as bad_when:
        SubscriptionCatalog.from_mapping(data, mappings)
    assert any("JMESPath" in e.message for e in bad_when.value.errors)
    data["subscriptions"]["c"]["rules"] = [{"table": "orders", "op": "create", "mapping": BASE_MAPPING}]
    with pytest.raises(ConfigError) as bad_refs:
        SubscriptionCatalog.from_mapping(data, mappings, reserved_topics={"okrstream.events.raw"})
    assert [(e.path, e.rule) for e in bad_refs.value.errors] == [
        ("subscriptions.a.mapping", "required"),
        ("subscriptions.b.mapping", "unknown_mapping"),
        ("subscriptions.b.topic", "duplicate"),
        ("subscriptions.c.mapping", "not_allowed"),
        ("subscriptions.c.topic", "reserved"),
    ]


BASE_MAPPING = {"type": {"const": "order.placed"}, "source": {"const": "s"}, "occurred_at": "at"}


def test_shipped_example_loads(mappings) -> None:
    data = yaml.safe_load((SHIPPED / "subscriptions.yaml").read_text())
    catalog = SubscriptionCatalog.from_mapping(data, mappings)
    assert {s.format.value for s in catalog.subscriptions.values()} == {"json", "cloudevents", "debezium"}
