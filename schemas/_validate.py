"""The single entry point that turns a decoded JSON object into a trusted RawEvent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ._errors import EventValidationError, FieldError, field_errors_from_pydantic, json_type_name
from ._event import RawEvent
from ._event_types import EventTypeRegistry


def validate_event(
    data: Mapping[str, Any],
    registry: EventTypeRegistry | None = None,
    *,
    received_at: datetime | None = None,
) -> RawEvent:
    """Validate shape, then the type contract; raise EventValidationError naming every bad field."""
    if not isinstance(data, Mapping):
        raise EventValidationError(
            [FieldError("$", f"must be a JSON object, got {json_type_name(data)}", "type")]
        )
    fields = dict(data)
    if received_at is not None and fields.get("received_at") is None:
        fields["received_at"] = received_at
    try:
        event = RawEvent.model_validate(fields)
    except ValidationError as exc:
        raise EventValidationError(field_errors_from_pydantic(exc)) from None
    if registry is not None and (errors := registry.check(event)):
        raise EventValidationError(errors)
    return event
