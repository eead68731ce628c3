"""Declarative mappings: foreign payloads (a Segment call, a webhook, a CSV row) to canonical events.

A mapping says, per canonical field, where its value is in the foreign document (a JMESPath
expression) or which constant it takes, so a new source is a few lines of YAML, not code. Errors name
the foreign path a value was read from, because the sender of the payload has to fix it there.
"""

from __future__ import annotations

import collections.abc
import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import jmespath
from jmespath import exceptions as jmespath_errors
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ._errors import ConfigError, EventValidationError, FieldError, field_errors_from_pydantic, json_type_name
from ._event import KEY_PATTERN, MAX_KEYS, MAX_YEAR, MIN_YEAR, Key, Measure, RawEvent, utc_iso
from ._event_types import EventTypeRegistry, UnknownTypePolicy
from ._validate import validate_event

MAPPING_NAME_PATTERN = KEY_PATTERN
MappingName = Annotated[str, StringConstraints(pattern=MAPPING_NAME_PATTERN)]
_CLOSED = ConfigDict(frozen=True, extra="forbid")
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")  # JSON-like; no nan, inf or 1_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MISSING_RULES = frozenset({"required", "required_dimension", "required_measure"})
_FIELD_ORDER = ("event_id", "type", "source", "occurred_at", "subject", "dimensions", "measures", "payload")


class TimeFormat(StrEnum):
    """How occurred_at is written in the foreign payload."""

    ISO = "iso"  # ISO 8601 with an explicit offset, e.g. 2026-10-01T12:00:00Z
    UNIX = "unix"  # seconds since 1970-01-01 UTC
    UNIX_MS = "unix_ms"  # milliseconds since 1970-01-01 UTC


class PayloadPolicy(StrEnum):
    """Whether the event keeps the whole foreign document as its audit payload."""

    DROP = "drop"
    KEEP = "keep"


class _Kind(StrEnum):
    """What a canonical field holds, which decides how a foreign value is converted."""

    TEXT = "text"
    NUMBER = "number"
    TIME = "time"


def _shown(value: Any) -> str:
    """A value as error messages show it: its JSON type, and strings (cut short) too."""
    kind = json_type_name(value)
    return f"{kind} {value[:64]!r}" if isinstance(value, str) else kind


def _text(value: Any) -> str:
    """Strings as they are; numbers and booleans as their JSON text, as a CSV or query string has them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise PydanticCustomError(
        "type", "must be a string, number or boolean, got {kind}", {"kind": json_type_name(value)}
    )


def _decimal(value: Any, what: str = "a number") -> Decimal:
    """A JSON number or a numeric string (CSV cells are text) as an exact decimal."""
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return Decimal(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise PydanticCustomError("finite", "must be a finite number, got {value}", {"value": value})
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    raise PydanticCustomError("type", "must be {what}, got {shown}", {"what": what, "shown": _shown(value)})


def _number(value: Any, scale: float | None) -> float:
    """Scaled in decimal, so 4990 cents * 0.01 is 49.9 and not 49.900000000000006."""
    number = _decimal(value)
    if scale is not None:
        number *= Decimal(repr(scale))
    result = float(number)
    if not math.isfinite(result):
        raise PydanticCustomError(
            "finite", "must be a finite number, got {value}", {"value": str(value)[:64]}
        )
    return result


def _time(value: Any, time: TimeFormat) -> Any:
    """Unix times become ISO 8601 in UTC; ISO text is left for validate_event to check."""
    if time is TimeFormat.ISO:
        return value
    unit = "seconds" if time is TimeFormat.UNIX else "milliseconds"
    amount = _decimal(value, f"a unix time in {unit}")
    micros = amount * (1_000_000 if time is TimeFormat.UNIX else 1_000)
    try:
        return utc_iso(_EPOCH + timedelta(microseconds=int(micros.to_integral_value())))
    except OverflowError:
        raise PydanticCustomError(
            "range", "year must be between {low} and {high} (UTC)", {"low": MIN_YEAR, "high": MAX_YEAR}
        ) from None


def _convert(kind: _Kind, value: Any, time: TimeFormat | None, scale: float | None) -> Any:
    if kind is _Kind.NUMBER:
        return _number(value, scale)
    if kind is _Kind.TIME:
        return _time(value, time or TimeFormat.ISO)
    return _text(value)


def _scalar(value: Any) -> Any:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise PydanticCustomError(
            "type", "must be a string, number or boolean, got {kind}", {"kind": json_type_name(value)}
        )
    return value


Scalar = Annotated[Any, AfterValidator(_scalar)]


def _jmespath_problem(error: jmespath_errors.JMESPathError) -> str:
    """One line instead of jmespath's multi-line message with a caret under the expression."""
    if isinstance(error, jmespath_errors.EmptyExpressionError):
        return "empty"
    if isinstance(error, jmespath_errors.LexerError):
        return f"{error.message.lower()} at column {error.lexer_position + 1}"
    if isinstance(error, jmespath_errors.IncompleteExpressionError):
        return "ends too early"
    if isinstance(error, jmespath_errors.ParseError):
        return f"unexpected {error.token_value!r} at column {error.lex_position + 1}"
    return str(error)


