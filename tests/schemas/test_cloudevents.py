"""CloudEvents 1.0 mapping: structured and binary mode, data splitting and client-named error paths."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import schemas
from schemas import (
    EVENT_TYPE_PATTERN,
    KEY_PATTERN,
    EventTypeRegistry,
    EventValidationError,
    FieldError,
    cloudevent_from_headers,
    event_to_json_dict,
    validate_cloudevent,
)

DROP = object()  # marks an attribute to leave out of the test event
REGISTRY = EventTypeRegistry.from_mapping(
    yaml.safe_load((Path(schemas.__file__).parent / "event_types.yaml").read_text(encoding="utf-8"))
)
MISSING_TIME = "required: okrstream needs the time the event occurred, with an explicit UTC offset"
NEEDS_ORDER_DATA = "must be a JSON object holding the dimensions and measures 'order.placed' requires"


def order_ce(**changes: Any) -> dict[str, Any]:
    """A valid structured-mode order.placed CloudEvent, with attributes changed or DROPped."""
    event = {
        "specversion": "1.0",
        "id": "o-1",
        "source": "shop",
        "type": "order.placed",
        "time": "2026-10-01T14:00:00+02:00",
        "subject": "cust-1",
        "datacontenttype": "application/json",
        "data": {"region": "eu", "channel": "web", "amount": 12.5, "items": 2, "coupon": "SUMMER"},
    }
    event.update(changes)
    return {name: value for name, value in event.items() if value is not DROP}


def mapped(ce: Any, registry: EventTypeRegistry | None = REGISTRY) -> dict[str, Any]:
    return event_to_json_dict(validate_cloudevent(ce, registry))


def errors_of(ce: Any, registry: EventTypeRegistry | None = REGISTRY) -> list[FieldError]:
    with pytest.raises(EventValidationError) as caught:
        validate_cloudevent(ce, registry)
    return list(caught.value.errors)


BASE = {
    "event_id": "o-1",
    "type": "order.placed",
    "source": "shop",
    "occurred_at": "2026-10-01T12:00:00.000000Z",
    "subject": "cust-1",
    "dimensions": {},
    "measures": {},
}


def test_schema_declared_keys_become_dimensions_and_measures() -> None:
    assert mapped(order_ce()) == {
        **BASE,
        "dimensions": {"region": "eu", "channel": "web"},
        "measures": {"amount": 12.5, "items": 2.0},
        "payload": {"data": {"coupon": "SUMMER"}},
    }


def test_optional_schema_keys_are_mapped_too() -> None:
    registry = EventTypeRegistry.from_mapping(
        {
            "event_types": {
                "order.placed": {
                    "optional_dimensions": {"coupon": "string"},
                    "optional_measures": {"discount": "number"},
                }
            }
        }
    )
    ce = order_ce(data={"coupon": "SUMMER", "discount": 1.5, "note": "gift"})
    assert mapped(ce, registry) == {
        **BASE,
        "dimensions": {"coupon": "SUMMER"},
        "measures": {"discount": 1.5},
        "payload": {"data": {"note": "gift"}},
    }


def test_received_at_is_passed_through() -> None:
    at = datetime(2026, 10, 1, 12, 0, 5, tzinfo=UTC)
    assert validate_cloudevent(order_ce(), REGISTRY, received_at=at).received_at == at


@pytest.mark.parametrize("event_type", ["order.placed", "ticket.escalated"])
def test_explicit_form_wins_over_schema_and_works_for_any_type(event_type: str) -> None:
    data = {
        "dimensions": {"region": "eu", "channel": "web"},
        "measures": {"amount": 3, "items": 1},
        "region": "us",
        "note": "gift",
    }
    assert mapped(order_ce(type=event_type, data=data)) == {
        **BASE,
        "type": event_type,
        "dimensions": {"region": "eu", "channel": "web"},
        "measures": {"amount": 3.0, "items": 1.0},
        "payload": {"data": {"region": "us", "note": "gift"}},
    }


def test_explicit_form_takes_only_object_values() -> None:
    data = {"dimensions": {"plan": "pro"}, "measures": 5}
    assert mapped(order_ce(type="trial.started", data=data)) == {
        **BASE,
        "type": "trial.started",
        "dimensions": {"plan": "pro"},
        "payload": {"data": {"measures": 5}},
    }


@pytest.mark.parametrize("registry", [REGISTRY, None], ids=["unknown_type", "no_registry"])
def test_without_schema_all_data_goes_to_payload(registry: EventTypeRegistry | None) -> None:
    event_type = "ticket.escalated" if registry else "order.placed"
    data = {"region": "eu", "amount": 12.5}
    assert mapped(order_ce(type=event_type, data=data), registry) == {
        **BASE,
        "type": event_type,
        "payload": {"data": {"region": "eu", "amount": 12.5}},
    }


def test_extensions_go_to_payload() -> None:
    ce = order_ce(
        type="ticket.escalated",
        data=DROP,
        dataschema="https://shop.example/schemas/ticket",
        traceparent="00-abc-def-01",
        partitionkey="cust-1",
    )
    assert mapped(ce) == {
        **BASE,
        "type": "ticket.escalated",
        "payload": {
            "extensions": {
                "dataschema": "https://shop.example/schemas/ticket",
                "traceparent": "00-abc-def-01",
                "partitionkey": "cust-1",
            }
        },
    }


@pytest.mark.parametrize("data", [DROP, None, {}])
def test_no_data_and_no_extensions_means_no_payload(data: Any) -> None:
    ce = order_ce(type="ticket.escalated", datacontenttype=DROP, data=data)
    assert mapped(ce) == {**BASE, "type": "ticket.escalated"}


@pytest.mark.parametrize(
    "content_type",
    [
        DROP,
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/cloudevents+json",
        "Application/Vnd.Shop.Order+JSON;v=2",
    ],
)
def test_json_content_types_are_accepted(content_type: Any) -> None:
    assert validate_cloudevent(order_ce(datacontenttype=content_type), REGISTRY).event_id == "o-1"


def test_binary_mode_headers() -> None:
    headers = {
        "CE-SpecVersion": "1.0",
        "ce-id": "o-1",
        "Ce-Source": "shop",
        "ce-TYPE": "order.placed",
        "ce-time": "2026-10-01T14:00:00+02:00",
        "ce-subject": "caf%C3%A9%20%22corner%22%25",
        "ce-traceparent": "00-abc-def-01",
        "Content-Type": "application/json; charset=utf-8",
        "Host": "ingest.example",
        "ce-": "ignored",
    }
    data = {"region": "eu", "channel": "web", "amount": 12.5, "items": 2}
    ce = cloudevent_from_headers(headers, data)
    assert ce == {
        "specversion": "1.0",
        "id": "o-1",
        "source": "shop",
        "type": "order.placed",
        "time": "2026-10-01T14:00:00+02:00",
        "subject": 'café "corner"%',
        "traceparent": "00-abc-def-01",
        "datacontenttype": "application/json; charset=utf-8",
        "data": data,
    }
    assert mapped(ce) == {
        **BASE,
        "subject": 'café "corner"%',
        "dimensions": {"region": "eu", "channel": "web"},
        "measures": {"amount": 12.5, "items": 2.0},
        "payload": {"extensions": {"traceparent": "00-abc-def-01"}},
    }


def test_binary_mode_without_body_or_content_type() -> None:
    assert cloudevent_from_headers({"ce-id": "o-1"}, None) == {"id": "o-1"}


@pytest.mark.parametrize(
    ("ce", "expected"),
    [
        pytest.param(
            [order_ce()], FieldError("$", "must be a JSON object, got array", "type"), id="not_object"
        ),
        pytest.param(
            order_ce(specversion=DROP),
            FieldError("specversion", 'field required; send "1.0"', "required"),
            id="specversion_missing",
        ),
        pytest.param(
            order_ce(specversion="0.3"),
            FieldError("specversion", "must be \"1.0\", got '0.3'", "specversion"),
            id="specversion_old",
        ),
        pytest.param(order_ce(time=DROP), FieldError("time", MISSING_TIME, "required"), id="time_missing"),
        pytest.param(order_ce(time=None), FieldError("time", MISSING_TIME, "required"), id="time_null"),
        pytest.param(
            order_ce(time="2026-10-01T12:00:00"),
            FieldError("time", "needs an explicit UTC offset, e.g. 2026-10-01T12:00:00Z", "timezone"),
            id="time_naive",
        ),
        pytest.param(
            order_ce(datacontenttype="text/plain"),
            FieldError("data", f"{NEEDS_ORDER_DATA}, got 'text/plain' data", "type"),
            id="datacontenttype_text",
        ),
        pytest.param(
            order_ce(datacontenttype=7),
            FieldError("datacontenttype", "must be a string, got number", "type"),
            id="datacontenttype_number",
        ),
        pytest.param(
            order_ce(data=DROP, data_base64="e30="),
            FieldError("data", f"{NEEDS_ORDER_DATA}, got data_base64", "type"),
            id="data_base64",
        ),
        pytest.param(
            order_ce(data=[1, 2]),
            FieldError("data", f"{NEEDS_ORDER_DATA}, got array", "type"),
            id="data_array",
        ),
        pytest.param(order_ce(id=DROP), FieldError("id", "field required", "required"), id="id_missing"),
        pytest.param(order_ce(id=""), FieldError("id", "must not be empty", "min_length"), id="id_empty"),
        pytest.param(
            order_ce(type="Order"),
            FieldError("type", f"must match {EVENT_TYPE_PATTERN}", "pattern"),
            id="type",
        ),
        pytest.param(
            order_ce(subject=42), FieldError("subject", "must be a string, got number", "type"), id="subject"
        ),
        pytest.param(
            order_ce(data={"region": "eu", "channel": "web", "amount": "12", "items": 2}),
            FieldError("data.amount", "must be a number, got string", "type"),
            id="measure_type",
        ),
        pytest.param(
            order_ce(data={"region": "eu", "channel": "web", "amount": 1, "items": 0}),
            FieldError("data.items", "must be >= 1, got 0", "min"),
            id="measure_min",
        ),
        pytest.param(
            order_ce(data={"region": 5, "channel": "web", "amount": 1, "items": 1}),
            FieldError("data.region", "must be a string, got number", "type"),
            id="dimension_type",
        ),
        pytest.param(
            order_ce(data={"channel": "web", "amount": 1, "items": 1}),
            FieldError("data.region", "field required for order.placed", "required_dimension"),
            id="dimension_required",
        ),
        pytest.param(
            order_ce(data={"dimensions": {"region": "eu", "channel": "web"}, "measures": {"amount": 1}}),
            FieldError("data.measures.items", "field required for order.placed", "required_measure"),
            id="explicit_required",
        ),
        pytest.param(
            order_ce(type="ticket.escalated", data={"measures": {"Wait": 1}}),
            FieldError("data.measures.Wait", f"invalid key 'Wait': must match {KEY_PATTERN}", "invalid_key"),
            id="explicit_key",
        ),
        pytest.param(
            order_ce(type="ticket.escalated", data={"note": "x" * 70000}),
            FieldError("data", "compact JSON is 70020 bytes, at most 65536 allowed", "payload_size"),
            id="payload_size",
        ),
    ],
)
def test_each_error_names_what_the_client_sent(ce: Any, expected: FieldError) -> None:
    assert errors_of(ce) == [expected]


def test_unknown_type_rejected_by_policy() -> None:
    registry = EventTypeRegistry.from_mapping({"unknown_types": "reject"})
    assert errors_of(order_ce(type="ticket.escalated"), registry) == [
        FieldError("type", "unknown event type 'ticket.escalated'", "unknown_type")
    ]


def test_all_errors_at_once_in_attribute_order() -> None:
    ce = order_ce(
        specversion="0.3",
        id=DROP,
        type="Order",
        time=DROP,
        datacontenttype="text/csv",
        data_base64="e30=",
    )
    assert [(e.path, e.rule) for e in errors_of(ce)] == [
        ("specversion", "specversion"),
        ("id", "required"),
        ("type", "pattern"),
        ("time", "required"),
        ("data_base64", "exclusive"),
    ]


def test_missing_time_still_reports_contract_errors() -> None:
    ce = order_ce(time=DROP, data={"region": "eu", "channel": "web", "amount": -1})
    assert [(e.path, e.rule) for e in errors_of(ce)] == [
        ("time", "required"),
        ("data.amount", "min"),
        ("data.items", "required_measure"),
    ]


def test_bad_data_shape_is_reported_once() -> None:
    """A non-object `data` is the one problem; its missing dimensions and measures are not repeated."""
    assert errors_of(order_ce(data="region=eu")) == [
        FieldError("data", f"{NEEDS_ORDER_DATA}, got string", "type")
    ]


# The examples of the CloudEvents 1.0 specification, as its text has them: the core spec's example
# (spec.md, "Example") and those of the JSON event format (formats/json-format.md, 3.2 and 4.3).
SPEC_EXAMPLE = {
    "specversion": "1.0",
    "type": "com.github.pull_request.opened",
    "source": "https://github.com/cloudevents/spec/pull",
    "subject": "123",
    "id": "A234-1234-1234",
    "time": "2018-04-05T17:31:00Z",
    "comexampleextension1": "value",
    "comexampleothervalue": 5,
    "datacontenttype": "text/xml",
    "data": '<much wow="xml"/>',
}
JSON_FORMAT_EXAMPLES = [
    {
        "specversion": "1.0",
        "type": "com.example.someevent",
        "source": "/mycontext",
        "id": "A234-1234-1234",
        "time": "2018-04-05T17:31:00Z",
        "comexampleextension1": "value",
        "comexampleothervalue": 5,
        "datacontenttype": "application/vnd.apache.thrift.binary",
        "data_base64": "... base64 encoded string ...",
    },
    {
        "specversion": "1.0",
        "type": "com.example.someevent",
        "source": "/mycontext",
        "id": "B234-1234-1234",
        "time": "2018-04-05T17:31:00Z",
        "comexampleextension1": "value",
        "comexampleothervalue": 5,
        "unsetextension": None,
        "datacontenttype": "application/xml",
        "data": '<much wow="xml"/>',
    },
    {
        "specversion": "1.0",
        "type": "com.example.someevent",
        "source": "/mycontext",
        "subject": None,
        "id": "C234-1234-1234",
        "time": "2018-04-05T17:31:00Z",
        "comexampleextension1": "value",
        "comexampleothervalue": 5,
        "datacontenttype": "application/json",
        "data": {"appinfoA": "abc", "appinfoB": 123, "appinfoC": True},
    },
    {
        "specversion": "1.0",
        "type": "com.example.someevent",
        "source": "/mycontext",
        "subject": None,
        "id": "D234-1234-1234",
        "time": "2018-04-05T17:31:00Z",
        "comexampleextension1": "value",
        "comexampleothervalue": 5,
        "data": "I'm just a string",
    },
]
JSON_BATCH_EXAMPLE = [
    {
        "specversion": "1.0",
        "type": "com.example.someevent",
        "source": "/mycontext/4",
        "id": "B234-1234-1234",
        "time": "2018-04-05T17:31:00Z",
        "comexampleextension1": "value",
        "comexampleothervalue": 5,
        "datacontenttype": "application/vnd.apache.thrift.binary",
        "data_base64": "... base64 encoded string ...",
    },
    {
        "specversion": "1.0",
        "type": "com.example.someotherevent",
        "source": "/mycontext/9",
        "id": "C234-1234-1234",
        "time": "2018-04-05T17:31:05Z",
        "comexampleextension1": "value",
        "comexampleothervalue": 5,
        "datacontenttype": "application/json",
        "data": {"appinfoA": "abc", "appinfoB": 123, "appinfoC": True},
    },
]


@pytest.mark.parametrize(
    "ce",
    [SPEC_EXAMPLE, *JSON_FORMAT_EXAMPLES, *JSON_BATCH_EXAMPLE],
    ids=lambda ce: f"{ce['id']} {ce['source']}",
)
def test_the_specifications_examples_are_accepted(ce: dict[str, Any]) -> None:
    """Source is a URI-reference (`/mycontext`); data that is not a JSON object is kept as it came."""
    event = mapped(ce)
    assert (event["event_id"], event["source"], event["type"]) == (ce["id"], ce["source"], ce["type"])
    assert event["occurred_at"] == ce["time"].replace("Z", ".000000Z")
    assert event["payload"]["extensions"] == {"comexampleextension1": "value", "comexampleothervalue": 5}
    for kept in ("data", "data_base64"):
        if kept in ce and not isinstance(ce[kept], dict):
            assert event["payload"][kept] == ce[kept]
    if isinstance(ce.get("data"), dict):
        assert event["payload"]["data"] == ce["data"]  # no schema for the type: all of it is payload
    if ce.get("datacontenttype") not in (None, "application/json"):
        assert event["payload"]["datacontenttype"] == ce["datacontenttype"]


def test_a_spec_example_without_time_is_refused_for_time_alone() -> None:
    """`time` is optional in CloudEvents, but okrstream never guesses when something happened: the
    one error names `time`, and the URI-reference source passes."""
    minimal = {key: JSON_FORMAT_EXAMPLES[2][key] for key in ("specversion", "type", "source", "id")}
    assert errors_of(minimal) == [FieldError("time", MISSING_TIME, "required")]
