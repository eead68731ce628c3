"""Per-type contracts: YAML forms, every check rule, policy for unknown types, and bad definitions."""

from pathlib import Path
from typing import Any

import pytest
import yaml

import schemas
from schemas import (
    ConfigError,
    DimensionSpec,
    EventTypeRegistry,
    EventValidationError,
    FieldError,
    MeasureSpec,
    RawEvent,
    UnknownTypePolicy,
    validate_event,
)

REGISTRY_YAML = """
event_types:
  order.placed:
    description: An order was placed in the shop
    dimensions:
      region: string
      channel: {enum: [web, app, store]}
    measures:
      amount: number
      items: {type: integer, min: 1, max: 100}
    optional_dimensions: {coupon: {enum: [SUMMER, WINTER]}}
    optional_measures: {discount: {type: number, min: 0}}
    subject: required
  ticket.opened:
"""


@pytest.fixture
def registry() -> EventTypeRegistry:
    return EventTypeRegistry.from_mapping(yaml.safe_load(REGISTRY_YAML))


def order(**changes: Any) -> RawEvent:
    data = {
        "event_id": "o-1",
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-10-01T12:00:00Z",
        "subject": "cust-1",
        "dimensions": {"region": "eu", "channel": "web"},
        "measures": {"amount": 10, "items": 2},
        **changes,
    }
    return validate_event(data)


def test_short_and_long_forms(registry: EventTypeRegistry) -> None:
    schema = registry.event_types["order.placed"]
    assert registry.unknown_types is UnknownTypePolicy.ACCEPT
    assert schema.description == "An order was placed in the shop"
    assert schema.dimensions == {
        "region": DimensionSpec(),
        "channel": DimensionSpec(enum=("web", "app", "store")),
    }
    assert schema.measures == {
        "amount": MeasureSpec(type="number"),
        "items": MeasureSpec(type="integer", min=1, max=100),
    }
    assert schema.subject == "required"
    empty = registry.event_types["ticket.opened"]
    assert (empty.dimensions, empty.measures, empty.subject) == ({}, {}, "optional")


@pytest.mark.parametrize("data", [None, {}, {"event_types": None}])
def test_empty_registry_accepts_everything(data: Any) -> None:
    registry = EventTypeRegistry.from_mapping(data)
    assert registry.event_types == {}
    assert registry.check(order(type="any.thing")) == ()


def test_valid_event_passes(registry: EventTypeRegistry) -> None:
    assert registry.check(order()) == ()
    extra = order(
        dimensions={"region": "eu", "channel": "app", "coupon": "SUMMER", "campaign": "x"},
        measures={"amount": 1.5, "items": 100, "discount": 0, "tax": -3},
    )
    assert registry.check(extra) == ()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"dimensions": {"channel": "web"}},
            FieldError("dimensions.region", "field required for order.placed", "required_dimension"),
        ),
        (
            {"dimensions": {"region": "eu", "channel": "fax"}},
            FieldError("dimensions.channel", "must be one of web, app, store; got 'fax'", "enum"),
        ),
        (
            {"dimensions": {"region": "eu", "channel": "web", "coupon": "spring"}},
            FieldError("dimensions.coupon", "must be one of SUMMER, WINTER; got 'spring'", "enum"),
        ),
        (
            {"measures": {"items": 2}},
            FieldError("measures.amount", "field required for order.placed", "required_measure"),
        ),
        (
            {"measures": {"amount": 1, "items": 2.5}},
            FieldError("measures.items", "must be an integer, got 2.5", "measure_type"),
        ),
        ({"measures": {"amount": 1, "items": 0}}, FieldError("measures.items", "must be >= 1, got 0", "min")),
        (
            {"measures": {"amount": 1, "items": 101}},
            FieldError("measures.items", "must be <= 100, got 101", "max"),
        ),
        (
            {"measures": {"amount": 1, "items": 1, "discount": -0.5}},
            FieldError("measures.discount", "must be >= 0, got -0.5", "min"),
        ),
        ({"subject": None}, FieldError("subject", "field required for order.placed", "required")),
    ],
)
def test_each_check_rule(registry: EventTypeRegistry, changes: dict[str, Any], expected: FieldError) -> None:
    assert registry.check(order(**changes)) == (expected,)


