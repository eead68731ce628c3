"""Per-type event contracts loaded from YAML, so KPIs can rely on the fields they aggregate."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from ._bounds import echo_repr
from ._errors import ConfigError, FieldError, field_errors_from_pydantic
from ._event import EVENT_TYPE_PATTERN, KEY_PATTERN, RawEvent

TypeName = Annotated[str, StringConstraints(max_length=100, pattern=EVENT_TYPE_PATTERN)]
Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
_CLOSED = ConfigDict(frozen=True, extra="forbid")


class UnknownTypePolicy(StrEnum):
    """What to do with an event whose type has no schema."""

    ACCEPT = "accept"
    REJECT = "reject"


class _Spec(BaseModel):
    model_config = _CLOSED

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """`region: string` is shorthand for `region: {type: string}`."""
        return {"type": value} if isinstance(value, str) else value


class DimensionSpec(_Spec):
    """A dimension is always a string; an enum pins it to known values so group-bys stay small."""

    type: Literal["string"] = "string"
    enum: tuple[Annotated[str, StringConstraints(max_length=1024)], ...] | None = Field(None, min_length=1)

    def problem(self, path: str, value: str) -> FieldError | None:
        if self.enum is not None and value not in self.enum:
            return FieldError(path, f"must be one of {', '.join(self.enum)}; got {echo_repr(value)}", "enum")
        return None


class MeasureSpec(_Spec):
    """A measure is a number, optionally integral and bounded (e.g. items >= 1)."""

    type: Literal["number", "integer"] = "number"
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds_ordered(self) -> MeasureSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError(
                "range",
                "min {low} is greater than max {high}",
                {"low": f"{self.min:g}", "high": f"{self.max:g}"},
            )
        return self

    def problem(self, path: str, value: float) -> FieldError | None:
        if self.type == "integer" and not value.is_integer():
            return FieldError(path, f"must be an integer, got {value:g}", "measure_type")
        if self.min is not None and value < self.min:
            return FieldError(path, f"must be >= {self.min:g}, got {value:g}", "min")
        if self.max is not None and value > self.max:
            return FieldError(path, f"must be <= {self.max:g}, got {value:g}", "max")
        return None


def _none_as_empty(data: Any, keys: set[str]) -> Any:
    """YAML turns `measures:` with nothing under it into None; treat it as empty."""
    if isinstance(data, Mapping):
        return {k: ({} if v is None and k in keys else v) for k, v in data.items()}
    return {} if data is None else data


class EventTypeSchema(BaseModel):
    """The contract for one event type: required and optional dimensions and measures."""

    model_config = _CLOSED
    description: str | None = None
    dimensions: dict[Key, DimensionSpec] = {}
    measures: dict[Key, MeasureSpec] = {}
    optional_dimensions: dict[Key, DimensionSpec] = {}
    optional_measures: dict[Key, MeasureSpec] = {}
    subject: Literal["required", "optional"] = "optional"

    @model_validator(mode="before")
    @classmethod
    def _empty(cls, data: Any) -> Any:
        return _none_as_empty(data, {"dimensions", "measures", "optional_dimensions", "optional_measures"})

    @model_validator(mode="after")
    def _no_overlap(self) -> EventTypeSchema:
        both = (self.dimensions.keys() & self.optional_dimensions.keys()) | (
            self.measures.keys() & self.optional_measures.keys()
        )
        if both:
            raise PydanticCustomError(
                "overlap", "declared both required and optional: {names}", {"names": ", ".join(sorted(both))}
            )
        return self

    def check(self, event: RawEvent) -> list[FieldError]:
        """Every contract violation of `event`, in a stable order."""
        errors: list[FieldError] = []
        if self.subject == "required" and event.subject is None:
            errors.append(FieldError("subject", f"field required for {event.type}", "required"))
        for specs, required, values, prefix, rule in (
            (self.dimensions, True, event.dimensions, "dimensions", "required_dimension"),
            (self.optional_dimensions, False, event.dimensions, "dimensions", ""),
            (self.measures, True, event.measures, "measures", "required_measure"),
            (self.optional_measures, False, event.measures, "measures", ""),
        ):
            for name, spec in specs.items():
                path = f"{prefix}.{name}"
                if name not in values:
                    if required:
                        errors.append(FieldError(path, f"field required for {event.type}", rule))
                # a dimension spec meets a dimension's string, a measure spec a measure's number
                elif problem := spec.problem(path, values[name]):  # type: ignore[arg-type]
                    errors.append(problem)
        return errors


class EventTypeRegistry(BaseModel):
    """All known event types plus the policy for types nobody declared."""

    model_config = _CLOSED
    unknown_types: UnknownTypePolicy = UnknownTypePolicy.ACCEPT
    event_types: dict[TypeName, EventTypeSchema] = {}

    @model_validator(mode="before")
    @classmethod
    def _empty(cls, data: Any) -> Any:
        return _none_as_empty(data, {"event_types"})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> EventTypeRegistry:
        """Build from yaml.safe_load output; raises ConfigError listing every bad definition."""
        try:
            return cls.model_validate(dict(data) if data else {})
        except ValidationError as exc:
            raise ConfigError(field_errors_from_pydantic(exc)) from None

    def check(self, event: RawEvent) -> tuple[FieldError, ...]:
        """Every way `event` breaks its type's contract (empty tuple when it is fine)."""
        schema = self.event_types.get(event.type)
        if schema is None:
            if self.unknown_types is UnknownTypePolicy.REJECT:
                return (FieldError("type", f"unknown event type {event.type!r}", "unknown_type"),)
            return ()
        return tuple(schema.check(event))
