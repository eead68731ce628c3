"""RawEvent validation: every bad input names its field, rule and reason; good input is normalised."""

import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from schemas import (
    EventValidationError,
    FieldError,
    RawEvent,
    event_to_json_dict,
    field_errors_from_pydantic,
    validate_event,
)

GOOD: dict[str, Any] = {
    "event_id": "ord-1001",
    "type": "order.placed",
    "source": "shop/eu-1",
    "occurred_at": "2026-10-01T12:00:00Z",
    "dimensions": {"region": "eu", "channel": "web"},
    "measures": {"amount": 49.9, "items": 2},
}
_DROP = object()


def with_(**changes: Any) -> dict[str, Any]:
    """GOOD with some fields replaced (or dropped with _DROP)."""
    data = {**GOOD, **changes}
    return {k: v for k, v in data.items() if v is not _DROP}


BAD_INPUTS = [
    ("missing event_id", with_(event_id=_DROP), "event_id", "required", "field required"),
    ("empty event_id", with_(event_id=""), "event_id", "min_length", "must not be empty"),
    ("event_id whitespace", with_(event_id="ord 1"), "event_id", "pattern", "must match"),
    ("event_id 129 chars", with_(event_id="a" * 129), "event_id", "max_length", "at most 128 characters"),
    ("event_id number", with_(event_id=1001), "event_id", "type", "must be a string, got number"),
    ("type not dotted", with_(type="order"), "type", "pattern", "must match"),
    ("type upper-case", with_(type="Order.Placed"), "type", "pattern", "must match"),
    ("type too long", with_(type="a." + "b" * 99), "type", "max_length", "at most 100 characters"),
    ("missing source", with_(source=_DROP), "source", "required", "field required"),
    ("source with space", with_(source="my shop"), "source", "pattern", "must be a URI reference"),
    (
        "naive occurred_at",
        with_(occurred_at="2026-10-01T12:00:00"),
        "occurred_at",
        "timezone",
        "needs an explicit UTC offset, e.g. 2026-10-01T12:00:00Z",
    ),
    (
        "garbage occurred_at",
        with_(occurred_at="yesterday"),
        "occurred_at",
        "datetime",
        "must be an ISO 8601 time",
    ),
    (
        "occurred_at year 1900",
        with_(occurred_at="1900-01-01T00:00:00Z"),
        "occurred_at",
        "range",
        "between 1970 and 2299",
    ),
    (
        "occurred_at year 2300",
        with_(occurred_at="2300-01-01T00:00:00Z"),
        "occurred_at",
        "range",
        "between 1970 and 2299",
    ),
    (
        "occurred_at unix number",
        with_(occurred_at=1790000000),
        "occurred_at",
        "type",
        "must be an ISO 8601 time string, got number",
    ),
    ("missing occurred_at", with_(occurred_at=_DROP), "occurred_at", "required", "field required"),
    (
        "naive received_at",
        with_(received_at="2026-10-01T12:00:01"),
        "received_at",
        "timezone",
        "explicit UTC offset",
    ),
    (
        "NaN measure",
        with_(measures={"amount": float("nan")}),
        "measures.amount",
        "finite",
        "must be a finite number, got NaN",
    ),
    ("inf measure", with_(measures={"amount": float("inf")}), "measures.amount", "finite", "got inf"),
    ("-inf measure", with_(measures={"amount": float("-inf")}), "measures.amount", "finite", "got -inf"),
    ("huge int measure", with_(measures={"amount": 10**400}), "measures.amount", "finite", "got inf"),
    (
        "boolean measure",
        with_(measures={"amount": True}),
        "measures.amount",
        "type",
        "must be a number, got boolean",
    ),
    (
        "string measure",
        with_(measures={"amount": "12"}),
        "measures.amount",
        "type",
        "must be a number, got string",
    ),
    (
        "bad measure key",
        with_(measures={"Amount": 1}),
        "measures.Amount",
        "invalid_key",
        "invalid key 'Amount'",
    ),
    (
        "bad dimension key",
        with_(dimensions={"Region": "eu"}),
        "dimensions.Region",
        "invalid_key",
        "invalid key 'Region'",
    ),
    (
        "dimension key too long",
        with_(dimensions={"r" * 65: "eu"}),
        "dimensions." + "r" * 65,
        "invalid_key",
        "invalid key",
    ),
    (
        "non-string dimension",
        with_(dimensions={"region": 5}),
        "dimensions.region",
        "type",
        "must be a string, got number",
    ),
    (
        "dimension value too long",
        with_(dimensions={"region": "x" * 1025}),
        "dimensions.region",
        "max_length",
        "at most 1024 characters",
    ),
    (
        "65 dimensions",
        with_(dimensions={f"d{i}": "x" for i in range(65)}),
        "dimensions",
        "too_many_keys",
        "at most 64 keys, got 65",
    ),
    (
        "65 measures",
        with_(measures={f"m{i}": i for i in range(65)}),
        "measures",
        "too_many_keys",
        "at most 64 keys",
    ),
    (
        "dimensions not an object",
        with_(dimensions=["eu"]),
        "dimensions",
        "type",
        "must be an object, got array",
    ),
    ("measures null", with_(measures=None), "measures", "type", "must be an object, got null"),
    (
        "payload too large",
        with_(payload={"blob": "x" * 65536}),
        "payload",
        "payload_size",
        "at most 65536 allowed",
    ),
    ("payload not JSON", with_(payload={"when": object()}), "payload", "type", "must be JSON-serializable"),
    ("extra top-level field", with_(customer="c-1"), "customer", "extra_forbidden", "unknown field"),
    ("subject too long", with_(subject="s" * 201), "subject", "max_length", "at most 200 characters"),
    ("subject empty", with_(subject=""), "subject", "min_length", "must not be empty"),
    ("non-object input", [GOOD], "$", "type", "must be a JSON object, got array"),
    ("string input", "order.placed", "$", "type", "must be a JSON object, got string"),
]


