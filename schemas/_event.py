"""The canonical business event every producer sends and every processor reads."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
)
from pydantic_core import PydanticCustomError

from ._bounds import MAX_PAYLOAD_DEPTH, too_deep
from ._errors import json_type_name

EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]*$"
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
# A URI-reference (RFC 3986), as CloudEvents has `source`: `shop`, `/mycontext`,
# `https://github.com/cloudevents/spec/pull`, `urn:event:from:myapi`. Only the characters a URI
# can hold, percent-escapes whole; no spaces, quotes or non-ASCII.
SOURCE_PATTERN = r"^(?:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+$"
_SOURCE = re.compile(SOURCE_PATTERN)
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_KEYS = 64
MAX_PAYLOAD_BYTES = 65536
MIN_YEAR, MAX_YEAR = 1970, 2299  # ClickHouse DateTime64 range
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _utc(value: Any) -> datetime:
    """Parse ISO 8601 and insist on an explicit offset: guessing the zone silently shifts KPIs."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError(
                "datetime",
                "must be an ISO 8601 time such as 2026-10-01T12:00:00Z, got {value}",
                {"value": repr(value[:64])},
            ) from None
    elif not isinstance(value, datetime):
        raise PydanticCustomError(
            "type", "must be an ISO 8601 time string, got {kind}", {"kind": json_type_name(value)}
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("timezone", "needs an explicit UTC offset, e.g. 2026-10-01T12:00:00Z")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = None
    if value is None or not MIN_YEAR <= value.year <= MAX_YEAR:
        raise PydanticCustomError(
            "range", "year must be between {low} and {high} (UTC)", {"low": MIN_YEAR, "high": MAX_YEAR}
        )
    return value


def _measure(value: Any) -> float:
    """Accept only real JSON numbers: True or "12" as a measure is a producer bug, not data."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("type", "must be a number, got {kind}", {"kind": json_type_name(value)})
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        shown = "NaN" if math.isnan(number) else ("inf" if number > 0 else "-inf")
        raise PydanticCustomError("finite", "must be a finite number, got {shown}", {"shown": shown})
    return number


def _payload_size(value: Any) -> Any:
    """Cap the audit copy so one event cannot bloat a Kafka record or a ClickHouse row, nor nest
    deeper than a JSON encoder can go (measured first: the encoder would recurse to find out)."""
    if value is None:
        return value
    if (where := too_deep(value, MAX_PAYLOAD_DEPTH)) is not None:
        raise PydanticCustomError(
            "depth",
            "nested deeper than {limit} levels of objects and arrays, at payload.{where}",
            {"limit": MAX_PAYLOAD_DEPTH, "where": where},
        )
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise PydanticCustomError("type", "must be JSON-serializable") from None
    size = len(text.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise PydanticCustomError(
            "payload_size",
            "compact JSON is {size} bytes, at most {limit} allowed",
            {"size": size, "limit": MAX_PAYLOAD_BYTES},
        )
    return value


def _uri_reference(value: str) -> str:
    if not _SOURCE.fullmatch(value):
        raise PydanticCustomError(
            "pattern",
            "must be a URI reference such as shop, /mycontext or https://example.com/shop:"
            " ASCII letters, digits and - . _ ~ : / ? # [ ] @ ! $ & ' ( ) * + , ; = or %XX escapes",
        )
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_utc)]
Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
Measure = Annotated[float, BeforeValidator(_measure)]


class RawEvent(BaseModel):
    """One business fact as received; (source, event_id) identifies it for exactly-once dedup."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=EVENT_ID_PATTERN)]
    type: Annotated[str, StringConstraints(max_length=100, pattern=EVENT_TYPE_PATTERN)]
    source: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200),
        AfterValidator(_uri_reference),
        Field(json_schema_extra={"pattern": SOURCE_PATTERN}),
    ]
    occurred_at: UtcDatetime
    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    dimensions: dict[Key, Annotated[str, StringConstraints(max_length=1024)]] = Field(
        default_factory=dict, max_length=MAX_KEYS
    )
    measures: dict[Key, Measure] = Field(default_factory=dict, max_length=MAX_KEYS)
    payload: Annotated[Any, AfterValidator(_payload_size)] = None
    received_at: UtcDatetime | None = None

    @property
    def identity(self) -> tuple[str, str]:
        """The dedup key: CloudEvents says source + id is unique."""
        return (self.source, self.event_id)

    @field_serializer("occurred_at", "received_at")
    def _format_time(self, value: datetime | None) -> str | None:
        return None if value is None else value.strftime(TIME_FORMAT)


def utc_iso(at: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as okrstream's JSON answers and records show times."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


AS_OF_TIMES = ("landed", "occurred")  # what an as-of instant counts events by


def parse_instant(text: str, name: str = "as_of") -> datetime:
    """An ISO 8601 instant with its offset (`2026-10-15T12:00Z`): "as of" never guesses a zone."""
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{name}: must be an ISO 8601 time with an offset, got {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{name}: needs an offset such as Z or +01:00, got {text!r}")
    return value


def event_to_json_dict(event: RawEvent) -> dict[str, Any]:
    """JSON-ready dict (UTC `Z` times, None fields omitted) that validate_event reads back unchanged.

    Built field by field rather than by `model_dump(mode="json")`: every writer of the log encodes
    each event, and the generic dump cost as much as validating it. A validated event holds only
    JSON values (its payload was checked to be), so nothing here needs converting but the times.
    """
    data: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type,
        "source": event.source,
        "occurred_at": _time_text(event.occurred_at),
    }
    if event.subject is not None:
        data["subject"] = event.subject
    data["dimensions"] = event.dimensions
    data["measures"] = event.measures
    if event.payload is not None:
        data["payload"] = event.payload
    if event.received_at is not None:
        data["received_at"] = _time_text(event.received_at)
    return data


def _time_text(value: datetime) -> str:
    """`TIME_FORMAT` of a UTC time, at a third of strftime's cost (measured)."""
    v = value
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031 (the fastest of the formatters here)
        v.year,
        v.month,
        v.day,
        v.hour,
        v.minute,
        v.second,
        v.microsecond,
    )
