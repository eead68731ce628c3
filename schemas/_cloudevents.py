"""CloudEvents 1.0 (JSON format, structured or binary HTTP mode) mapped onto okrstream's RawEvent.

The official cloudevents SDK is not used because it fills a missing `id` or `time` with uuid4/now,
which would silently defeat idempotent dedup and misdate KPIs. Every error path names the CloudEvents
attribute the client sent (`id`, `time`, `data.amount`), never okrstream's canonical field names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from ._bounds import echo_repr
from ._errors import EventValidationError, FieldError, json_type_name
from ._event import RawEvent
from ._event_types import EventTypeRegistry
from ._validate import validate_event

SPECVERSION = "1.0"
# Attributes mapped or rejected here, in spec order; any other top-level attribute is an extension.
_CORE = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data_base64", "data")
_PATH_ORDER = {name: i for i, name in enumerate(("$", *_CORE))}
_RENAMED = {"event_id": "id", "occurred_at": "time", "payload": "data"}
_JSON_SUBTYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+\+json")
# Stands in for a missing `time` only so the remaining checks still run; such an event is always rejected.
_STAND_IN_TIME = "1970-01-01T00:00:00Z"
_MISSING_TIME = "required: okrstream needs the time the event occurred, with an explicit UTC offset"


def cloudevent_from_headers(headers: Mapping[str, str], data: Any) -> dict[str, Any]:
    """Turn a binary-mode HTTP request into the structured-mode dict validate_cloudevent reads."""
    event: dict[str, Any] = {}
    content_type: str | None = None
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith("ce-") and len(lower) > 3:
            event[lower[3:]] = unquote(value)  # HTTP binding 3.1.3.2: values are percent-encoded
        elif lower == "content-type":
            content_type = value
    if content_type is not None:
        event["datacontenttype"] = content_type
    if data is not None:
        event["data"] = data
    return event


@dataclass
class _Mapped:
    """The canonical dict built so far, the errors found on the way and how `data` was read."""

    canonical: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    explicit: bool = False  # dimensions/measures came as objects inside `data`
    opaque: str | None = None  # what `data` was when it could not be split (a string, XML, base64)


def validate_cloudevent(
    ce: Any,
    registry: EventTypeRegistry | None = None,
    *,
    received_at: datetime | None = None,
) -> RawEvent:
    """Validate a decoded CloudEvent and map it; raise EventValidationError naming every problem at once."""
    if not isinstance(ce, Mapping):
        raise EventValidationError(
            [FieldError("$", f"must be a JSON object, got {json_type_name(ce)}", "type")]
        )
    mapped = _Mapped()
    _check_envelope(ce, mapped.errors)
    _map_attributes(ce, mapped)
    _map_data(ce, registry, mapped)
    try:
        event = validate_event(mapped.canonical, registry, received_at=received_at)
    except EventValidationError as exc:
        errors = [*mapped.errors, *_client_errors(exc.errors, mapped, ce.get("type"))]
    else:
        if not mapped.errors:
            return event
        errors = mapped.errors
    raise EventValidationError(sorted(errors, key=_attribute_rank))


def _check_envelope(ce: Mapping[str, Any], errors: list[FieldError]) -> None:
    """Attributes okrstream cannot map at all: a wrong spec version, a content type that is no string,
    both forms of data at once."""
    if "specversion" not in ce:
        errors.append(FieldError("specversion", f'field required; send "{SPECVERSION}"', "required"))
    elif ce["specversion"] != SPECVERSION:
        got = ce["specversion"]
        shown = echo_repr(got) if isinstance(got, str) else json_type_name(got)
        errors.append(FieldError("specversion", f'must be "{SPECVERSION}", got {shown}', "specversion"))
    content_type = ce.get("datacontenttype")
    if content_type is not None and not isinstance(content_type, str):
        kind = json_type_name(content_type)
        errors.append(FieldError("datacontenttype", f"must be a string, got {kind}", "type"))
    if ce.get("data") is not None and ce.get("data_base64") is not None:
        errors.append(FieldError("data_base64", "must not come with data: send one of them", "exclusive"))


def _is_json(content_type: Any) -> bool:
    """Whether data of this content type is JSON (absent means JSON, as the JSON format says)."""
    if not isinstance(content_type, str):
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or _JSON_SUBTYPE.fullmatch(media) is not None


def _map_attributes(ce: Mapping[str, Any], mapped: _Mapped) -> None:
    """Copy id/source/type/subject/time across; a missing one is left for validate_event to report."""
    for ce_name, name in (("id", "event_id"), ("source", "source"), ("type", "type"), ("subject", "subject")):
        if ce_name in ce:
            mapped.canonical[name] = ce[ce_name]
    if ce.get("time") is None:  # optional in CloudEvents, but okrstream never guesses when
        mapped.errors.append(FieldError("time", _MISSING_TIME, "required"))
        mapped.canonical["occurred_at"] = _STAND_IN_TIME
    else:
        mapped.canonical["occurred_at"] = ce["time"]


def _map_data(ce: Mapping[str, Any], registry: EventTypeRegistry | None, mapped: _Mapped) -> None:
    """Split JSON object `data` into dimensions, measures and payload; keep any other data (a string,
    XML, base64) and extension attributes in the payload as they came."""
    data, content_type = ce.get("data"), ce.get("datacontenttype")
    opaque: dict[str, Any] = {}
    if ce.get("data_base64") is not None:
        opaque, mapped.opaque = {"data_base64": ce["data_base64"]}, "data_base64"
    elif data is not None and (not isinstance(data, Mapping) or not _is_json(content_type)):
        shown = (
            json_type_name(data) if _is_json(content_type) else f"{echo_repr(str(content_type), 100)} data"
        )
        opaque, mapped.opaque = {"data": data}, shown
    if opaque and isinstance(content_type, str):
        opaque["datacontenttype"] = content_type
    split = data if isinstance(data, Mapping) and not opaque else {}
    dimensions, measures, rest, mapped.explicit = _split_data(split, ce.get("type"), registry)
    if dimensions:
        mapped.canonical["dimensions"] = dimensions
    if measures:
        mapped.canonical["measures"] = measures
    extensions = {name: value for name, value in ce.items() if name not in _CORE and value is not None}
    payload = {key: part for key, part in (("data", rest), ("extensions", extensions)) if part} | opaque
    if payload:
        mapped.canonical["payload"] = payload


def _split_data(
    data: Mapping[str, Any], event_type: Any, registry: EventTypeRegistry | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], bool]:
    """(dimensions, measures, rest, explicit): explicit objects win, else the type's schema decides.

    Without either, everything stays in the payload: guessing dimensions from JSON types would
    silently change what a KPI groups by when a producer adds a string field.
    """
    explicit = {
        name: data[name] for name in ("dimensions", "measures") if isinstance(data.get(name), Mapping)
    }
    if explicit:
        rest = {key: value for key, value in data.items() if key not in explicit}
        return dict(explicit.get("dimensions", {})), dict(explicit.get("measures", {})), rest, True
    schema = registry.event_types.get(event_type) if registry and isinstance(event_type, str) else None
    if schema is None:
        return {}, {}, dict(data), False
    dimension_keys = schema.dimensions.keys() | schema.optional_dimensions.keys()
    measure_keys = schema.measures.keys() | schema.optional_measures.keys()
    dimensions = {key: value for key, value in data.items() if key in dimension_keys}
    measures = {key: value for key, value in data.items() if key in measure_keys and key not in dimensions}
    rest = {key: value for key, value in data.items() if key not in dimensions and key not in measures}
    return dimensions, measures, rest, False


def _to_client(error: FieldError, explicit: bool) -> FieldError:
    """Rename a canonical error path to the CloudEvents attribute or data key the client sent."""
    head, dot, rest = error.path.partition(".")
    if head in ("dimensions", "measures"):
        path = f"data.{error.path}" if explicit else f"data{dot}{rest}"
    else:
        path = _RENAMED.get(head, head) + dot + rest
    return FieldError(path, error.message, error.rule)


def _client_errors(errors: Iterable[FieldError], mapped: _Mapped, event_type: Any) -> list[FieldError]:
    """validate_event's errors renamed for the client; data that could not be split is one error,
    not one per dimension or measure its type requires."""
    renamed = [_to_client(error, mapped.explicit) for error in errors]
    if mapped.opaque is None:
        return renamed
    kept = [error for error in renamed if not error.path.startswith("data.")]
    if len(kept) < len(renamed):
        needs = f"the dimensions and measures {echo_repr(str(event_type), 100)} requires"
        message = f"must be a JSON object holding {needs}, got {mapped.opaque}"
        kept.append(FieldError("data", message, "type"))
    return kept


def _attribute_rank(error: FieldError) -> int:
    """Clients read errors in the order CloudEvents lists the attributes."""
    return _PATH_ORDER.get(error.path.split(".")[0], len(_PATH_ORDER))
