"""Declarative mappings: YAML errors named by mapping and field, each conversion, errors at foreign paths."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import schemas
from ingest import read_csv_rows
from schemas import (
    ConfigError,
    EventTypeRegistry,
    EventValidationError,
    Mapping,
    MappingCatalog,
    PayloadPolicy,
    TimeFormat,
    map_event,
    validate_event,
)

SHIPPED = Path(schemas.__file__).parent
BASE = {"event_id": "id", "type": {"const": "order.placed"}, "source": {"const": "shop"}, "occurred_at": "at"}
DOC = {"id": "o-1", "at": "2026-10-01T12:00:00Z"}
SOURCE_RULE = (
    "must be a URI reference such as shop, /mycontext or https://example.com/shop:"
    " ASCII letters, digits and - . _ ~ : / ? # [ ] @ ! $ & ' ( ) * + , ; = or %XX escapes"
)


def shipped_yaml(name: str) -> Any:
    return yaml.safe_load((SHIPPED / name).read_text())


@pytest.fixture(scope="module")
def registry() -> EventTypeRegistry:
    return EventTypeRegistry.from_mapping(shipped_yaml("event_types.yaml"))


@pytest.fixture(scope="module")
def shipped(registry: EventTypeRegistry) -> MappingCatalog:
    return MappingCatalog.from_mapping(shipped_yaml("mappings.yaml"), registry)


def mapping(**fields: Any) -> Mapping:
    return MappingCatalog.from_mapping({"mappings": {"m": {**BASE, **fields}}}).mappings["m"]


def problems(exc: pytest.ExceptionInfo[Any]) -> list[tuple[str, str, str]]:
    return [(e.path, e.message, e.rule) for e in exc.value.errors]


# -- loading --------------------------------------------------------------------------------------


def test_short_and_long_forms() -> None:
    m = mapping(
        subject="user.id",
        dimensions={"region": {"path": "geo", "default": "unknown"}, "channel": {"const": "web"}},
        measures={"amount": {"path": "cents", "scale": 0.01}},
        occurred_at={"path": "at", "time": "unix_ms"},
        payload="keep",
    )
    assert m.event_id.path == "id" and m.event_id.const is None
    assert m.dimensions["channel"].const == "web"
    assert m.measures["amount"].scale == 0.01
    assert m.occurred_at.time is TimeFormat.UNIX_MS
    assert m.payload is PayloadPolicy.KEEP
    assert list(m.sources()) == [
        *("event_id", "type", "source", "occurred_at", "subject"),
        *("dimensions.region", "dimensions.channel", "measures.amount"),
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"measures": {"amount": "properties..revenue"}},
            (
                "m.measures.amount.path",
                "invalid JMESPath expression: unexpected '.' at column 12",
                "jmespath",
            ),
            id="jmespath-parse",
        ),
        pytest.param(
            {"event_id": ""},
            ("m.event_id.path", "invalid JMESPath expression: empty", "jmespath"),
            id="jmespath-empty",
        ),
        pytest.param(
            {"event_id": "items["},
            ("m.event_id.path", "invalid JMESPath expression: ends too early", "jmespath"),
            id="jmespath-incomplete",
        ),
        pytest.param(
            {"event_id": '"Order ID'},
            ("m.event_id.path", 'invalid JMESPath expression: unclosed " delimiter at column 1', "jmespath"),
            id="jmespath-lexer",
        ),
        pytest.param(
            {"measures": {"amount": {"path": "a", "const": 1}}},
            ("m.measures.amount", "needs exactly one of path, const; got both", "source"),
            id="path-and-const",
        ),
        pytest.param(
            {"measures": {"amount": {}}},
            ("m.measures.amount", "needs exactly one of path, const; got neither", "source"),
            id="neither",
        ),
        pytest.param(
            {"event_id": 5},
            (
                "m.event_id",
                "must be a JMESPath expression or an object with path or const, got number",
                "type",
            ),
            id="not-a-source",
        ),
        pytest.param(
            {"dimensions": {"region": {"path": "geo", "scale": 2}}},
            ("m.dimensions.region.scale", "only allowed on measures", "not_allowed"),
            id="scale-on-dimension",
        ),
        pytest.param(
            {"event_id": {"path": "id", "time": "unix"}},
            ("m.event_id.time", "only allowed on occurred_at", "not_allowed"),
            id="time-not-on-occurred-at",
        ),
        pytest.param(
            {"occurred_at": {"path": "at", "time": "epoch"}},
            ("m.occurred_at.time", "must be 'iso', 'unix' or 'unix_ms', got 'epoch'", "enum"),
            id="bad-time-format",
        ),
        pytest.param(
            {"type": {"const": "order.placed", "default": "x.y"}},
            ("m.type.default", "only allowed with path", "not_allowed"),
            id="default-with-const",
        ),
        pytest.param(
            {"type": {"const": "order.placed", "map": {"a": "x.y"}}},
            ("m.type.map", "only allowed with path", "not_allowed"),
            id="map-with-const",
        ),
        pytest.param(
            {"type": {"path": "event", "map": {}}},
            ("m.type.map", "must not be empty", "min_length"),
            id="empty-map",
        ),
        pytest.param(
            {"type": {"path": "event", "map": {"a": ["x"]}}},
            ("m.type.map.a", "must be a string, number or boolean, got array", "type"),
            id="map-value-not-scalar",
        ),
        pytest.param(
            {"measures": {"amount": {"const": "lots"}}},
            ("m.measures.amount.const", "must be a number, got string 'lots'", "type"),
            id="measure-const-not-a-number",
        ),
        pytest.param(
            {"measures": {"amount": {"path": "a", "map": {"big": 100, "small": "few"}}}},
            ("m.measures.amount.map", "value of 'small': must be a number, got string 'few'", "type"),
            id="measure-map-value-not-a-number",
        ),
        pytest.param(
            {"occurred_at": {"path": "at", "time": "unix", "default": "soon"}},
            ("m.occurred_at.default", "must be a unix time in seconds, got string 'soon'", "type"),
            id="unix-default-not-a-number",
        ),
        pytest.param(
            {"dimensions": {"Region": "geo"}},
            ("m.dimensions.Region", "invalid key 'Region': must match ^[a-z][a-z0-9_]{0,63}$", "invalid_key"),
            id="bad-dimension-key",
        ),
        pytest.param(
            {"payload": "all"},
            ("m.payload", "must be 'drop' or 'keep', got 'all'", "enum"),
            id="bad-payload-policy",
        ),
        pytest.param({"id": "x"}, ("m.id", "unknown field", "extra_forbidden"), id="unknown-field"),
    ],
)
def test_each_bad_mapping_field_is_named(fields: dict[str, Any], expected: tuple[str, str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        MappingCatalog.from_mapping({"mappings": {"m": {**BASE, **fields}}})
    path, message, rule = expected
    assert problems(caught) == [(f"mappings.{path}", message, rule)]


def test_every_error_is_reported_at_once() -> None:
    data = {
        "mappings": {
            "Bad-Name": BASE,
            "good": BASE,
            "broken": {
                "event_id": "id",
                "source": {"path": "src", "const": "shop"},
                "occurred_at": {"path": "at", "scale": 1000},
                "dimensions": {"region": {"path": "geo", "time": "unix"}},
                "measures": {"amount": "a[?", "items": {"const": True}},
            },
        },
        "version": 2,
    }
    with pytest.raises(ConfigError) as caught:
        MappingCatalog.from_mapping(data)
    assert problems(caught) == [
        ("mappings.Bad-Name", "invalid key 'Bad-Name': must match ^[a-z][a-z0-9_]{0,63}$", "invalid_key"),
        ("mappings.broken.type", "field required", "required"),
        ("mappings.broken.source", "needs exactly one of path, const; got both", "source"),
        ("mappings.broken.occurred_at.scale", "only allowed on measures", "not_allowed"),
        ("mappings.broken.dimensions.region.time", "only allowed on occurred_at", "not_allowed"),
        ("mappings.broken.measures.amount.path", "invalid JMESPath expression: ends too early", "jmespath"),
        ("mappings.broken.measures.items.const", "must be a number, got boolean", "type"),
        ("version", "unknown field", "extra_forbidden"),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([1], [("$", "must be an object, got array", "type")]),
        ({"mappings": [1]}, [("mappings", "must be an object, got array", "type")]),
        ({"mappings": {"m": "id"}}, [("mappings.m", "must be an object, got string 'id'", "type")]),
    ],
)
def test_bad_file_shape(data: Any, expected: list[tuple[str, str, str]]) -> None:
    with pytest.raises(ConfigError) as caught:
        MappingCatalog.from_mapping(data)
    assert problems(caught) == expected


@pytest.mark.parametrize("data", [None, {}, {"mappings": None}])
def test_empty_catalog(data: Any) -> None:
    assert MappingCatalog.from_mapping(data).mappings == {}


def test_with_a_registry_a_mapping_must_set_what_its_types_require() -> None:
    registry = EventTypeRegistry.from_mapping(
        {
            "unknown_types": "reject",
            "event_types": {
                "order.placed": {"dimensions": {"region": "string"}, "measures": {"amount": "number"}},
                "deal.closed": {
                    "dimensions": {"region": "string", "segment": "string"},
                    "subject": "required",
                },
            },
        }
    )
    data = {
        "mappings": {
            "ok": {**BASE, "dimensions": {"region": "geo"}, "measures": {"amount": "total"}},
            "short": {**BASE, "type": {"path": "e", "map": {"won": "deal.closed", "x": "order.lost"}}},
        }
    }
    with pytest.raises(ConfigError) as caught:
        MappingCatalog.from_mapping(data, registry)
    assert problems(caught) == [
        ("mappings.short.subject", "required by deal.closed", "required"),
        (
            "mappings.short.dimensions",
            "deal.closed requires region, segment, which the mapping does not set",
            "required_dimension",
        ),
        ("mappings.short.type.map.x", "unknown event type 'order.lost'", "unknown_type"),
    ]


@pytest.mark.parametrize(
    "user",
    [{"id": "u-1"}, {"id": 7}, {"id": None}, {}, ["id"], "id", 3, None, {"id": {"deep": 1}}],
    ids=repr,
)
def test_plain_field_paths_read_as_jmespath_reads_them(user: Any) -> None:
    """`user.id` is walked without jmespath's interpreter; `user."id"` (quoted) goes through it."""
    walked, interpreted = mapping(subject="user.id"), mapping(subject='user."id"')
    doc = {**DOC, "user": user}
    try:
        expected: Any = interpreted.to_event_dict(doc)
    except EventValidationError as e:
        expected = [(x.path.replace('"id"', "id"), x.message.replace('"id"', "id"), x.rule) for x in e.errors]
    try:
        assert walked.to_event_dict(doc) == expected
    except EventValidationError as e:
        assert [(x.path, x.message, x.rule) for x in e.errors] == expected