def test_all_registry_errors_at_once(registry: EventTypeRegistry) -> None:
    data = order(subject=None, dimensions={"channel": "fax"}, measures={"items": 0.5}).model_dump()
    with pytest.raises(EventValidationError) as caught:
        validate_event(data, registry)
    assert [(e.path, e.rule) for e in caught.value.errors] == [
        ("subject", "required"),
        ("dimensions.region", "required_dimension"),
        ("dimensions.channel", "enum"),
        ("measures.amount", "required_measure"),
        ("measures.items", "measure_type"),
    ]


def test_shape_errors_come_before_contract_checks(registry: EventTypeRegistry) -> None:
    data = {**order().model_dump(), "event_id": ""}
    with pytest.raises(EventValidationError) as caught:
        validate_event(data, registry)
    assert [e.rule for e in caught.value.errors] == ["min_length"]


def test_reject_policy() -> None:
    registry = EventTypeRegistry.from_mapping(
        {"unknown_types": "reject", "event_types": {"order.placed": {}}}
    )
    assert registry.check(order()) == ()
    assert registry.check(order(type="order.lost")) == (
        FieldError("type", "unknown event type 'order.lost'", "unknown_type"),
    )
    with pytest.raises(EventValidationError, match="unknown event type"):
        validate_event(order(type="order.lost").model_dump(), registry)


def test_bad_definitions_are_all_reported_naming_the_type() -> None:
    data = yaml.safe_load("""
unknown_types: sometimes
event_types:
  Order:
    measures: {amount: number}
  order.placed:
    dimensions: {region: text, Channel: string}
    measures:
      amount: float
      items: {type: integer, min: 5, max: 1}
    colour: red
  deal.closed:
    measures: {amount: number}
    optional_measures: {amount: number}
  ticket.opened:
    subject: maybe
""")
    with pytest.raises(ConfigError) as caught:
        EventTypeRegistry.from_mapping(data)
    errors = {e.path: e for e in caught.value.errors}
    assert set(errors) == {
        "unknown_types",
        "event_types.Order",
        "event_types.order.placed.dimensions.region.type",
        "event_types.order.placed.dimensions.Channel",
        "event_types.order.placed.measures.amount.type",
        "event_types.order.placed.measures.items",
        "event_types.order.placed.colour",
        "event_types.deal.closed",
        "event_types.ticket.opened.subject",
    }
    assert errors["event_types.Order"].rule == "invalid_key"
    assert errors["event_types.order.placed.measures.amount.type"].message == (
        "must be 'number' or 'integer', got 'float'"
    )
    assert errors["event_types.order.placed.measures.items"].message == "min 5 is greater than max 1"
    assert errors["event_types.deal.closed"].message == "declared both required and optional: amount"
    assert "event_types.order.placed.measures.items: min 5 is greater than max 1" in str(caught.value)


def test_shipped_event_types_parse() -> None:
    text = (Path(schemas.__file__).parent / "event_types.yaml").read_text()
    registry = EventTypeRegistry.from_mapping(yaml.safe_load(text))
    assert registry.unknown_types is UnknownTypePolicy.ACCEPT
    expected = {
        "order.placed": ({"region", "channel"}, {"amount", "items"}),
        "order.refunded": ({"region"}, {"amount"}),
        "customer.signed_up": ({"region", "plan"}, set()),
        "deal.closed": ({"region", "segment"}, {"amount"}),
        "ticket.opened": ({"priority", "channel"}, set()),
        "ticket.answered": ({"priority"}, {"first_response_seconds"}),
        "session.started": ({"region", "channel"}, set()),
        "subscription.changed": ({"plan"}, {"active_subscribers"}),
        "okr.check_in": ({"key_result", "milestone"}, set()),
    }
    got = {name: (set(s.dimensions), set(s.measures)) for name, s in registry.event_types.items()}
    assert got == expected
    assert registry.check(order(subject=None)) == ()