_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


@functools.cache
def _finder(path: str) -> Callable[[Any], Any]:
    """A path's search: plain field paths (`after.total_cents`) are walked directly, with
    JMESPath's meaning (null where a step is missing or not an object), ten times faster than
    its interpreter; any other expression is compiled once and searched by jmespath."""
    if _FIELD_PATH.fullmatch(path):
        steps = tuple(path.split("."))

        def walk(doc: Any) -> Any:
            for step in steps:
                if not isinstance(doc, dict):
                    return None
                doc = doc.get(step)
            return doc

        return walk
    return jmespath.compile(path).search


class FieldSource(BaseModel):
    """Where one canonical field's value comes from: a JMESPath `path` into the payload, or a `const`.

    `default` is used as is (in canonical units) when the path yields null or nothing; `map`
    translates payload values; `scale` multiplies a measure; `time` reads occurred_at.
    """

    model_config = _CLOSED
    kind: ClassVar[_Kind] = _Kind.TEXT
    path: str | None = None
    time: TimeFormat | None = None  # before the value fields, whose checks depend on it
    scale: Measure | None = None
    const: Scalar = None
    default: Scalar = None
    map: dict[str, Scalar] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """`amount: properties.revenue` is shorthand for `amount: {path: properties.revenue}`."""
        if isinstance(value, str):
            return {"path": value}
        if not isinstance(value, collections.abc.Mapping):
            raise PydanticCustomError(
                "type",
                "must be a JMESPath expression or an object with path or const, got {kind}",
                {"kind": json_type_name(value)},
            )
        return value

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                jmespath.compile(value)
            except jmespath_errors.JMESPathError as exc:
                raise PydanticCustomError(
                    "jmespath", "invalid JMESPath expression: {problem}", {"problem": _jmespath_problem(exc)}
                ) from None
        return value

    @field_validator("time")
    @classmethod
    def _only_on_time(cls, value: TimeFormat | None) -> TimeFormat | None:
        if value is not None and cls.kind is not _Kind.TIME:
            raise PydanticCustomError("not_allowed", "only allowed on occurred_at")
        return value

    @field_validator("scale")
    @classmethod
    def _only_on_measures(cls, value: float | None) -> float | None:
        if value is not None and cls.kind is not _Kind.NUMBER:
            raise PydanticCustomError("not_allowed", "only allowed on measures")
        return value

    @field_validator("map", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        """YAML reads `map: {1: active}` with an int key; payload values are looked up as text."""
        if isinstance(value, collections.abc.Mapping):
            return {(_text(k) if isinstance(k, bool | int | float) else k): v for k, v in value.items()}
        return value

    @field_validator("const", "default", "map")
    @classmethod
    def _fits_field(cls, value: Any, info: ValidationInfo) -> Any:
        """Catch a constant the field can never take at load time, not on every event."""
        if value is None or "time" not in info.data:  # a bad `time` is reported on its own
            return value
        if info.field_name != "const" and info.data.get("path", "") is None:
            raise PydanticCustomError("not_allowed", "only allowed with path")
        if info.field_name == "map":
            if not value:
                raise PydanticCustomError("min_length", "must not be empty")
            for key, v in value.items():
                try:
                    _convert(cls.kind, v, info.data["time"], None)
                except PydanticCustomError as exc:
                    raise PydanticCustomError(
                        exc.type, "value of {key}: {problem}", {"key": repr(key), "problem": exc.message()}
                    ) from None
        else:
            _convert(cls.kind, value, info.data["time"], None)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> FieldSource:
        if (self.path is None) == (self.const is None):
            raise PydanticCustomError(
                "source",
                "needs exactly one of path, const; got {given}",
                {"given": "both" if self.path is not None else "neither"},
            )
        return self

    def resolve(self, doc: Any) -> tuple[Any, bool]:
        """The canonical value (None when absent), and whether it was read from the payload.

        Raises PydanticCustomError when the payload's value does not fit the field.
        """
        if self.path is None:
            return _convert(self.kind, self.const, self.time, None), False
        try:
            raw = _finder(self.path)(doc)
        except jmespath_errors.JMESPathError as exc:
            raise PydanticCustomError("jmespath", "cannot evaluate: {error}", {"error": str(exc)}) from None
        if raw is None:
            fallback = None if self.default is None else _convert(self.kind, self.default, self.time, None)
            return fallback, fallback is None
        if self.map is not None:
            raw = self._translate(raw)
        return _convert(self.kind, raw, self.time, self.scale), True

    def _translate(self, raw: Any) -> Any:
        assert self.map is not None
        if isinstance(raw, dict | list):
            raise PydanticCustomError(
                "type",
                "must be a string, number or boolean to look up in the map, got {kind}",
                {"kind": json_type_name(raw)},
            )
        key = _text(raw)
        if key not in self.map:
            raise PydanticCustomError(
                "map",
                "{value} is not in the map; expected one of {allowed}",
                {"value": repr(key[:64]), "allowed": ", ".join(map(repr, self.map))},
            )
        return self.map[key]


class TextSource(FieldSource):
    """event_id, type, source, subject and dimensions: text; numbers and booleans become their JSON text."""


class MeasureSource(FieldSource):
    """A measure: a number or numeric string, optionally scaled."""

    kind: ClassVar[_Kind] = _Kind.NUMBER


class TimeSource(FieldSource):
    """occurred_at: ISO 8601 text, or unix seconds or milliseconds."""

    kind: ClassVar[_Kind] = _Kind.TIME


@dataclass(frozen=True)
class _Origin:
    """Where a canonical field was read from, so its errors can name that place in the payload."""

    path: str
    found: bool


def _rank(canonical: str) -> int:
    group = canonical.partition(".")[0]
    return _FIELD_ORDER.index(group) if group in _FIELD_ORDER else len(_FIELD_ORDER)


@dataclass
class _Mapped:
    """One document mapped: the canonical dict, and each problem tagged with its canonical field."""

    data: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str, FieldError]] = field(default_factory=list)
    origins: dict[str, _Origin] = field(default_factory=dict)

    def explain(self, error: FieldError) -> FieldError:
        """Turn validate_event's canonical path into the foreign path the value came from."""
        origin = self.origins.get(error.path)
        if origin is None:
            if error.rule in _MISSING_RULES:
                return FieldError(error.path, f"{error.message}; the mapping does not set it", error.rule)
            return error
        if origin.found:
            return FieldError(origin.path, f"{error.path}: {error.message}", error.rule)
        message = (
            f"{error.path}: {error.message.removeprefix('field ')}, the mapping reads it from "
            f"{origin.path} but the payload has no value there"
        )
        return FieldError(origin.path, message, error.rule)

    def errors(self, validation: tuple[FieldError, ...] = ()) -> list[FieldError]:
        """Mapping and validation problems in event field order, minus validation's echoes of the former."""
        failed = {canonical for canonical, _ in self.problems}
        found = [(e.path, self.explain(e)) for e in validation if e.path not in failed]
        return [e for _, e in sorted([*self.problems, *found], key=lambda p: _rank(p[0]))]


