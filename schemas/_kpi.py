"""KPI definitions: which events to aggregate, how, filtered how and broken down by what.

A KPI is data, not code, so "deals closed above $100k" is a few lines of YAML. Definitions are checked
against the event-type contracts and against each other up front, every problem reported at once, so
a bad catalog is rejected whole and nothing is half-applied.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from typing import Annotated, Any

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

from ._errors import ConfigError, FieldError, field_errors_from_pydantic, json_type_name
from ._event import Measure
from ._event_types import (
    DimensionSpec,
    EventTypeRegistry,
    EventTypeSchema,
    Key,
    MeasureSpec,
    TypeName,
)
from ._kpi_filters import CountedField, Filter, FilterOp

KPI_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"  # part of ClickHouse object names, so short and plain
KpiName = Annotated[str, StringConstraints(pattern=KPI_NAME_PATTERN)]
_CLOSED = ConfigDict(frozen=True, extra="forbid")


class Aggregation(StrEnum):
    """How a KPI turns the events of one period (and break-down group) into one number.

    count: events; sum, avg, min, max: of `measure`; count_distinct: distinct values of `of` (exact,
    or approximate on request); quantile: the `quantile` of `measure` (0.9 is p90; exact, or within
    1% on request, deterministic either way); latest: a gauge,
    the `measure` of the last event by time (e.g. active subscribers); ratio: numerator / denominator
    of two other KPIs, None when the denominator is 0 (see ratio_value).
    """

    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    COUNT_DISTINCT = "count_distinct"
    QUANTILE = "quantile"
    LATEST = "latest"
    RATIO = "ratio"


class Grain(StrEnum):
    """The period a health band is judged over."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def ratio_value(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing or the denominator is 0.

    A period without sessions has no conversion rate; 0 would claim it converted nobody, and an
    error would break the whole series.
    """
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _probability(value: float) -> float:
    if not 0 < value < 1:
        raise PydanticCustomError(
            "range", "must be between 0 and 1 (exclusive), got {value}", {"value": f"{value:g}"}
        )
    return value


class HealthBand(BaseModel):
    """Where a KPI's value counts as healthy, judged per `grain` period: exactly one of three bands."""

    model_config = _CLOSED
    at_or_above: Measure | None = None
    at_or_below: Measure | None = None
    between: tuple[Measure, Measure] | None = None
    grain: Grain = Grain.DAY

    @field_validator("between", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        if value is not None and not (isinstance(value, list | tuple) and len(value) == 2):
            shown = f"array of {len(value)}" if isinstance(value, list | tuple) else json_type_name(value)
            raise PydanticCustomError("type", "must be [low, high], got {shown}", {"shown": shown})
        return value

    @field_validator("between")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise PydanticCustomError(
                "range",
                "lower bound {low} is greater than upper bound {high}",
                {"low": f"{value[0]:g}", "high": f"{value[1]:g}"},
            )
        return value

    @model_validator(mode="after")
    def _one_band(self) -> HealthBand:
        given = [k for k in ("at_or_above", "at_or_below", "between") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "health_band",
                "needs exactly one of at_or_above, at_or_below, between; got {given}",
                {"given": ", ".join(given) or "none"},
            )
        return self

    def healthy(self, value: float | None) -> bool | None:
        """Whether one period's value is in the band; None when there is no value to judge."""
        if value is None:
            return None
        if self.at_or_above is not None:
            return value >= self.at_or_above
        if self.at_or_below is not None:
            return value <= self.at_or_below
        assert self.between is not None
        return self.between[0] <= value <= self.between[1]


_MEASURED = frozenset({Aggregation.SUM, Aggregation.AVG, Aggregation.MIN, Aggregation.MAX})
_USED_BY: dict[str, frozenset[Aggregation]] = {
    "measure": _MEASURED | {Aggregation.QUANTILE, Aggregation.LATEST},
    "of": frozenset({Aggregation.COUNT_DISTINCT}),
    "approximate": frozenset({Aggregation.COUNT_DISTINCT, Aggregation.QUANTILE}),
    "quantile": frozenset({Aggregation.QUANTILE}),
    "numerator": frozenset({Aggregation.RATIO}),
    "denominator": frozenset({Aggregation.RATIO}),
}
_COMPUTED = {
    *("events", "aggregation", "measure", "of", "approximate"),
    *("quantile", "numerator", "denominator", "filters", "dimensions"),
}


def _no_repeats(value: tuple[str, ...]) -> tuple[str, ...]:
    if repeated := sorted({v for v in value if value.count(v) > 1}):
        raise PydanticCustomError("duplicate", "lists {names} more than once", {"names": ", ".join(repeated)})
    return value


class KpiDefinition(BaseModel):
    """One KPI; fields an aggregation does not use are errors, not silently ignored settings."""

    model_config = _CLOSED
    name: KpiName
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: str = ""
    unit: str = ""
    aggregation: Aggregation  # declared before the fields whose validators read it
    events: Annotated[tuple[TypeName, ...], AfterValidator(_no_repeats)] = Field((), validate_default=True)
    measure: Key | None = Field(None, validate_default=True)
    of: CountedField | None = Field(None, validate_default=True)
    # count_distinct: uniq (about 1% off, far cheaper) instead of uniqExact; quantile: a DDSketch
    # (within 1% of the value at the rank, far smaller) instead of every value, exactly
    approximate: bool = False
    quantile: Annotated[Measure, AfterValidator(_probability)] | None = Field(None, validate_default=True)
    numerator: KpiName | None = Field(None, validate_default=True)
    denominator: KpiName | None = Field(None, validate_default=True)
    filters: tuple[Filter, ...] = Field((), validate_default=True)
    dimensions: Annotated[tuple[Key, ...], AfterValidator(_no_repeats)] = ()  # allowed break-downs
    health: HealthBand | None = None

    @field_validator("events", "filters", "dimensions", mode="before")
    @classmethod
    def _as_tuple(cls, value: Any) -> Any:
        """YAML `events: order.placed` means one type, and an empty `filters:` means none."""
        return () if value is None else (value,) if isinstance(value, str) else value

    @field_validator("measure", "of", "approximate", "quantile", "numerator", "denominator")
    @classmethod
    def _fits_aggregation(cls, value: Any, info: ValidationInfo) -> Any:
        aggregation, used_by = info.data.get("aggregation"), _USED_BY[str(info.field_name)]
        if aggregation is None:
            return value
        if aggregation in used_by and value is None:
            raise PydanticCustomError(
                "required", "field required for aggregation {aggregation}", {"aggregation": aggregation.value}
            )
        if aggregation not in used_by and value is not None and value is not False:
            raise PydanticCustomError(
                "not_allowed",
                "not allowed with aggregation {aggregation} (only with {allowed})",
                {
                    "aggregation": aggregation.value,
                    "allowed": ", ".join(a for a in Aggregation if a in used_by),
                },
            )
        return value

    @field_validator("events", "filters")
    @classmethod
    def _ratio_reads_its_inputs(cls, value: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
        aggregation = info.data.get("aggregation")
        if aggregation is Aggregation.RATIO and value:
            raise PydanticCustomError(
                "not_allowed",
                "not allowed with aggregation ratio: set {field} on its numerator and denominator",
                {"field": info.field_name},
            )
        if aggregation not in (None, Aggregation.RATIO) and info.field_name == "events" and not value:
            raise PydanticCustomError("required", "must list at least one event type")
        return value

    @property
    def inputs(self) -> tuple[str, ...]:
        """The KPIs a ratio divides (numerator first); empty for every other aggregation."""
        return (self.numerator, self.denominator) if self.numerator and self.denominator else ()

    @property
    def accumulates(self) -> bool:
        """Whether its value over a period grows with the period (counts and sums) or is a level.

        A key result on such a KPI over its period to date starts every period at 0.
        """
        return self.aggregation in (Aggregation.COUNT, Aggregation.SUM, Aggregation.COUNT_DISTINCT)

    @property
    def empty_value(self) -> float | None:
        """A period without events: 0 counted or summed; no average, extreme, quantile or ratio."""
        return 0.0 if self.accumulates else None

    def fingerprint(self) -> str:
        """A short stable hash of what changes the numbers, so an apply can skip unchanged KPIs.

        Title, description, unit and health are left out: editing them keeps computed data. A ratio's
        fingerprint covers only its own fields; its inputs have fingerprints of their own.
        """
        computed = self.model_dump(mode="json", include=_COMPUTED)
        if self.aggregation is Aggregation.QUANTILE:
            # quantiles were once sampled (ClickHouse's `quantile`): such a rollup is rebuilt
            computed["states"] = "deterministic"
        canonical = json.dumps(computed, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _under(prefix: str, error: FieldError) -> FieldError:
    path = error.path
    path = prefix if path == "$" else prefix + path if path.startswith("[") else f"{prefix}.{path}"
    return replace(error, path=path)


def _contract_problems(kpi: KpiDefinition, registry: EventTypeRegistry) -> list[FieldError]:
    """Where `kpi` reads fields its event types do not declare (paths relative to the KPI)."""
    errors: list[FieldError] = []
    declared: list[tuple[str, EventTypeSchema]] = []
    for i, type_name in enumerate(kpi.events):
        if (schema := registry.event_types.get(type_name)) is not None:
            declared.append((type_name, schema))
        else:  # even where ingest accepts undeclared types: a KPI must know what it reads
            message = f"unknown event type {type_name!r}: declare it in the event types file"
            errors.append(FieldError(f"events[{i}]", message, "unknown_type"))

    def specs(kind: str, key: str) -> list[tuple[str, DimensionSpec | MeasureSpec | None]]:
        if kind == "measure":
            return [(t, s.measures.get(key) or s.optional_measures.get(key)) for t, s in declared]
        return [(t, s.dimensions.get(key) or s.optional_dimensions.get(key)) for t, s in declared]

    def check(path: str, kind: str, key: str) -> None:
        for type_name, spec in specs(kind, key):
            if spec is None:
                message = f"{kind} {key!r} is not declared by event type {type_name!r}"
                errors.append(FieldError(path, message, "undeclared"))

    if kpi.measure is not None:
        check("measure", "measure", kpi.measure)
    if kpi.of is not None and kpi.of != "subject":
        check("of", "dimension", kpi.of.partition(".")[2])
    for i, condition in enumerate(kpi.filters):
        if condition.key is None:
            continue
        kind = "measure" if condition.kind == "measures" else "dimension"
        check(f"filters[{i}].field", kind, condition.key)
        if kind == "dimension" and condition.op in (FilterOp.EQ, FilterOp.IN):  # a value no event can have
            for _, spec in specs(kind, condition.key):
                if isinstance(spec, DimensionSpec):
                    found = (spec.problem(f"filters[{i}].value", str(v)) for v in condition.values)
                    errors.extend(problem for problem in found if problem)
    for i, key in enumerate(kpi.dimensions):
        check(f"dimensions[{i}]", "dimension", key)
    return errors


def _ratio_problems(kpis: Mapping[str, KpiDefinition], named: set[Any]) -> list[FieldError]:
    """Ratios must divide other existing KPIs, without cycles, broken down only as both inputs allow."""
    errors: list[FieldError] = []
    for name, kpi in kpis.items():
        for side, ref in zip(("numerator", "denominator"), kpi.inputs, strict=False):
            if ref == name:
                errors.append(
                    FieldError(f"kpis.{name}.{side}", "must name another KPI, not the ratio itself", "self")
                )
            elif ref not in named:  # a named but invalid KPI already has its own errors
                errors.append(FieldError(f"kpis.{name}.{side}", f"unknown KPI {ref!r}", "unknown_kpi"))
        for i, key in enumerate(kpi.dimensions):
            for side, ref in zip(("numerator", "denominator"), kpi.inputs, strict=False):
                if ref != name and ref in kpis and key not in kpis[ref].dimensions:
                    message = f"{side} {ref!r} cannot be broken down by {key!r}"
                    errors.append(FieldError(f"kpis.{name}.dimensions[{i}]", message, "dimension"))
    return errors + _cycles(kpis)


def _cycles(kpis: Mapping[str, KpiDefinition]) -> list[FieldError]:
    """One error per ratio cycle, such as `a -> b -> a`, at the field of its first KPI that starts it."""
    found: dict[tuple[str, ...], FieldError] = {}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            loop = stack[stack.index(name) :]
            start = loop.index(min(loop))
            loop = loop[start:] + loop[:start]
            side = "numerator" if kpis[loop[0]].numerator == loop[1] else "denominator"
            message = "ratio cycle: " + " -> ".join([*loop, loop[0]])
            found.setdefault(tuple(loop), FieldError(f"kpis.{loop[0]}.{side}", message, "cycle"))
        elif name in kpis and name not in done:
            stack.append(name)
            for ref in kpis[name].inputs:
                if ref != name:  # reported as a self reference instead
                    visit(ref, stack)
            stack.pop()
            done.add(name)

    for name in sorted(kpis):
        visit(name, [])
    return list(found.values())


def _in_force_note(error: FieldError, name: str) -> FieldError:
    """An error on a definition in force that the file being applied omits: say so, and the ways out."""
    note = f" ({name!r} is in force and not in this file: add it as it should be, or prune it)"
    return FieldError(error.path, error.message + note, error.rule)


class KpiCatalog(BaseModel):
    """Every KPI by name. Build it with from_mapping, which checks contracts and ratio references."""

    model_config = _CLOSED
    kpis: dict[KpiName, KpiDefinition] = {}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, registry: EventTypeRegistry) -> KpiCatalog:
        """Build from yaml.safe_load output; raises ConfigError listing every problem of every KPI.

        Each definition's shape is checked first; its fields against the event types once it is
        well formed, and ratios against the well-formed KPIs they name.
        """
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise ConfigError([FieldError("$", f"must be an object, got {json_type_name(data)}", "type")])
        errors = [FieldError(str(k), "unknown field", "extra_forbidden") for k in data if k != "kpis"]
        raw = {} if data.get("kpis") is None else data["kpis"]
        if not isinstance(raw, Mapping):
            raise ConfigError(
                [*errors, FieldError("kpis", f"must be an object, got {json_type_name(raw)}", "type")]
            )
        kpis: dict[str, KpiDefinition] = {}
        for name, body in raw.items():
            path = f"kpis.{name}"
            if not (isinstance(name, str) and re.fullmatch(KPI_NAME_PATTERN, name)):
                message = f"invalid KPI name {name!r}: must match {KPI_NAME_PATTERN}"
                errors.append(FieldError(path, message, "invalid_key"))
            if isinstance(body, Mapping):
                if "name" in body:
                    message = "unknown field: the key under kpis names the KPI"
                    errors.append(FieldError(f"{path}.name", message, "extra_forbidden"))
                body = {**body, "name": name}
            try:
                kpi = KpiDefinition.model_validate(body)
            except ValidationError as exc:
                errors.extend(_under(path, e) for e in field_errors_from_pydantic(exc) if e.path != "name")
                continue
            kpis[name] = kpi
            errors.extend(_under(path, e) for e in _contract_problems(kpi, registry))
        errors.extend(_ratio_problems(kpis, set(raw)))
        if errors:
            raise ConfigError(dict.fromkeys(errors))
        return cls(kpis=kpis)

    def problems_beside(self, kept: Mapping[str, KpiDefinition]) -> list[FieldError]:
        """What breaks in the KPIs left in force beside this catalog (`kept`) once it is applied.

        The catalog's own references were checked when it was built; a kept ratio may still read
        a KPI the catalog changes so that it can no longer be broken down as the ratio is.
        """
        kept = {name: kpi for name, kpi in kept.items() if name not in self.kpis}
        merged = {**kept, **self.kpis}
        return [
            _in_force_note(error, name)
            for error in _ratio_problems(merged, set(merged))
            if (name := error.path.split(".")[1]) in kept
        ]

    def ordered(self) -> tuple[KpiDefinition, ...]:
        """Every KPI, each ratio after its numerator and denominator, else in catalog order: build order."""
        out: dict[str, KpiDefinition] = {}
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in self.kpis and name not in seen:
                seen.add(name)
                for ref in self.kpis[name].inputs:
                    visit(ref)
                out[name] = self.kpis[name]

        for name in self.kpis:
            visit(name)
        return tuple(out.values())
