"""KPI definitions: each aggregation, filters, health bands, and bad definitions named by KPI and field."""

from pathlib import Path
from typing import Any

import pytest
import yaml

import schemas
from schemas import (
    Aggregation,
    ConfigError,
    EventTypeRegistry,
    Filter,
    FilterOp,
    Grain,
    HealthBand,
    KpiCatalog,
    KpiDefinition,
    plan_kpis,
    ratio_value,
)

SHIPPED = Path(schemas.__file__).parent


def shipped_yaml(name: str) -> Any:
    return yaml.safe_load((SHIPPED / name).read_text())


@pytest.fixture(scope="module")
def shipped_registry() -> EventTypeRegistry:
    return EventTypeRegistry.from_mapping(shipped_yaml("event_types.yaml"))


@pytest.fixture(scope="module")
def strict_registry() -> EventTypeRegistry:
    """The shipped types, with undeclared types rejected, and an enum to check filter values against."""
    data = shipped_yaml("event_types.yaml")
    data["unknown_types"] = "reject"
    data["event_types"]["order.placed"]["dimensions"]["channel"] = {"enum": ["web", "app", "store"]}
    return EventTypeRegistry.from_mapping(data)


ORDERS = {"title": "Orders", "events": "order.placed", "aggregation": "count", "dimensions": ["region"]}
SESSIONS = {"title": "Sessions", "events": "session.started", "aggregation": "count"}
RATE = {"title": "Rate", "aggregation": "ratio", "numerator": "orders", "denominator": "sessions"}
REVENUE = {"title": "Revenue", "events": "order.placed", "aggregation": "sum", "measure": "amount"}
RESPONSE = {
    "title": "p90 first response",
    "events": "ticket.answered",
    "aggregation": "quantile",
    "measure": "first_response_seconds",
    "quantile": 0.9,
}


def build(registry: EventTypeRegistry, **kpis: Any) -> KpiCatalog:
    return KpiCatalog.from_mapping({"kpis": {"orders": ORDERS, "sessions": SESSIONS, **kpis}}, registry)


def big(**changes: Any) -> dict[str, Any]:
    """A count of deal.closed with one filter, changed as the case needs."""
    condition = {"field": "measures.amount", "op": "gt", "value": 100000, **changes}
    return {"title": "Big deals", "events": "deal.closed", "aggregation": "count", "filters": [condition]}