# -- applying -------------------------------------------------------------------------------------


def test_constants_paths_and_defaults() -> None:
    m = mapping(
        subject="user.id",
        dimensions={"region": {"path": "geo.country", "default": "unknown"}, "channel": {"const": "web"}},
    )
    assert m.to_event_dict({**DOC, "user": {"id": "u-1"}, "geo": {"country": "DE"}}) == {
        "event_id": "o-1",
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-10-01T12:00:00Z",
        "subject": "u-1",
        "dimensions": {"region": "DE", "channel": "web"},
    }
    # null and missing both take the default; an optional field without one is left out
    assert m.to_event_dict({**DOC, "geo": {"country": None}})["dimensions"]["region"] == "unknown"
    assert "subject" not in m.to_event_dict(DOC)


def test_map_translates_values_and_rejects_others() -> None:
    m = mapping(type={"path": "event", "map": {"Order Completed": "order.placed", 1: "order.refunded"}})
    assert m.to_event_dict({**DOC, "event": "Order Completed"})["type"] == "order.placed"
    assert m.to_event_dict({**DOC, "event": 1})["type"] == "order.refunded"
    assert m.to_event_dict({**DOC, "event": "1"})["type"] == "order.refunded"  # CSV cells are text
    with pytest.raises(EventValidationError) as caught:
        m.to_event_dict({**DOC, "event": "Page Viewed"})
    message = "type: 'Page Viewed' is not in the map; expected one of 'Order Completed', '1'"
    assert problems(caught) == [("event", message, "map")]
    with pytest.raises(EventValidationError) as caught:
        m.to_event_dict({**DOC, "event": {"name": "x"}})
    message = "type: must be a string, number or boolean to look up in the map, got object"
    assert problems(caught) == [("event", message, "type")]


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [
        (12, None, 12.0),
        (49.9, None, 49.9),
        ("49.90", None, 49.9),
        (" -3e2 ", None, -300.0),
        (".5", None, 0.5),
        (4990, 0.01, 49.9),  # exact in decimal, not 49.900000000000006
        ("4990", 0.01, 49.9),
        (3, 1000, 3000.0),
    ],
)
def test_measures_read_numbers_and_numeric_text(value: Any, scale: float | None, expected: float) -> None:
    m = mapping(measures={"amount": {"path": "total", "scale": scale} if scale else "total"})
    assert m.to_event_dict({**DOC, "total": value})["measures"] == {"amount": expected}