@pytest.mark.parametrize(
    ("data", "path", "rule", "message"), [row[1:] for row in BAD_INPUTS], ids=[row[0] for row in BAD_INPUTS]
)
def test_bad_input_names_field_rule_and_reason(data: Any, path: str, rule: str, message: str) -> None:
    with pytest.raises(EventValidationError) as caught:
        validate_event(data)
    [error] = caught.value.errors
    assert (error.path, error.rule) == (path, rule)
    assert message in error.message


def test_all_errors_reported_at_once() -> None:
    data = with_(
        event_id="bad id",
        type="Order",
        occurred_at="2026-10-01T12:00:00",
        measures={"amount": float("nan"), "items": True},
        dimensions={"Region": "eu"},
        extra=1,
    )
    with pytest.raises(EventValidationError) as caught:
        validate_event(data)
    got = {(e.path, e.rule) for e in caught.value.errors}
    assert got == {
        ("event_id", "pattern"),
        ("type", "pattern"),
        ("occurred_at", "timezone"),
        ("measures.amount", "finite"),
        ("measures.items", "type"),
        ("dimensions.Region", "invalid_key"),
        ("extra", "extra_forbidden"),
    }
    text = str(caught.value)
    assert text.count("; ") == len(caught.value.errors) - 1
    assert "occurred_at: needs an explicit UTC offset" in text


def test_missing_everything_lists_each_required_field() -> None:
    with pytest.raises(EventValidationError) as caught:
        validate_event({})
    assert caught.value.errors == tuple(
        FieldError(name, "field required", "required")
        for name in ("event_id", "type", "source", "occurred_at")
    )


def test_field_errors_from_pydantic_directly() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        RawEvent.model_validate(with_(measures={"amount": float("inf")}, source=""))
    assert field_errors_from_pydantic(caught.value) == (
        FieldError("source", "must not be empty", "min_length"),
        FieldError("measures.amount", "must be a finite number, got inf", "finite"),
    )


def test_error_survives_pickling() -> None:
    with pytest.raises(EventValidationError) as caught:
        validate_event(with_(event_id=""))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.errors == caught.value.errors
    assert str(copy) == "event_id: must not be empty"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-10-01T14:00:00+02:00", datetime(2026, 10, 1, 12, tzinfo=UTC)),
        ("2026-10-01T12:00:00Z", datetime(2026, 10, 1, 12, tzinfo=UTC)),
        ("2026-10-01T07:30:00.25-04:30", datetime(2026, 10, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        (
            datetime(2026, 10, 1, 13, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 10, 1, 12, tzinfo=UTC),
        ),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_times_are_stored_in_utc(given: Any, expected: datetime) -> None:
    event = validate_event(with_(occurred_at=given))
    assert event.occurred_at == expected
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_good_event_defaults_and_int_measures() -> None:
    event = validate_event(with_(dimensions=_DROP, measures={"items": 3}))
    assert event.measures == {"items": 3.0}
    assert isinstance(event.measures["items"], float)
    assert event.dimensions == {}
    assert event.subject is None and event.payload is None and event.received_at is None
    assert event.identity == ("shop/eu-1", "ord-1001")


def test_event_is_frozen() -> None:
    event = validate_event(GOOD)
    with pytest.raises(pydantic.ValidationError):
        event.event_id = "other"  # type: ignore[misc]


def test_received_at_is_filled_only_when_missing() -> None:
    now = datetime(2026, 10, 1, 12, 0, 5, tzinfo=UTC)
    assert validate_event(GOOD, received_at=now).received_at == now
    given = with_(received_at="2026-10-01T12:00:01Z")
    assert validate_event(given, received_at=now).received_at == datetime(2026, 10, 1, 12, 0, 1, tzinfo=UTC)


def test_json_dict_round_trip() -> None:
    event = validate_event(
        with_(
            subject="cust-7",
            payload={"raw": [1, "two", None], "ok": True},
            occurred_at="2026-10-01T14:00:00+02:00",
        ),
        received_at=datetime(2026, 10, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    data = event_to_json_dict(event)
    assert data["occurred_at"] == "2026-10-01T12:00:00.000000Z"
    assert data["received_at"] == "2026-10-01T12:00:00.123456Z"
    assert validate_event(data) == event


def test_json_dict_omits_none_fields() -> None:
    data = event_to_json_dict(validate_event(GOOD))
    assert set(data) == {"event_id", "type", "source", "occurred_at", "dimensions", "measures"}
    assert validate_event(data) == validate_event(GOOD)