BAD = [
    ("name-case", {"Big_Deals": ORDERS}, "kpis.Big_Deals", "invalid KPI name 'Big_Deals': must match"),
    ("name-dash", {"big-deals": ORDERS}, "kpis.big-deals", "invalid KPI name"),
    ("name-too-long", {"k" * 64: ORDERS}, "kpis." + "k" * 64, "invalid KPI name"),
    ("not-an-object", {"k": 5}, "kpis.k", "must be an object, got number"),
    ("empty-definition", {"k": None}, "kpis.k", "must be an object, got null"),
    ("missing-title", {"k": {**ORDERS, "title": None}}, "kpis.k.title", "must be a string, got null"),
    ("no-title", {"k": {k: v for k, v in ORDERS.items() if k != "title"}}, "kpis.k.title", "field required"),
    ("empty-title", {"k": {**ORDERS, "title": ""}}, "kpis.k.title", "must not be empty"),
    ("unknown-field", {"k": {**ORDERS, "colour": "red"}}, "kpis.k.colour", "unknown field"),
    ("name-inside", {"k": {**ORDERS, "name": "k"}}, "kpis.k.name", "the key under kpis names the KPI"),
    ("bad-aggregation", {"k": {**REVENUE, "aggregation": "median"}}, "kpis.k.aggregation", "got 'median'"),
    (
        "no-aggregation",
        {"k": {"title": "K", "events": "order.placed"}},
        "kpis.k.aggregation",
        "field required",
    ),
    (
        "unknown-event-type",
        {"k": {**ORDERS, "events": ["order.plced"]}},
        "kpis.k.events[0]",
        "unknown event type 'order.plced'",
    ),
    ("bad-event-type-name", {"k": {**ORDERS, "events": "Orders"}}, "kpis.k.events[0]", "must match"),
    ("no-events", {"k": {**ORDERS, "events": []}}, "kpis.k.events", "must list at least one event type"),
    ("missing-events", {"k": {"title": "K", "aggregation": "count"}}, "kpis.k.events", "at least one"),
    (
        "repeated-event",
        {"k": {**ORDERS, "events": ["order.placed", "order.placed"]}},
        "kpis.k.events",
        "lists order.placed more than once",
    ),
    (
        "sum-without-measure",
        {"k": {**REVENUE, "measure": None}},
        "kpis.k.measure",
        "required for aggregation sum",
    ),
    (
        "count-with-measure",
        {"k": {**ORDERS, "measure": "amount"}},
        "kpis.k.measure",
        "not allowed with aggregation count (only with sum, avg, min, max, quantile, latest)",
    ),
    (
        "undeclared-measure",
        {"k": {**REVENUE, "events": "ticket.opened"}},
        "kpis.k.measure",
        "measure 'amount' is not declared by event type 'ticket.opened'",
    ),
    (
        "measure-not-on-every-type",
        {"k": {**REVENUE, "events": ["order.placed", "session.started"]}},
        "kpis.k.measure",
        "measure 'amount' is not declared by event type 'session.started'",
    ),
    (
        "latest-without-measure",
        {"k": {"title": "K", "events": "subscription.changed", "aggregation": "latest"}},
        "kpis.k.measure",
        "field required for aggregation latest",
    ),
    (
        "distinct-without-of",
        {"k": {**ORDERS, "aggregation": "count_distinct"}},
        "kpis.k.of",
        "field required for aggregation count_distinct",
    ),
    (
        "distinct-of-measure",
        {"k": {**ORDERS, "aggregation": "count_distinct", "of": "measures.amount"}},
        "kpis.k.of",
        "must be 'subject' or 'dimensions.<key>', got 'measures.amount'",
    ),
    (
        "distinct-of-undeclared",
        {"k": {**ORDERS, "aggregation": "count_distinct", "of": "dimensions.plan"}},
        "kpis.k.of",
        "dimension 'plan' is not declared by event type 'order.placed'",
    ),
    ("of-on-count", {"k": {**ORDERS, "of": "subject"}}, "kpis.k.of", "not allowed with aggregation count"),
    (
        "approximate-on-sum",
        {"k": {**REVENUE, "approximate": True}},
        "kpis.k.approximate",
        "not allowed with aggregation sum (only with count_distinct, quantile)",
    ),
    (
        "quantile-above-one",
        {"k": {**RESPONSE, "quantile": 1.5}},
        "kpis.k.quantile",
        "must be between 0 and 1 (exclusive), got 1.5",
    ),
    (
        "quantile-one",
        {"k": {**RESPONSE, "quantile": 1}},
        "kpis.k.quantile",
        "between 0 and 1 (exclusive), got 1",
    ),
    (
        "quantile-zero",
        {"k": {**RESPONSE, "quantile": 0}},
        "kpis.k.quantile",
        "between 0 and 1 (exclusive), got 0",
    ),
    (
        "quantile-text",
        {"k": {**RESPONSE, "quantile": "p90"}},
        "kpis.k.quantile",
        "must be a number, got string",
    ),
    (
        "quantile-missing",
        {"k": {**RESPONSE, "quantile": None}},
        "kpis.k.quantile",
        "required for aggregation quantile",
    ),
    (
        "quantile-on-avg",
        {"k": {**RESPONSE, "aggregation": "avg"}},
        "kpis.k.quantile",
        "not allowed with aggregation avg",
    ),
    ("ratio-unknown-kpi", {"k": {**RATE, "numerator": "ordrs"}}, "kpis.k.numerator", "unknown KPI 'ordrs'"),
    ("ratio-of-itself", {"k": {**RATE, "denominator": "k"}}, "kpis.k.denominator", "not the ratio itself"),
    ("ratio-bad-name", {"k": {**RATE, "numerator": "Orders"}}, "kpis.k.numerator", "must match"),
    (
        "ratio-no-denominator",
        {"k": {**RATE, "denominator": None}},
        "kpis.k.denominator",
        "required for aggregation ratio",
    ),
    (
        "ratio-with-measure",
        {"k": {**RATE, "measure": "amount"}},
        "kpis.k.measure",
        "not allowed with aggregation ratio",
    ),
    (
        "ratio-with-events",
        {"k": {**RATE, "events": "order.placed"}},
        "kpis.k.events",
        "not allowed with aggregation ratio: set events on its numerator and denominator",
    ),
    (
        "ratio-with-filters",
        {"k": {**RATE, "filters": big()["filters"]}},
        "kpis.k.filters",
        "set filters on its",
    ),
    ("numerator-on-count", {"k": {**ORDERS, "numerator": "sessions"}}, "kpis.k.numerator", "not allowed"),
    (
        "ratio-breakdown-not-on-input",
        {"k": {**RATE, "dimensions": ["region"]}},
        "kpis.k.dimensions[0]",
        "denominator 'sessions' cannot be broken down by 'region'",
    ),
    (
        "ratio-cycle",
        {"a": {**RATE, "numerator": "b"}, "b": {**RATE, "numerator": "a"}},
        "kpis.a.numerator",
        "ratio cycle: a -> b -> a",
    ),
    (
        "ratio-long-cycle",
        {
            "x": {**RATE, "denominator": "y"},
            "y": {**RATE, "denominator": "z"},
            "z": {**RATE, "numerator": "x"},
        },
        "kpis.x.denominator",
        "ratio cycle: x -> y -> z -> x",
    ),
    (
        "filter-bad-field",
        {"k": big(field="amount")},
        "kpis.k.filters[0].field",
        "must be 'subject', 'dimensions.<key>' or 'measures.<key>', got 'amount'",
    ),
    (
        "filter-bad-key",
        {"k": big(field="measures.Amount")},
        "kpis.k.filters[0].field",
        "got 'measures.Amount'",
    ),
    ("filter-bad-op", {"k": big(op="like")}, "kpis.k.filters[0].op", "got 'like'"),
    (
        "filter-gt-on-dimension",
        {"k": big(field="dimensions.region", value="eu")},
        "kpis.k.filters[0].op",
        "gt compares numbers, so it needs a 'measures.<key>' field, not 'dimensions.region'",
    ),
    (
        "filter-lt-on-subject",
        {"k": big(field="subject", op="lt")},
        "kpis.k.filters[0].op",
        "lt compares numbers",
    ),
    (
        "filter-number-as-text",
        {"k": big(value="100k")},
        "kpis.k.filters[0].value",
        "must be a number for measures.amount, got string '100k'",
    ),
    (
        "filter-boolean",
        {"k": big(value=True)},
        "kpis.k.filters[0].value",
        "must be a number for measures.amount, got boolean",
    ),
    ("filter-nan", {"k": big(value=float("nan"))}, "kpis.k.filters[0].value", "got nan"),
    (
        "filter-dimension-number",
        {"k": big(field="dimensions.region", op="eq", value=5)},
        "kpis.k.filters[0].value",
        "must be a string for dimensions.region, got number",
    ),
    ("filter-missing-value", {"k": big(value=None)}, "kpis.k.filters[0].value", "must be a number"),
    (
        "filter-no-value",
        {"k": {**big(), "filters": [{"field": "subject", "op": "eq"}]}},
        "kpis.k.filters[0].value",
        "field required",
    ),
    (
        "filter-in-single",
        {"k": big(field="dimensions.region", op="in", value="eu")},
        "kpis.k.filters[0].value",
        "must be a non-empty array for op in, got string 'eu'",
    ),
    (
        "filter-in-empty",
        {"k": big(op="in", value=[])},
        "kpis.k.filters[0].value",
        "non-empty array for op in, got array",
    ),
    (
        "filter-in-mixed",
        {"k": big(op="in", value=[1, "2"])},
        "kpis.k.filters[0].value",
        "item 1 must be a number, got string '2'",
    ),
    (
        "filter-eq-list",
        {"k": big(field="dimensions.region", op="eq", value=["eu", "us"])},
        "kpis.k.filters[0].value",
        "eq takes a single string, got an array; use op in",
    ),
    ("filter-extra-key", {"k": big(negate=True)}, "kpis.k.filters[0].negate", "unknown field"),
    (
        "filter-undeclared-dimension",
        {"k": big(field="dimensions.plan", op="eq", value="pro")},
        "kpis.k.filters[0].field",
        "dimension 'plan' is not declared by event type 'deal.closed'",
    ),
    (
        "filter-undeclared-measure",
        {"k": big(field="measures.items")},
        "kpis.k.filters[0].field",
        "measure 'items' is not declared by event type 'deal.closed'",
    ),
    (
        "filter-value-outside-enum",
        {"k": {**ORDERS, "filters": [{"field": "dimensions.channel", "op": "in", "value": ["web", "fax"]}]}},
        "kpis.k.filters[0].value",
        "must be one of web, app, store; got 'fax'",
    ),
    (
        "breakdown-undeclared",
        {"k": {**ORDERS, "dimensions": ["region", "segment"]}},
        "kpis.k.dimensions[1]",
        "dimension 'segment' is not declared by event type 'order.placed'",
    ),
    ("breakdown-bad-key", {"k": {**ORDERS, "dimensions": ["Region"]}}, "kpis.k.dimensions[0]", "must match"),
    (
        "breakdown-repeated",
        {"k": {**ORDERS, "dimensions": ["region", "region"]}},
        "kpis.k.dimensions",
        "more than once",
    ),
    (
        "health-no-band",
        {"k": {**ORDERS, "health": {"grain": "week"}}},
        "kpis.k.health",
        "needs exactly one of at_or_above, at_or_below, between; got none",
    ),
    (
        "health-two-bands",
        {"k": {**ORDERS, "health": {"at_or_above": 1, "at_or_below": 5}}},
        "kpis.k.health",
        "got at_or_above, at_or_below",
    ),
    (
        "health-between-reversed",
        {"k": {**ORDERS, "health": {"between": [5, 1]}}},
        "kpis.k.health.between",
        "lower bound 5 is greater than upper bound 1",
    ),
    (
        "health-between-three",
        {"k": {**ORDERS, "health": {"between": [1, 2, 3]}}},
        "kpis.k.health.between",
        "must be [low, high], got array of 3",
    ),
    (
        "health-between-scalar",
        {"k": {**ORDERS, "health": {"between": 3}}},
        "kpis.k.health.between",
        "must be [low, high], got number",
    ),
    (
        "health-bad-grain",
        {"k": {**ORDERS, "health": {"at_or_above": 1, "grain": "fortnight"}}},
        "kpis.k.health.grain",
        "got 'fortnight'",
    ),
    (
        "health-infinite",
        {"k": {**ORDERS, "health": {"at_or_below": float("inf")}}},
        "kpis.k.health.at_or_below",
        "must be a finite number",
    ),
    (
        "health-unknown-band",
        {"k": {**ORDERS, "health": {"above": 1}}},
        "kpis.k.health.above",
        "unknown field",
    ),
]