class Mapping(BaseModel):
    """How one kind of foreign document becomes a canonical event, field by field."""

    model_config = _CLOSED
    description: str | None = None
    # A mapping that reads a Kafka topic may leave it out: the event is then named by its message
    # (see schemas/_subscriptions.py). Elsewhere an event without one is rejected, saying so.
    event_id: TextSource | None = None
    type: TextSource
    source: TextSource
    occurred_at: TimeSource
    subject: TextSource | None = None
    dimensions: dict[Key, TextSource] = Field({}, max_length=MAX_KEYS)
    measures: dict[Key, MeasureSource] = Field({}, max_length=MAX_KEYS)
    payload: PayloadPolicy = PayloadPolicy.DROP

    @field_validator("dimensions", "measures", mode="before")
    @classmethod
    def _none_as_empty(cls, value: Any) -> Any:
        """YAML turns `measures:` with nothing under it into None."""
        return {} if value is None else value

    def sources(self) -> dict[str, FieldSource]:
        """Canonical field (`measures.amount`) -> its source, in event field order."""
        found: dict[str, FieldSource | None] = {
            "event_id": self.event_id,
            "type": self.type,
            "source": self.source,
            "occurred_at": self.occurred_at,
            "subject": self.subject,
            **{f"dimensions.{k}": s for k, s in self.dimensions.items()},
            **{f"measures.{k}": s for k, s in self.measures.items()},
        }
        return {name: source for name, source in found.items() if source is not None}

    def claimed_scope(self, doc: Any) -> tuple[Any, Any]:
        """The (source, type) this mapping reads from `doc`, None where it cannot: an API key's
        scope is checked on these before the rest of the document."""
        if not isinstance(doc, collections.abc.Mapping):
            return None, None
        claimed = []
        for source in (self.source, self.type):
            try:
                claimed.append(source.resolve(doc)[0])
            except PydanticCustomError:
                claimed.append(None)
        return claimed[0], claimed[1]

    def to_event_dict(self, doc: Any) -> dict[str, Any]:
        """The canonical event dict, not yet validated; EventValidationError when a value cannot be read."""
        mapped = self._apply(doc)
        if mapped.problems:
            raise EventValidationError(mapped.errors())
        return mapped.data

    def _apply(self, doc: Any) -> _Mapped:
        mapped = _Mapped()
        if not isinstance(doc, collections.abc.Mapping):
            error = FieldError("$", f"must be a JSON object, got {json_type_name(doc)}", "type")
            mapped.problems.append(("$", error))
            return mapped
        for name, source in self.sources().items():
            try:
                value, from_payload = source.resolve(doc)
            except PydanticCustomError as exc:
                error = FieldError(source.path or name, f"{name}: {exc.message()}", exc.type)
                mapped.problems.append((name, error))
                continue
            if source.path is not None and (from_payload or value is None):
                mapped.origins[name] = _Origin(source.path, found=value is not None)
            if value is not None:
                group, _, key = name.partition(".")
                if key:
                    mapped.data.setdefault(group, {})[key] = value
                else:
                    mapped.data[name] = value
        if self.payload is PayloadPolicy.KEEP:
            mapped.data["payload"] = doc
            mapped.origins["payload"] = _Origin("$", found=True)
        return mapped