@pytest.mark.parametrize(
    ("value", "message", "rule"),
    [
        ("abc", "measures.amount: must be a number, got string 'abc'", "type"),
        ("1_000", "measures.amount: must be a number, got string '1_000'", "type"),
        ("nan", "measures.amount: must be a number, got string 'nan'", "type"),
        ("", "measures.amount: must be a number, got string ''", "type"),
        (True, "measures.amount: must be a number, got boolean", "type"),
        ([1], "measures.amount: must be a number, got array", "type"),
        ("1e400", "measures.amount: must be a finite number, got 1e400", "finite"),
    ],
)
def test_bad_measures_name_the_foreign_path(value: Any, message: str, rule: str) -> None:
    m = mapping(measures={"amount": "properties.revenue"})
    with pytest.raises(EventValidationError) as caught:
        m.to_event_dict({**DOC, "properties": {"revenue": value}})
    assert problems(caught) == [("properties.revenue", message, rule)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("EU", "EU"), (42, "42"), (1.5, "1.5"), (True, "true"), (False, "false")],
)
def test_dimensions_take_text_and_the_json_text_of_numbers_and_booleans(value: Any, expected: str) -> None:
    m = mapping(dimensions={"region": "geo"})
    assert m.to_event_dict({**DOC, "geo": value})["dimensions"] == {"region": expected}