@pytest.mark.parametrize(
    ("kpis", "path", "message"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_each_bad_definition_is_named(
    strict_registry: EventTypeRegistry, kpis: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build(strict_registry, **kpis)
    found = [e for e in caught.value.errors if e.path == path]
    assert found, f"no error at {path}: {caught.value}"
    assert any(message in e.message for e in found), str(caught.value)
    assert len(caught.value.errors) == 1, str(caught.value)  # exactly the problem, no follow-on noise


def test_every_error_is_reported_at_once(strict_registry: EventTypeRegistry) -> None:
    data = yaml.safe_load("""
kpis:
  Revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount}
  revenue:
    title: Revenue
    events: [order.placed, ticket.opened, order.lost]
    aggregation: sum
    measure: amount
    dimensions: [region, segment]
  big_deals:
    title: Big deals
    events: deal.closed
    aggregation: count
    filters:
      - {field: measures.amount, op: gt, value: 100k}
      - {field: dimensions.region, op: gte, value: eu}
  p99:
    title: p99
    events: ticket.answered
    aggregation: quantile
    measure: first_response_seconds
    quantile: 99
    colour: red
  a: {title: A, aggregation: ratio, numerator: b, denominator: ghost}
  b: {title: B, aggregation: ratio, numerator: a, denominator: revenue}
extra: 1
""")
    with pytest.raises(ConfigError) as caught:
        KpiCatalog.from_mapping(data, strict_registry)
    assert [(e.path, e.rule) for e in caught.value.errors] == [
        ("extra", "extra_forbidden"),
        ("kpis.Revenue", "invalid_key"),
        ("kpis.revenue.events[2]", "unknown_type"),
        ("kpis.revenue.measure", "undeclared"),
        ("kpis.revenue.dimensions[0]", "undeclared"),
        ("kpis.revenue.dimensions[1]", "undeclared"),
        ("kpis.revenue.dimensions[1]", "undeclared"),
        ("kpis.big_deals.filters[0].value", "value"),
        ("kpis.big_deals.filters[1].op", "op_field"),
        ("kpis.p99.quantile", "range"),
        ("kpis.p99.colour", "extra_forbidden"),
        ("kpis.a.denominator", "unknown_kpi"),
        ("kpis.a.numerator", "cycle"),
    ]
    text = str(caught.value)
    assert "kpis.revenue.measure: measure 'amount' is not declared by event type 'ticket.opened'" in text
    assert (
        "kpis.revenue.dimensions[1]: dimension 'segment' is not declared by event type 'order.placed'" in text
    )
    assert "kpis.a.numerator: ratio cycle: a -> b -> a" in text


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ([], "$", "must be an object, got array"),
        ({"kpis": ["revenue"]}, "kpis", "must be an object, got array"),
        ({"kpis": {}, "metrics": {}}, "metrics", "unknown field"),
    ],
    ids=["not-an-object", "kpis-not-an-object", "unknown-top-level-key"],
)
def test_bad_file_shape(shipped_registry: EventTypeRegistry, data: Any, path: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        KpiCatalog.from_mapping(data, shipped_registry)
    assert [(e.path, e.message) for e in caught.value.errors] == [(path, message)]


@pytest.mark.parametrize("data", [None, {}, {"kpis": None}, {"kpis": {}}])
def test_empty_catalog(shipped_registry: EventTypeRegistry, data: Any) -> None:
    catalog = KpiCatalog.from_mapping(data, shipped_registry)
    assert catalog.kpis == {}
    assert catalog.ordered() == ()


def test_each_aggregation(shipped_registry: EventTypeRegistry) -> None:
    data = yaml.safe_load("""
kpis:
  orders: {title: Orders, events: order.placed, aggregation: count, dimensions: [region]}
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount, unit: EUR}
  avg_order: {title: AOV, events: order.placed, aggregation: avg, measure: amount}
  smallest: {title: Smallest, events: [order.placed, order.refunded], aggregation: min, measure: amount}
  largest: {title: Largest, events: order.placed, aggregation: max, measure: amount}
  buyers: {title: Buyers, events: order.placed, aggregation: count_distinct, of: subject}
  regions:
    {title: Regions, events: order.placed, aggregation: count_distinct, of: dimensions.region,
     approximate: true}
  p90:
    {title: p90, events: ticket.answered, aggregation: quantile, measure: first_response_seconds,
     quantile: 0.9}
  active: {title: Active, events: subscription.changed, aggregation: latest, measure: active_subscribers}
  sessions: {title: Sessions, events: session.started, aggregation: count, dimensions: [region]}
  conversion:
    {title: Rate, aggregation: ratio, numerator: orders, denominator: sessions, dimensions: [region]}
""")
    kpis = KpiCatalog.from_mapping(data, shipped_registry).kpis
    assert {k.aggregation for k in kpis.values()} == set(Aggregation)
    assert kpis["orders"].events == ("order.placed",)  # a single type is normalised to a tuple
    assert (kpis["orders"].name, kpis["orders"].measure, kpis["orders"].description) == ("orders", None, "")
    assert kpis["revenue"].unit == "EUR"
    assert kpis["smallest"].events == ("order.placed", "order.refunded")
    assert (kpis["buyers"].of, kpis["buyers"].approximate) == ("subject", False)
    assert (kpis["regions"].of, kpis["regions"].approximate) == ("dimensions.region", True)
    assert kpis["p90"].quantile == 0.9
    conversion = kpis["conversion"]
    assert (conversion.events, conversion.inputs, conversion.dimensions) == (
        (),
        ("orders", "sessions"),
        ("region",),
    )
    assert kpis["orders"].inputs == ()


def test_filters_are_normalised(shipped_registry: EventTypeRegistry) -> None:
    data = yaml.safe_load("""
kpis:
  eu_web_big_orders:
    title: Big web orders in Europe
    events: order.placed
    aggregation: count
    filters:
      - {field: measures.amount, op: gte, value: 500}
      - {field: measures.items, op: in, value: [1, 2.5]}
      - {field: dimensions.region, op: in, value: [eu, uk]}
      - {field: dimensions.channel, op: ne, value: store}
      - {field: subject, op: eq, value: "42"}
""")
    kpi = KpiCatalog.from_mapping(data, shipped_registry).kpis["eu_web_big_orders"]
    assert kpi.filters == (
        Filter(field="measures.amount", op=FilterOp.GTE, value=500.0),
        Filter(field="measures.items", op=FilterOp.IN, value=(1.0, 2.5)),
        Filter(field="dimensions.region", op=FilterOp.IN, value=("eu", "uk")),
        Filter(field="dimensions.channel", op=FilterOp.NE, value="store"),
        Filter(field="subject", op=FilterOp.EQ, value="42"),
    )
    assert isinstance(kpi.filters[0].value, float)
    assert [(f.kind, f.key, f.values) for f in kpi.filters[2:]] == [
        ("dimensions", "region", ("eu", "uk")),
        ("dimensions", "channel", ("store",)),
        ("subject", None, ("42",)),
    ]


def test_undeclared_types_are_refused_even_when_ingest_accepts_them(
    shipped_registry: EventTypeRegistry,
) -> None:
    """A typo must not make an always-empty KPI: a KPI reads only declared types."""
    data = {"kpis": {"logins": {**REVENUE, "events": "order.plced"}}}
    with pytest.raises(ConfigError) as raised:
        KpiCatalog.from_mapping(data, shipped_registry)
    assert [(e.path, e.rule) for e in raised.value.errors] == [("kpis.logins.events[0]", "unknown_type")]
    assert "unknown event type 'order.plced': declare it" in str(raised.value)


def test_optional_fields_of_a_type_count_as_declared() -> None:
    registry = EventTypeRegistry.from_mapping(
        {
            "event_types": {
                "order.placed": {
                    "optional_dimensions": {"coupon": "string"},
                    "optional_measures": {"tax": "number"},
                }
            }
        }
    )
    data = {"kpis": {"tax": {**REVENUE, "measure": "tax", "dimensions": ["coupon"]}}}
    assert KpiCatalog.from_mapping(data, registry).kpis["tax"].measure == "tax"


def test_ratio_of_ratios_is_ordered_after_its_inputs(shipped_registry: EventTypeRegistry) -> None:
    data = yaml.safe_load("""
kpis:
  revenue_per_session: {title: Per session, aggregation: ratio, numerator: avg_order, denominator: conversion}
  conversion: {title: Conversion, aggregation: ratio, numerator: orders, denominator: sessions}
  avg_order: {title: AOV, events: order.placed, aggregation: avg, measure: amount}
  sessions: {title: Sessions, events: session.started, aggregation: count}
  orders: {title: Orders, events: order.placed, aggregation: count}
""")
    catalog = KpiCatalog.from_mapping(data, shipped_registry)
    names = [k.name for k in catalog.ordered()]
    assert names == ["avg_order", "orders", "sessions", "conversion", "revenue_per_session"]
    assert sorted(names) == sorted(catalog.kpis)


def test_fingerprint_tracks_only_what_changes_the_numbers() -> None:
    base = KpiDefinition.model_validate({"name": "big_deals", **big()})
    assert len(base.fingerprint()) == 16 and int(base.fingerprint(), 16) >= 0
    assert base.fingerprint() == KpiDefinition.model_validate({"name": "big_deals", **big()}).fingerprint()
    cosmetic = base.model_copy(
        update={
            "title": "Deals above $100k",
            "description": "new words",
            "unit": "deals",
            "health": HealthBand(at_or_above=3, grain=Grain.MONTH),
        }
    )
    assert cosmetic.fingerprint() == base.fingerprint()
    for changes in ({"value": 50000}, {"op": "gte"}, {"field": "measures.tax"}):
        changed = KpiDefinition.model_validate({"name": "big_deals", **big(**changes)})
        assert changed.fingerprint() != base.fingerprint(), changes
    same_number = KpiDefinition.model_validate({"name": "big_deals", **big(value=100000.0)})
    assert same_number.fingerprint() == base.fingerprint()
    broken_down = KpiDefinition.model_validate({"name": "big_deals", **big(), "dimensions": ["region"]})
    assert broken_down.fingerprint() != base.fingerprint()
    buyers = {"name": "buyers", "title": "Buyers", "events": "order.placed", "aggregation": "count_distinct"}
    exact = KpiDefinition.model_validate({**buyers, "of": "subject"})
    approximate = KpiDefinition.model_validate({**buyers, "of": "subject", "approximate": True})
    assert exact.fingerprint() != approximate.fingerprint()


def test_definitions_are_frozen() -> None:
    kpi = KpiDefinition.model_validate({"name": "orders", **ORDERS})
    with pytest.raises(ValueError, match="frozen"):
        kpi.title = "Other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("band", "values"),
    [
        (HealthBand(at_or_above=10), {9.99: False, 10: True, 11: True}),
        (HealthBand(at_or_below=10), {9: True, 10: True, 10.5: False}),
        (HealthBand(between=(1, 2)), {0.5: False, 1: True, 2: True, 2.5: False}),
    ],
    ids=["at_or_above", "at_or_below", "between"],
)
def test_health_band(band: HealthBand, values: dict[float, bool]) -> None:
    assert band.grain is Grain.DAY
    assert {v: band.healthy(v) for v in values} == values
    assert band.healthy(None) is None  # no value (e.g. no sessions): neither healthy nor unhealthy


def test_ratio_division_by_zero_is_no_value() -> None:
    assert ratio_value(3, 4) == 0.75
    assert ratio_value(0, 4) == 0
    assert ratio_value(3, 0) is None
    assert ratio_value(None, 4) is None and ratio_value(3, None) is None


def test_shipped_kpis_validate_against_shipped_event_types(shipped_registry: EventTypeRegistry) -> None:
    catalog = KpiCatalog.from_mapping(shipped_yaml("kpis.yaml"), shipped_registry)
    kpis = catalog.kpis
    assert {k.aggregation for k in kpis.values()} == set(Aggregation) - {Aggregation.MIN}
    assert {
        "revenue",
        "orders",
        "big_deals",
        "new_customers",
        "median_first_response",
        "p90_first_response",
        "active_subscribers",
        "sessions",
        "conversion_rate",
        "avg_order_value",
        "largest_order",
    } <= set(kpis)
    assert kpis["big_deals"].filters == (Filter(field="measures.amount", op=FilterOp.GT, value=100000),)
    assert kpis["revenue"].health == HealthBand(at_or_above=10000, grain=Grain.DAY)
    assert (kpis["median_first_response"].quantile, kpis["p90_first_response"].quantile) == (0.5, 0.9)
    assert kpis["conversion_rate"].inputs == ("orders", "sessions")
    names = [k.name for k in catalog.ordered()]
    assert names.index("conversion_rate") > max(names.index("orders"), names.index("sessions"))
    assert len({k.fingerprint() for k in kpis.values()}) == len(kpis)


# --- plans: what an apply does, and what it leaves in force ---------------------------------------


def test_the_plan_leaves_kpis_the_file_omits_in_force_unless_pruning(
    shipped_registry: EventTypeRegistry,
) -> None:
    applied = build(shipped_registry, revenue=REVENUE, rate=RATE).kpis
    relabelled = {**ORDERS, "title": "All orders"}
    file = KpiCatalog.from_mapping({"kpis": {"orders": relabelled, "sessions": SESSIONS}}, shipped_registry)

    plan = plan_kpis(file, applied)
    assert (plan.removed, plan.kept) == ((), ("rate", "revenue"))
    assert [k.name for k in plan.relabelled] == ["orders"] and plan.unchanged == ("sessions",)
    assert plan.summary() == "relabel: orders; would remove with --prune: rate, revenue"
    assert plan_kpis(file, applied, prune=False) == plan  # the default

    pruned = plan_kpis(file, applied, prune=True)
    assert (pruned.removed, pruned.kept) == (("rate", "revenue"), ())
    assert pruned.summary() == "relabel: orders; remove: rate, revenue"

    same = KpiCatalog.from_mapping({"kpis": {"orders": ORDERS}}, shipped_registry)
    left = plan_kpis(same, applied)
    assert left.empty and left.kept == ("rate", "revenue", "sessions")
    assert left.summary() == (
        "nothing to do: every KPI in the file is applied as defined; "
        "would remove with --prune: rate, revenue, sessions"
    )
    assert plan_kpis(build(shipped_registry, revenue=REVENUE, rate=RATE), applied).summary() == (
        "nothing to do: every KPI is applied as defined"
    )
    assert not plan_kpis(same, applied, prune=True).empty


def test_pruning_a_kpi_that_key_results_in_force_read_is_refused(shipped_registry: EventTypeRegistry) -> None:
    applied = build(shipped_registry, revenue=REVENUE, rate=RATE).kpis
    file = KpiCatalog.from_mapping({"kpis": {"orders": ORDERS, "sessions": SESSIONS}}, shipped_registry)
    read_by = {"revenue": {"sell-revenue", "board-revenue"}, "orders": {"sell-orders"}}

    with pytest.raises(ConfigError) as refused:
        plan_kpis(file, applied, prune=True, read_by=read_by)
    [error] = refused.value.errors  # rate goes (nobody reads it); orders stays in the file
    assert (error.path, error.rule) == ("kpis.revenue", "kpi_in_use")
    assert error.message == (
        "key results in force read it (board-revenue, sell-revenue): link them to another KPI,"
        " or remove their objectives (okr apply --prune), before pruning it"
    )
    assert plan_kpis(file, applied, read_by=read_by).kept == ("rate", "revenue")  # without prune: kept
    pruned = plan_kpis(file, applied, prune=True, read_by={"revenue": set()})  # no reader left
    assert pruned.removed == ("rate", "revenue")


def test_a_kpi_left_in_force_must_still_hold_beside_the_file(shipped_registry: EventTypeRegistry) -> None:
    """A kept ratio broken down by region cannot read an input the file no longer breaks down by it."""
    share = {**RATE, "numerator": "orders", "denominator": "all_orders", "dimensions": ["region"]}
    applied = build(shipped_registry, all_orders=ORDERS, share=share).kpis
    file = KpiCatalog.from_mapping(
        {"kpis": {"orders": {**ORDERS, "dimensions": []}, "all_orders": ORDERS}}, shipped_registry
    )
    with pytest.raises(ConfigError) as refused:
        plan_kpis(file, applied)
    [error] = refused.value.errors
    assert (error.path, error.rule) == ("kpis.share.dimensions[0]", "dimension")
    assert error.message == (
        "numerator 'orders' cannot be broken down by 'region' "
        "('share' is in force and not in this file: add it as it should be, or prune it)"
    )
    assert [k.name for k in plan_kpis(file, applied, prune=True).changed] == ["orders"]  # share goes