def map_event(
    mapping: Mapping,
    doc: Any,
    registry: EventTypeRegistry | None = None,
    *,
    received_at: datetime | None = None,
    event_id: str | None = None,
) -> RawEvent:
    """Map then validate; EventValidationError names every problem, at the payload's paths where known.

    `event_id` names the event when the mapping sets none (a topic's message names itself).
    """
    mapped = mapping._apply(doc)
    if event_id is not None and mapping.event_id is None:
        mapped.data["event_id"] = event_id
    if any(canonical == "$" for canonical, _ in mapped.problems):
        raise EventValidationError(mapped.errors())
    try:
        event = validate_event(mapped.data, registry, received_at=received_at)
    except EventValidationError as exc:
        raise EventValidationError(mapped.errors(exc.errors)) from None
    if mapped.problems:
        raise EventValidationError(mapped.errors())
    return event


class MappingCatalog(BaseModel):
    """Every mapping by name. Build it with from_mapping, which reports every problem at once."""

    model_config = _CLOSED
    mappings: dict[MappingName, Mapping] = {}

    @field_validator("mappings", mode="before")
    @classmethod
    def _none_as_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @classmethod
    def from_mapping(
        cls, data: collections.abc.Mapping[str, Any] | None, registry: EventTypeRegistry | None = None
    ) -> MappingCatalog:
        """Build from yaml.safe_load output; raises ConfigError listing every bad mapping and field.

        With a registry, each mapping is also checked against the contracts of the types it can
        produce (a `const` type or the values of a type `map`), so it cannot miss a required field.
        """
        try:
            catalog = cls.model_validate({} if data is None else data)
        except ValidationError as exc:
            raise ConfigError(field_errors_from_pydantic(exc)) from None
        if registry is not None and (errors := catalog._contract_problems(registry)):
            raise ConfigError(dict.fromkeys(errors))
        return catalog

    def _contract_problems(self, registry: EventTypeRegistry) -> list[FieldError]:
        errors: list[FieldError] = []
        for name, mapping in self.mappings.items():
            for at, type_name in _produced_types(mapping.type):
                errors.extend(_type_problems(f"mappings.{name}", at, type_name, mapping, registry))
        return errors


def _produced_types(source: FieldSource) -> list[tuple[str, str]]:
    """(where it is written, type name) for each event type a mapping can produce, when known up front."""
    if source.const is not None:
        return [("type.const", _text(source.const))]
    return [(f"type.map.{key}", _text(value)) for key, value in (source.map or {}).items()]


def _type_problems(
    prefix: str, at: str, type_name: str, mapping: Mapping, registry: EventTypeRegistry
) -> list[FieldError]:
    schema = registry.event_types.get(type_name)
    if schema is None:
        if registry.unknown_types is UnknownTypePolicy.REJECT:
            return [FieldError(f"{prefix}.{at}", f"unknown event type {type_name!r}", "unknown_type")]
        return []
    errors = []
    if schema.subject == "required" and mapping.subject is None:
        errors.append(FieldError(f"{prefix}.subject", f"required by {type_name}", "required"))
    for group, required, mapped in (
        ("dimensions", schema.dimensions, mapping.dimensions),
        ("measures", schema.measures, mapping.measures),
    ):
        if missing := [key for key in required if key not in mapped]:
            message = f"{type_name} requires {', '.join(missing)}, which the mapping does not set"
            errors.append(FieldError(f"{prefix}.{group}", message, f"required_{group[:-1]}"))
    return errors