def test_objects_and_arrays_are_not_dimensions_and_numeric_ids_become_text() -> None:
    m = mapping(dimensions={"region": "geo"})
    with pytest.raises(EventValidationError) as caught:
        m.to_event_dict({**DOC, "geo": {"country": "DE"}})
    message = "dimensions.region: must be a string, number or boolean, got object"
    assert problems(caught) == [("geo", message, "type")]
    assert m.to_event_dict({**DOC, "id": 12345})["event_id"] == "12345"


@pytest.mark.parametrize(
    ("time", "value", "expected"),
    [
        (TimeFormat.ISO, "2026-10-01T14:00:00+02:00", "2026-10-01T14:00:00+02:00"),  # validate_event parses
        (TimeFormat.UNIX, 1790856000, "2026-10-01T12:00:00Z"),
        (TimeFormat.UNIX, "1790856000.25", "2026-10-01T12:00:00.250000Z"),
        (TimeFormat.UNIX_MS, 1790856000123, "2026-10-01T12:00:00.123000Z"),
        (TimeFormat.UNIX_MS, "1790856000000", "2026-10-01T12:00:00Z"),
    ],
)
def test_times(time: TimeFormat, value: Any, expected: str) -> None:
    m = mapping(occurred_at={"path": "at", "time": time.value})
    data = m.to_event_dict({**DOC, "at": value})
    assert data["occurred_at"] == expected
    assert validate_event(data).occurred_at.replace(microsecond=0) == datetime(2026, 10, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time", "value", "message", "rule"),
    [
        ("unix", "yesterday", "occurred_at: must be a unix time in seconds, got string 'yesterday'", "type"),
        ("unix_ms", True, "occurred_at: must be a unix time in milliseconds, got boolean", "type"),
        ("unix", 1e300, "occurred_at: year must be between 1970 and 2299 (UTC)", "range"),
        (
            "unix",
            1e15,
            "occurred_at: year must be between 1970 and 2299 (UTC)",
            "range",
        ),  # via validate_event
        ("unix", -1, "occurred_at: year must be between 1970 and 2299 (UTC)", "range"),
        ("iso", 1790856000, "occurred_at: must be an ISO 8601 time string, got number", "type"),
        (
            "iso",
            "2026-10-01T12:00:00",
            "occurred_at: needs an explicit UTC offset, e.g. 2026-10-01T12:00:00Z",
            "timezone",
        ),
    ],
)
def test_bad_times_name_the_foreign_path(time: str, value: Any, message: str, rule: str) -> None:
    m = mapping(occurred_at={"path": "created", "time": time})
    with pytest.raises(EventValidationError) as caught:
        map_event(m, {**DOC, "created": value})
    assert problems(caught) == [("created", message, rule)]


def test_payload_keep_stores_the_whole_document() -> None:
    doc = {**DOC, "extra": {"nested": [1, 2]}}
    assert mapping(payload="keep").to_event_dict(doc)["payload"] == doc
    assert "payload" not in mapping().to_event_dict(doc)  # dropped by default
    event = map_event(mapping(payload="keep"), doc)
    assert event.payload == doc


def test_a_payload_too_big_to_keep_is_blamed_on_the_whole_document() -> None:
    with pytest.raises(EventValidationError) as caught:
        map_event(mapping(payload="keep"), {**DOC, "blob": "x" * 70000})
    [(path, message, rule)] = problems(caught)
    assert (path, rule) == ("$", "payload_size")
    assert message.startswith("payload: compact JSON is ")


def test_a_document_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(EventValidationError) as caught:
        map_event(mapping(), [DOC])
    assert problems(caught) == [("$", "must be a JSON object, got array", "type")]


def test_jmespath_runtime_errors_name_the_expression() -> None:
    m = mapping(measures={"items": "sum(products[].qty)"})
    with pytest.raises(EventValidationError) as caught:
        m.to_event_dict({**DOC, "products": [{"qty": "two"}]})
    [(path, message, rule)] = problems(caught)
    assert (path, rule) == ("sum(products[].qty)", "jmespath")
    assert message.startswith("measures.items: cannot evaluate: In function sum(), invalid type")


def test_map_event_reports_every_problem_at_once_at_foreign_paths(registry: EventTypeRegistry) -> None:
    m = mapping(
        event_id="messageId",
        type={"path": "event", "map": {"Order Completed": "order.placed"}},
        source={"const": "bad source!"},
        occurred_at="timestamp",
        dimensions={"region": "context.country"},
        measures={"amount": "properties.revenue"},
    )
    doc = {"event": "Page Viewed", "timestamp": "yesterday", "properties": {"revenue": "abc"}}
    with pytest.raises(EventValidationError) as caught:
        map_event(m, doc, registry)
    assert problems(caught) == [
        (
            "messageId",
            "event_id: required, the mapping reads it from messageId but the payload has no value there",
            "required",
        ),
        ("event", "type: 'Page Viewed' is not in the map; expected one of 'Order Completed'", "map"),
        ("source", SOURCE_RULE, "pattern"),  # a constant: canonical path
        (
            "timestamp",
            "occurred_at: must be an ISO 8601 time such as 2026-10-01T12:00:00Z, got 'yesterday'",
            "datetime",
        ),
        ("properties.revenue", "measures.amount: must be a number, got string 'abc'", "type"),
    ]


def test_type_contract_errors_name_the_foreign_path_or_the_unmapped_field(
    registry: EventTypeRegistry,
) -> None:
    m = mapping(dimensions={"region": "geo"}, measures={"amount": "total", "items": "qty"})
    doc = {**DOC, "total": -5, "qty": "2"}
    with pytest.raises(EventValidationError) as caught:
        map_event(m, doc, registry)
    assert problems(caught) == [
        (
            "geo",
            "dimensions.region: required for order.placed, the mapping reads it from geo "
            "but the payload has no value there",
            "required_dimension",
        ),
        (
            "dimensions.channel",
            "field required for order.placed; the mapping does not set it",
            "required_dimension",
        ),
        ("total", "measures.amount: must be >= 0, got -5", "min"),
    ]


def test_map_event_sets_received_at() -> None:
    at = datetime(2026, 10, 2, tzinfo=UTC)
    assert map_event(mapping(), DOC, received_at=at).received_at == at


# -- shipped examples -----------------------------------------------------------------------------


def test_shipped_mappings_load_and_check_against_the_demo_types(shipped: MappingCatalog) -> None:
    assert {"segment_track", "generic_webhook", "csv_orders"} <= shipped.mappings.keys()


SEGMENT_ORDER = {
    "type": "track",
    "messageId": "ajs-next-1790856000-f3a1",
    "event": "Order Completed",
    "userId": "user-507",
    "anonymousId": "anon-23",
    "timestamp": "2026-10-01T12:00:00.000Z",
    "channel": "browser",
    "context": {"location": {"country": "DE", "city": "Berlin"}, "ip": "203.0.113.7"},
    "properties": {
        "order_id": "50314b8e",
        "revenue": 49.9,
        "currency": "EUR",
        "products": [{"product_id": "p-1", "quantity": 2}, {"product_id": "p-2", "quantity": 1}],
    },
}


def test_shipped_segment_track(shipped: MappingCatalog, registry: EventTypeRegistry) -> None:
    event = map_event(shipped.mappings["segment_track"], SEGMENT_ORDER, registry)
    assert (event.event_id, event.type, event.source, event.subject) == (
        "ajs-next-1790856000-f3a1",
        "order.placed",
        "segment",
        "user-507",
    )
    assert event.occurred_at == datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    assert event.dimensions == {"region": "DE", "channel": "web", "plan": "free"}
    assert event.measures == {"amount": 49.9, "items": 3.0}
    assert event.payload == SEGMENT_ORDER


def test_shipped_segment_track_sign_up(shipped: MappingCatalog, registry: EventTypeRegistry) -> None:
    doc = {
        "type": "track",
        "messageId": "ajs-2",
        "event": "Signed Up",
        "userId": "user-9",
        "timestamp": "2026-10-01T12:05:00Z",
        "properties": {"plan": "pro"},
    }
    event = map_event(shipped.mappings["segment_track"], doc, registry)
    assert (event.type, event.dimensions, event.measures) == (
        "customer.signed_up",
        {"region": "unknown", "channel": "web", "plan": "pro"},
        {},
    )


def test_shipped_generic_webhook(shipped: MappingCatalog, registry: EventTypeRegistry) -> None:
    doc = {
        "id": "evt_1PqZ3x",
        "object": "event",
        "event": "deal.won",
        "created": 1790856000,
        "data": {
            "deal_id": "deal_77",
            "customer_id": "cus_9",
            "region": "EU",
            "segment": "mid_market",
            "currency": "EUR",
            "amount_cents": 1250099,
        },
    }
    event = map_event(shipped.mappings["generic_webhook"], doc, registry)
    assert (event.event_id, event.type, event.source, event.subject) == (
        "evt_1PqZ3x",
        "deal.closed",
        "crm",
        "cus_9",
    )
    assert event.occurred_at == datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    assert event.dimensions == {"region": "EU", "segment": "mid-market", "currency": "EUR"}
    assert event.measures == {"amount": 12500.99}
    assert event.payload is None


def test_shipped_csv_orders_through_read_csv_rows(
    tmp_path: Path, shipped: MappingCatalog, registry: EventTypeRegistry
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,created,customer,country,channel,total_cents,items\n"
        "A-1001,2026-10-01T12:00:00Z,c-7,DE,web,4990,2\n"
        "A-1002,2026-10-01T13:30:00+02:00,,FR,,1200,1\n"
        "A-1003,2026-10-01T14:00:00Z,c-8,DE,app,12 EUR,0\n",
        encoding="utf-8",
    )
    m = shipped.mappings["csv_orders"]
    first, second, third = read_csv_rows(path)
    event = map_event(m, first.data, registry)
    assert (event.event_id, event.type, event.source, event.subject) == (
        "A-1001",
        "order.placed",
        "shop-csv",
        "c-7",
    )
    assert event.dimensions == {"region": "DE", "channel": "web"}
    assert event.measures == {"amount": 49.9, "items": 2.0}
    event = map_event(m, second.data, registry)
    assert (event.subject, event.dimensions["channel"]) == (None, "store")  # empty cells: left out, default
    assert event.occurred_at == datetime(2026, 10, 1, 11, 30, tzinfo=UTC)
    with pytest.raises(EventValidationError) as caught:
        map_event(m, third.data, registry)
    assert (third.line, problems(caught)) == (
        4,
        [
            ("total_cents", "measures.amount: must be a number, got string '12 EUR'", "type"),
            ("items", "measures.items: must be >= 1, got 0", "min"),  # the contract is checked too
        ],
    )


def test_a_mapping_without_event_id_names_events_only_where_the_caller_can() -> None:
    """A topic's message names its event (schemas.Subscription); a webhook or a file line cannot."""
    m = MappingCatalog.from_mapping({"mappings": {"m": {k: v for k, v in BASE.items() if k != "event_id"}}})
    without = m.mappings["m"]
    with pytest.raises(EventValidationError) as missing:
        map_event(without, DOC)
    assert problems(missing) == [("event_id", "field required; the mapping does not set it", "required")]
    assert map_event(without, DOC, event_id="kafka-1:0:5").event_id == "kafka-1:0:5"
    assert map_event(mapping(), DOC, event_id="ignored").event_id == "o-1"  # the mapping's own wins
