"""OKR definitions: objectives for a period, their key results, and how each key result is measured.

Objectives are data, like KPIs: a few lines of YAML say what a team wants by when, and whether a key
result is read from a KPI, from milestones reached, or from other objectives' scores. The catalog is
checked whole, against the KPI catalog and against itself, every problem reported at once, so a bad
file is rejected before anything is scored from it. Each apply records a version per changed
objective, so a score is always read against the definition in force at its time.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ._errors import ConfigError, FieldError, field_errors_from_pydantic, json_type_name
from ._event import MAX_YEAR, MIN_YEAR, Key, Measure
from ._kpi import KpiDefinition, KpiName, _in_force_note, _no_repeats, _under
from ._kpi_periods import _midnight, add_months
from ._okr_records import OkrVersion
from ._okr_scoring import THRESHOLD_DIRECTIONS as _THRESHOLDS
from ._okr_scoring import Direction

OKR_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"  # objectives and key results share one namespace
OkrId = Annotated[str, StringConstraints(pattern=OKR_ID_PATTERN)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_CLOSED = ConfigDict(frozen=True, extra="forbid")
_MAX_KEY_RESULTS, _MIN_KEY_RESULTS, _MAX_OBJECTIVES_PER_OWNER = 5, 2, 5


class ObjectiveKind(StrEnum):
    """Committed objectives are expected to reach 1.0; aspirational ones are a stretch (0.7 is good)."""

    COMMITTED = "committed"
    ASPIRATIONAL = "aspirational"


class KeyResultKind(StrEnum):
    METRIC = "metric"  # read from a KPI
    MILESTONE = "milestone"  # milestones reached, from okr.check_in events
    ROLLUP = "rollup"  # the scores of other objectives or key results
    UNLINKED = "unlinked"  # nothing to measure: not scored


class Baseline(StrEnum):
    PREVIOUS_PERIOD = "previous_period"  # the KPI's value over the period before the objective's


class PeriodKind(StrEnum):
    QUARTER = "quarter"
    MONTH = "month"
    YEAR = "year"
    DATES = "dates"  # explicit first and last day


def _num(value: float) -> str:
    """A number as people write it: 10, not 10.0; exact, unlike :g."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _shown(value: Any) -> str:
    kind = json_type_name(value)
    return f"{kind} {value!r}" if isinstance(value, str) else kind


def _positive(value: float) -> float:
    if value <= 0:
        raise PydanticCustomError("range", "must be positive, got {value}", {"value": _num(value)})
    return value


Weight = Annotated[Measure, AfterValidator(_positive)]


def _tuple(value: Any) -> Any:
    """A single name for a list of one, as `events:` in kpis.yaml; nothing for none."""
    return () if value is None else (value,) if isinstance(value, str) else value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: Any) -> date:
    """A calendar date: YAML gives date objects, JSON ISO strings; a time of day would be lost, so no."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError(
                "date", "{value} is not a calendar date", {"value": repr(value)}
            ) from None
    if isinstance(value, datetime) or not isinstance(value, date):
        shown = "a date and time" if isinstance(value, datetime) else _shown(value)
        raise PydanticCustomError("date", "must be a date such as 2026-10-01, got {shown}", {"shown": shown})
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise PydanticCustomError(
            "range", "year must be between {low} and {high}", {"low": MIN_YEAR, "high": MAX_YEAR}
        )
    return value


Day = Annotated[date, BeforeValidator(_day)]

_ONE_DAY = timedelta(days=1)
_PERIOD_FORMS = "a quarter (2026-Q4), a month (2026-11), a year (2026) or {start, end} dates"
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_YEAR = re.compile(r"\d{4}")
_PERIOD_MONTHS = {PeriodKind.QUARTER: 3, PeriodKind.MONTH: 1, PeriodKind.YEAR: 12}


def _calendar(text: str) -> dict[str, Any]:
    if match := _QUARTER.fullmatch(text):
        kind, year, month = PeriodKind.QUARTER, int(match[1]), int(match[2]) * 3 - 2
    elif match := _MONTH.fullmatch(text):
        kind, year, month = PeriodKind.MONTH, int(match[1]), int(match[2])
    elif _YEAR.fullmatch(text):
        kind, year, month = PeriodKind.YEAR, int(text), 1
    else:
        raise PydanticCustomError(
            "period", "must be {forms}, got {value}", {"forms": _PERIOD_FORMS, "value": repr(text)}
        )
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PydanticCustomError(
            "range", "year must be between {low} and {high}", {"low": MIN_YEAR, "high": MAX_YEAR}
        )
    first = date(year, month, 1)
    return {"kind": kind, "first": first, "last": add_months(first, _PERIOD_MONTHS[kind]) - _ONE_DAY}


def _span(value: Mapping[Any, Any]) -> dict[str, Any]:
    if set(value) != {"start", "end"}:
        raise PydanticCustomError(
            "period",
            "dates need exactly start and end, e.g. {start: 2026-10-01, end: 2026-12-31}; got {keys}",
            {"keys": ", ".join(map(str, value)) or "none"},
        )
    days = {}
    for side in ("start", "end"):
        try:
            days[side] = _day(value[side])
        except PydanticCustomError as exc:
            raise PydanticCustomError(exc.type, f"{side}: {exc.message()}") from None
    if days["start"] > days["end"]:
        raise PydanticCustomError(
            "period",
            "start {start} is after end {end}",
            {"start": days["start"].isoformat(), "end": days["end"].isoformat()},
        )
    return {"kind": PeriodKind.DATES, "first": days["start"], "last": days["end"]}


class Period(BaseModel):
    """The time an objective covers, whole local days from `first` to `last` (inclusive).

    Written as "2026-Q4", "2026-11", "2026" or {start, end}; dumped back the same way, so a stored
    definition reads like the file it came from.
    """

    model_config = _CLOSED
    kind: PeriodKind
    first: date
    last: date

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, Period):
            return value
        if isinstance(value, Mapping):
            return _span(value)
        if isinstance(value, int) and not isinstance(value, bool):  # YAML reads `period: 2026` as a number
            value = str(value)
        if isinstance(value, str):
            return _calendar(value.strip())
        raise PydanticCustomError(
            "period", "must be {forms}, got {shown}", {"forms": _PERIOD_FORMS, "shown": _shown(value)}
        )

    @model_serializer
    def _written(self) -> str | dict[str, str]:
        if self.kind is PeriodKind.DATES:
            return {"start": self.first.isoformat(), "end": self.last.isoformat()}
        return self.label

    @property
    def label(self) -> str:
        if self.kind is PeriodKind.QUARTER:
            return f"{self.first.year}-Q{(self.first.month + 2) // 3}"
        if self.kind is PeriodKind.MONTH:
            return f"{self.first.year}-{self.first.month:02d}"
        if self.kind is PeriodKind.YEAR:
            return str(self.first.year)
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[local midnight of the first day, local midnight after the last day) in UTC."""
        return _midnight(self.first, zone), _midnight(self.last + _ONE_DAY, zone)

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last

    def previous(self) -> Period:
        """The period a previous_period baseline reads: the calendar one before, or as many days before."""
        if self.kind is PeriodKind.DATES:
            last = self.first - _ONE_DAY
            return Period.model_construct(kind=self.kind, first=last - (self.last - self.first), last=last)
        first = add_months(self.first, -_PERIOD_MONTHS[self.kind])
        return Period.model_construct(kind=self.kind, first=first, last=self.first - _ONE_DAY)


_TARGET_FORMS = "a number, a change from start such as +20% or -30%, or a factor of start such as x1.5"
_PERCENT = re.compile(r"([+-])(\d+(?:\.\d*)?|\.\d+)%")
_UNSIGNED_PERCENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)%")
_FACTOR = re.compile(r"x(\d+(?:\.\d*)?|\.\d+)")


class Target(BaseModel):
    """Where a key result should end: a number, or relative to its start ("+20%", "x1.5")."""

    model_config = _CLOSED
    value: float  # absolute: the target; percent: the signed change in percent; factor: the factor
    form: Literal["absolute", "percent", "factor"]

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, Target):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise PydanticCustomError("finite", "must be a finite number, got {value}", {"value": value})
            return {"value": float(value), "form": "absolute"}
        text = value.strip() if isinstance(value, str) else ""
        if match := _PERCENT.fullmatch(text):
            return {"value": float(match[1] + match[2]), "form": "percent"}
        if match := _FACTOR.fullmatch(text):
            if float(match[1]) <= 0:
                raise PydanticCustomError("target", "a factor must be above 0, got {value}", {"value": text})
            return {"value": float(match[1]), "form": "factor"}
        if _UNSIGNED_PERCENT.fullmatch(text):
            message = "a change in percent needs its sign: +{text} to raise or -{text} to lower"
            raise PydanticCustomError("target", message, {"text": text})
        raise PydanticCustomError(
            "target", "must be {forms}, got {shown}", {"forms": _TARGET_FORMS, "shown": _shown(value)}
        )

    @model_serializer
    def _written(self) -> float | str:
        return self.value if self.form == "absolute" else self.text

    @property
    def text(self) -> str:
        if self.form == "percent":
            return f"{'-' if self.value < 0 else '+'}{_num(abs(self.value))}%"
        return f"x{_num(self.value)}" if self.form == "factor" else _num(self.value)

    @property
    def relative(self) -> bool:
        return self.form != "absolute"

    @property
    def change(self) -> float | None:
        """The relative change from start (0.2 is 20 % more); None for an absolute target."""
        if self.form == "percent":
            return self.value / 100
        return self.value - 1 if self.form == "factor" else None

    def resolve(self, start: float | None) -> float | None:
        """The target as a number; None when it is relative and the start is not known (yet).

        A change in percent is of the start's size, so `+20%` raises a negative start too.
        """
        if self.form == "absolute":
            return self.value
        if start is None:
            return None
        return start + abs(start) * self.value / 100 if self.form == "percent" else start * self.value


_WINDOW = re.compile(r"([1-9]\d{0,3})([dw])")


class Window(BaseModel):
    """What the KPI is read over: the objective's period to date, or a trailing window ("7d", "4w")."""

    model_config = _CLOSED
    count: int | None = None  # None: the period to date
    unit: Literal["d", "w"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, Window):
            return value
        text = value.strip() if isinstance(value, str) else None
        if text == "period":
            return {}
        if text is not None and (match := _WINDOW.fullmatch(text)):
            return {"count": int(match[1]), "unit": match[2]}
        raise PydanticCustomError(
            "window",
            "must be 'period' or a trailing window of 1 to 9999 days or weeks such as 7d or 4w, got {shown}",
            {"shown": _shown(value)},
        )

    @model_serializer
    def _written(self) -> str:
        return "period" if self.count is None else f"{self.count}{self.unit}"

    @property
    def trailing(self) -> timedelta | None:
        if self.count is None:
            return None
        return timedelta(days=self.count) if self.unit == "d" else timedelta(weeks=self.count)


_WHOLE_PERIOD = Window.model_validate("period")


class StartFromBaseline(BaseModel):
    """A start read from the data: the KPI's value over the period before the objective's."""

    model_config = _CLOSED
    baseline: Baseline


class Phase(BaseModel):
    """A step on the way: `target` is due by the end of the local day `until`."""

    model_config = _CLOSED
    until: Day
    target: Target


DimensionValue = Annotated[str, StringConstraints(min_length=1)]


def _parse_start(value: Any) -> float | StartFromBaseline | None:
    if value is None or isinstance(value, StartFromBaseline):
        return value
    if isinstance(value, Mapping):
        try:
            return StartFromBaseline.model_validate(value)
        except ValidationError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    shown = f"object {dict(value)!r}" if isinstance(value, Mapping) else _shown(value)
    raise PydanticCustomError(
        "start", "must be a number or {baseline: previous_period}, got {shown}", {"shown": shown}
    )


def _start_text(start: float | StartFromBaseline) -> str:
    return _num(start) if isinstance(start, float) else "(the previous period's value)"


def _change(start: float | StartFromBaseline, target: Target) -> float | None:
    """How far target lies from start, in the target's units or relative; None when unknowable now."""
    if isinstance(start, float):
        resolved = target.resolve(start)
        return None if resolved is None else resolved - start
    return target.change


def _target_problem(
    direction: Direction, start: float | StartFromBaseline | None, target: Target
) -> PydanticCustomError | None:
    if direction in _THRESHOLDS:
        if target.relative:
            message = "{direction} compares the KPI with a fixed number, so it needs a number, got {target}"
            return PydanticCustomError(
                "absolute", message, {"direction": direction.value, "target": target.text}
            )
        return None
    if start is None:  # increase_to and decrease_to require a start: reported there
        return None
    change = _change(start, target)
    if change == 0:
        return PydanticCustomError("equals_start", "target equals start: progress would divide by zero")
    wrong = "below" if direction is Direction.INCREASE_TO else "above"
    if change is not None and (change < 0) == (direction is Direction.INCREASE_TO):
        resolved = target.resolve(start) if isinstance(start, float) else None
        shown = target.text + (f" ({_num(resolved)})" if target.relative and resolved is not None else "")
        return PydanticCustomError(
            "direction",
            "target {target} is {wrong} start {start}, but direction is {direction}",
            {"target": shown, "wrong": wrong, "start": _start_text(start), "direction": direction.value},
        )
    return None


def _phase_share(start: float | StartFromBaseline, phase: Target, target: Target) -> float | None:
    """Where a phase target lies between start (0) and target (1); None when only the data can tell."""
    phase_change, target_change = _change(start, phase), _change(start, target)
    if phase_change is None or target_change is None or not target_change:
        return None
    if not isinstance(start, float) and phase.form != target.form:
        return None  # +10% and x1.2 from a baseline are comparable, but keep the rule simple
    return phase_change / target_change


class MetricLink(BaseModel):
    """A key result read from a KPI: from `start` to `target` in `direction`, or a threshold held."""

    model_config = _CLOSED
    kpi: KpiName
    filters: dict[Key, DimensionValue] = {}  # dimension -> value, all must match
    window: Window = _WHOLE_PERIOD
    direction: Direction  # declared before the fields whose validators read it
    start: float | StartFromBaseline | None = Field(None, validate_default=True)
    target: Target
    phases: tuple[Phase, ...] = ()

    @field_validator("filters", mode="before")
    @classmethod
    def _no_filters(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("phases", mode="before")
    @classmethod
    def _no_phases(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("start", mode="before")
    @classmethod
    def _start_form(cls, value: Any) -> float | StartFromBaseline | None:
        """One clear message for a bad start, instead of one per member of the union."""
        return _parse_start(value)

    @field_validator("start")
    @classmethod
    def _start_fits(
        cls, start: float | StartFromBaseline | None, info: ValidationInfo
    ) -> float | StartFromBaseline | None:
        direction = info.data.get("direction")
        if direction in _THRESHOLDS and start is not None:
            message = "not used by threshold key results: {direction} compares the KPI with the target alone"
            raise PydanticCustomError("not_allowed", message, {"direction": direction.value})
        if direction is not None and direction not in _THRESHOLDS and start is None:
            message = "field required for direction {direction}: progress runs from start to target"
            raise PydanticCustomError("required", message, {"direction": direction.value})
        return start

    @field_validator("target")
    @classmethod
    def _target_fits(cls, target: Target, info: ValidationInfo) -> Target:
        direction = info.data.get("direction")
        problem = None
        if direction is not None and "start" in info.data:
            problem = _target_problem(direction, info.data["start"], target)
        if problem is not None:
            raise problem
        return target

    @field_validator("phases")
    @classmethod
    def _phases_fit(cls, phases: tuple[Phase, ...], info: ValidationInfo) -> tuple[Phase, ...]:
        direction = info.data.get("direction")
        if phases and direction in _THRESHOLDS:
            message = "not used by threshold key results: {direction} holds or not, it has no steps"
            raise PydanticCustomError("not_allowed", message, {"direction": direction.value})
        for n, (before, phase) in enumerate(pairwise(phases), start=2):
            if phase.until <= before.until:
                raise PydanticCustomError(
                    "phase_order",
                    "phase {n} (until {until}) must come after phase {m} (until {before}): phases go by date",
                    {
                        "n": n,
                        "m": n - 1,
                        "until": phase.until.isoformat(),
                        "before": before.until.isoformat(),
                    },
                )
        start, target = info.data.get("start"), info.data.get("target")
        for n, phase in enumerate(phases, start=1):
            if start is None or target is None:
                continue
            share = _phase_share(start, phase.target, target)
            if share is not None and not 0 <= share <= 1:
                where = "beyond the key result's target" if share > 1 else "on the wrong side of start"
                raise PydanticCustomError(
                    "phase_target",
                    "phase {n}: target {phase} is {where} ({target}): a phase is a step on the way",
                    {"n": n, "phase": phase.target.text, "where": where, "target": target.text},
                )
        return phases


MilestoneName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _milestone_count(value: tuple[str, ...]) -> tuple[str, ...]:
    if not 1 <= len(value) <= 20:
        raise PydanticCustomError("count", "must list 1 to 20 milestones, got {n}", {"n": len(value)})
    return value


class MilestoneLink(BaseModel):
    """A key result scored by milestones reached (okr.check_in events); one milestone is done or not."""

    model_config = _CLOSED
    milestones: Annotated[
        tuple[MilestoneName, ...],
        BeforeValidator(_tuple),
        AfterValidator(_no_repeats),
        AfterValidator(_milestone_count),
    ]


class RollupLink(BaseModel):
    """A key result scored by other objectives' or key results' scores (their mean)."""

    model_config = _CLOSED
    objectives: Annotated[tuple[OkrId, ...], BeforeValidator(_tuple), AfterValidator(_no_repeats)] = ()
    key_results: Annotated[tuple[OkrId, ...], BeforeValidator(_tuple), AfterValidator(_no_repeats)] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> RollupLink:
        if not (self.objectives or self.key_results):
            raise PydanticCustomError("required", "needs objectives or key_results to roll up")
        return self


_LINKS = ("metric", "milestone", "rollup")


class KeyResult(BaseModel):
    """One measurable result; at most one of metric, milestone, rollup says how it is measured."""

    model_config = _CLOSED
    id: OkrId
    title: Title
    weight: Weight = 1.0  # its share of its objective's score
    metric: MetricLink | None = None
    milestone: MilestoneLink | None = None
    rollup: RollupLink | None = None

    @model_validator(mode="after")
    def _one_link(self) -> KeyResult:
        if len(given := [name for name in _LINKS if getattr(self, name) is not None]) > 1:
            raise PydanticCustomError(
                "one_link",
                "has {given}: a key result is measured one way, by at most one of metric, milestone, rollup",
                {"given": " and ".join(given)},
            )
        return self

    @property
    def kind(self) -> KeyResultKind:
        return next(
            (KeyResultKind(n) for n in _LINKS if getattr(self, n) is not None), KeyResultKind.UNLINKED
        )


Owner = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Objective(BaseModel):
    """What a team wants by the end of `period`, and the key results that say whether it got there.

    Key results are written, and dumped, as an object keyed by their ids, like `kpis:` in kpis.yaml.
    """

    model_config = _CLOSED
    id: OkrId
    title: Title
    owner: Owner  # a team or a person
    period: Period
    kind: ObjectiveKind = ObjectiveKind.COMMITTED
    parent: OkrId | None = None  # the objective this one contributes to
    weight: Weight = 1.0  # its share of its parent's score and of period scores
    description: str = ""
    key_results: tuple[KeyResult, ...] = ()

    @field_validator("key_results", mode="before")
    @classmethod
    def _keyed(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, Mapping):  # the key is the id; an `id` inside is reported by the catalog
            return tuple(
                {**body, "id": key} if isinstance(body, Mapping) else body for key, body in value.items()
            )
        if isinstance(value, list | tuple) and all(isinstance(kr, KeyResult) for kr in value):
            return value
        raise PydanticCustomError(
            "type", "must be an object of key results by id, got {shown}", {"shown": _shown(value)}
        )

    @field_serializer("key_results", mode="wrap")
    def _by_id(self, value: tuple[KeyResult, ...], handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        bodies = handler(value)
        return {
            kr.id: {k: v for k, v in body.items() if k != "id"}
            for kr, body in zip(value, bodies, strict=True)
        }

    def key_result(self, key_result_id: str) -> KeyResult:
        for kr in self.key_results:
            if kr.id == key_result_id:
                return kr
        raise KeyError(f"objective {self.id!r} has no key result {key_result_id!r}")

    def fingerprint(self) -> str:
        """A short stable hash of the whole definition: any edit can move scores, so it is a new version."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_KR_INDEX = re.compile(r"key_results\[(\d+)\](.*)")


def _by_key(error: FieldError, keys: list[Any]) -> FieldError | None:
    """`key_results[2].title` as `key_results.<id>.title`, as written; None for the injected id."""
    match = _KR_INDEX.fullmatch(error.path)
    if match is None:
        return None if error.path == "id" else error
    if match[2] == ".id":  # a bad key: reported as such by the catalog
        return None
    return replace(error, path=f"key_results.{keys[int(match[1])]}{match[2]}")


def _invalid_key(path: str, what: str, key: Any) -> FieldError:
    return FieldError(path, f"invalid {what} id {key!r}: must match {OKR_ID_PATTERN}", "invalid_key")


def _shape_problems(oid: Any, body: Any) -> list[FieldError]:
    """Keys that are not ids, and ids written inside bodies instead of as keys."""
    path, errors = f"objectives.{oid}", []
    if not (isinstance(oid, str) and re.fullmatch(OKR_ID_PATTERN, oid)):
        errors.append(_invalid_key(path, "objective", oid))
    if not isinstance(body, Mapping):
        return errors
    if "id" in body:
        message = "unknown field: the key under objectives names the objective"
        errors.append(FieldError(f"{path}.id", message, "extra_forbidden"))
    krs = body.get("key_results")
    for key, kr in krs.items() if isinstance(krs, Mapping) else ():
        kr_path = f"{path}.key_results.{key}"
        if not (isinstance(key, str) and re.fullmatch(OKR_ID_PATTERN, key)):
            errors.append(_invalid_key(kr_path, "key result", key))
        if isinstance(kr, Mapping) and "id" in kr:
            message = "unknown field: the key under key_results names the key result"
            errors.append(FieldError(f"{kr_path}.id", message, "extra_forbidden"))
    return errors


def _raw_key_results(raw: Mapping[Any, Any]) -> Iterator[tuple[Any, Any]]:
    """(objective id, key result id) of every key result written, valid or not."""
    for oid, body in raw.items():
        krs = body.get("key_results") if isinstance(body, Mapping) else None
        for key in krs if isinstance(krs, Mapping) else ():
            yield oid, key


def _duplicates(raw: Mapping[Any, Any]) -> list[FieldError]:
    """Ids are one namespace, so a rollup's reference is never ambiguous; the first use keeps the id."""
    used: dict[Any, str] = {oid: f"objective {oid!r}" for oid in raw}
    errors = []
    for oid, key in _raw_key_results(raw):
        if key in used:
            message = f"id {key!r} is already used by {used[key]}"
            errors.append(FieldError(f"objectives.{oid}.key_results.{key}", message, "duplicate_id"))
        else:
            used[key] = f"key result {key!r} of objective {oid!r}"
    return errors


def _metric_problems(
    path: str, objective: Objective, metric: MetricLink, kpis: Mapping[str, KpiDefinition]
) -> list[FieldError]:
    errors = []
    kpi = kpis.get(metric.kpi)
    if kpi is None:
        known = ", ".join(sorted(kpis)) or "none"
        errors.append(
            FieldError(f"{path}.kpi", f"unknown KPI {metric.kpi!r}; known KPIs: {known}", "unknown_kpi")
        )
    else:
        if kpi.accumulates and metric.window.trailing is None and metric.direction is Direction.DECREASE_TO:
            message = (
                f"KPI {kpi.name!r} is a {kpi.aggregation.value}: over the period to date it only "
                "grows, so it cannot decrease to a target; read it over a trailing window "
                "(window: 4w) for a rate that can fall, or cap it with stay_at_or_below"
            )
            errors.append(FieldError(f"{path}.direction", message, "cumulative_decrease"))
        for key in metric.filters:
            if key not in kpi.dimensions:
                declared = (
                    f"its dimensions are {', '.join(kpi.dimensions)}" if kpi.dimensions else "it has none"
                )
                message = f"KPI {kpi.name!r} cannot be filtered by dimension {key!r}: {declared}"
                errors.append(FieldError(f"{path}.filters.{key}", message, "dimension"))
    for i, phase in enumerate(metric.phases):
        if not objective.period.contains(phase.until):
            period = objective.period
            message = (
                f"{phase.until.isoformat()} is outside the objective's period {period.label} "
                f"({period.first.isoformat()} to {period.last.isoformat()})"
            )
            errors.append(FieldError(f"{path}.phases[{i}].until", message, "phase"))
    return errors


def _unknown_objective(path: str, ref: str, key_results: set[Any]) -> FieldError:
    hint = f" ({ref!r} is a key result: list it under key_results)" if ref in key_results else ""
    return FieldError(path, f"unknown objective {ref!r}{hint}", "unknown_objective")


def _rollup_problems(
    path: str, objective: Objective, kr: KeyResult, raw: Mapping[Any, Any], key_results: set[Any]
) -> list[FieldError]:
    assert kr.rollup is not None
    errors = []
    for i, ref in enumerate(kr.rollup.objectives):
        where = f"{path}.objectives[{i}]"
        if ref == objective.id:
            errors.append(
                FieldError(where, "must not roll up its own objective: it would score itself", "self")
            )
        elif ref not in raw:
            errors.append(_unknown_objective(where, ref, key_results))
    for i, ref in enumerate(kr.rollup.key_results):
        where = f"{path}.key_results[{i}]"
        if ref == kr.id:
            errors.append(FieldError(where, "must not roll up itself", "self"))
        elif ref not in key_results:
            hint = f" ({ref!r} is an objective: list it under objectives)" if ref in raw else ""
            errors.append(FieldError(where, f"unknown key result {ref!r}{hint}", "unknown_key_result"))
    return errors


def _reference_problems(
    objectives: Mapping[str, Objective], raw: Mapping[Any, Any], kpis: Mapping[str, KpiDefinition]
) -> list[FieldError]:
    """What well-formed objectives name: KPIs and their dimensions, parents, rolled-up ids, phase dates."""
    errors, key_results = [], {key for _, key in _raw_key_results(raw)}
    for oid, objective in objectives.items():
        if objective.parent == oid:
            errors.append(
                FieldError(f"objectives.{oid}.parent", "must name another objective, not itself", "self")
            )
        elif objective.parent is not None and objective.parent not in raw:
            errors.append(_unknown_objective(f"objectives.{oid}.parent", objective.parent, key_results))
        for kr in objective.key_results:
            path = f"objectives.{oid}.key_results.{kr.id}"
            if kr.metric is not None:
                errors.extend(_metric_problems(f"{path}.metric", objective, kr.metric, kpis))
            if kr.rollup is not None:
                errors.extend(_rollup_problems(f"{path}.rollup", objective, kr, raw, key_results))
    return errors


def _parent_cycles(objectives: Mapping[str, Objective]) -> list[FieldError]:
    """One error per parent cycle, such as `a -> b -> a`, at the parent of its smallest id."""
    found: dict[tuple[str, ...], FieldError] = {}
    for oid in sorted(objectives):
        chain: list[str] = []
        node: str | None = oid
        while node is not None and node in objectives and node not in chain:
            chain.append(node)
            parent = objectives[node].parent
            node = None if parent == node else parent  # its own parent: reported as such
        if node in chain:
            loop = chain[chain.index(node) :]
            start = loop.index(min(loop))
            loop = loop[start:] + loop[:start]
            message = "parent cycle: " + " -> ".join([*loop, loop[0]])
            found.setdefault(tuple(loop), FieldError(f"objectives.{loop[0]}.parent", message, "cycle"))
    return list(found.values())


Node = tuple[Literal["objective", "key_result"], str]


def _rollup_cycles(objectives: Mapping[str, Objective]) -> list[FieldError]:
    """Scores that would depend on themselves through rollups.

    An objective's score reads its key results and its children's scores; a rollup reads the
    objectives and key results it names. Cycles of parents alone are reported as parent cycles.
    """
    owners = {kr.id: o for o in objectives.values() for kr in o.key_results}

    def edges(node: Node) -> Iterator[Node]:
        kind, name = node
        if kind == "objective":
            yield from (("key_result", kr.id) for kr in objectives[name].key_results if kr.rollup)
            yield from (("objective", c.id) for c in objectives.values() if c.parent == name != c.id)
            return
        owner = owners[name]
        rollup = owner.key_result(name).rollup
        if rollup is None:  # a metric or milestone key result reads no other score
            return
        yield from (("objective", ref) for ref in rollup.objectives if ref in objectives and ref != owner.id)
        yield from (("key_result", ref) for ref in rollup.key_results if ref in owners and ref != name)

    found: dict[tuple[Node, ...], FieldError] = {}
    done: set[Node] = set()

    def visit(node: Node, stack: list[Node]) -> None:
        if node in stack:
            loop = stack[stack.index(node) :]
            rollups = [n for n in loop if n[0] == "key_result"]
            if rollups:
                start = loop.index(min(rollups))
                loop = loop[start:] + loop[:start]
                name = loop[0][1]
                message = "rollup cycle: " + " -> ".join(n for _, n in [*loop, loop[0]])
                path = f"objectives.{owners[name].id}.key_results.{name}.rollup"
                found.setdefault(tuple(loop), FieldError(path, message, "cycle"))
        elif node not in done:
            stack.append(node)
            for after in edges(node):
                visit(after, stack)
            stack.pop()
            done.add(node)

    for oid in sorted(objectives):
        visit(("objective", oid), [])
    return list(found.values())


class OkrCatalog(BaseModel):
    """Every objective by id. Build it with from_mapping, which checks KPIs, parents and references."""

    model_config = _CLOSED
    objectives: dict[OkrId, Objective] = {}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, kpis: Mapping[str, KpiDefinition]) -> OkrCatalog:
        """Build from yaml.safe_load output; raises ConfigError listing every problem of every objective.

        Each objective's shape is checked first, then what the well-formed ones name: KPIs and
        their dimensions, parents, rolled-up objectives and key results. References to an id that
        is written but invalid are not reported again: that id has errors of its own.
        """
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise ConfigError([FieldError("$", f"must be an object, got {json_type_name(data)}", "type")])
        errors = [FieldError(str(k), "unknown field", "extra_forbidden") for k in data if k != "objectives"]
        raw = {} if data.get("objectives") is None else data["objectives"]
        if not isinstance(raw, Mapping):
            raise ConfigError(
                [*errors, FieldError("objectives", f"must be an object, got {json_type_name(raw)}", "type")]
            )
        objectives: dict[str, Objective] = {}
        for oid, body in raw.items():
            errors.extend(_shape_problems(oid, body))
            krs = body.get("key_results") if isinstance(body, Mapping) else None
            keys = list(krs) if isinstance(krs, Mapping) else []
            try:
                objective = Objective.model_validate(
                    {**body, "id": oid} if isinstance(body, Mapping) else body
                )
            except ValidationError as exc:
                found = (_by_key(e, keys) for e in field_errors_from_pydantic(exc))
                errors.extend(_under(f"objectives.{oid}", e) for e in found if e is not None)
                continue
            objectives[oid] = objective
        errors.extend(_duplicates(raw))
        errors.extend(_reference_problems(objectives, raw, kpis))
        errors.extend(_parent_cycles(objectives))
        errors.extend(_rollup_cycles(objectives))
        if errors:
            raise ConfigError(dict.fromkeys(errors))
        return cls(objectives=objectives)

    def warnings(self) -> list[FieldError]:
        """Good practice not followed: nothing breaks, but the OKRs say less than they could."""
        found = []
        for oid, objective in self.objectives.items():
            if not _MIN_KEY_RESULTS <= (n := len(objective.key_results)) <= _MAX_KEY_RESULTS:
                message = (
                    f"has {n} key result{'' if n == 1 else 's'}: {_MIN_KEY_RESULTS} to {_MAX_KEY_RESULTS} "
                    "keep an objective measurable and focused"
                )
                found.append(FieldError(f"objectives.{oid}.key_results", message, "kr_count"))
            for kr in objective.key_results:
                if kr.kind is KeyResultKind.UNLINKED:
                    message = (
                        "has no metric, milestone or rollup: it is not scored and is left out of its "
                        "objective's score"
                    )
                    found.append(FieldError(f"objectives.{oid}.key_results.{kr.id}", message, "unlinked"))
        rolled_up = {
            ref
            for o in self.objectives.values()
            for kr in o.key_results
            if kr.rollup
            for ref in kr.rollup.objectives
        }
        for oid in self.objectives:
            unread = [c.id for c in self.children(oid) if c.id not in rolled_up]
            if unread:
                message = (
                    f"its child objectives {', '.join(unread)} pass their status up, but their scores "
                    "reach its score only through a rollup key result reading them (none does) or "
                    "with OKRSTREAM_OKR_OBJECTIVE_INCLUDES_CHILDREN=true"
                )
                found.append(FieldError(f"objectives.{oid}", message, "children_not_scored"))
        load = Counter((o.owner, o.period.label) for o in self.objectives.values())
        for (owner, period), n in load.items():
            if n > _MAX_OBJECTIVES_PER_OWNER:
                message = (
                    f"owner {owner!r} has {n} objectives in {period}: more than {_MAX_OBJECTIVES_PER_OWNER} "
                    "spreads focus thin"
                )
                found.append(FieldError("objectives", message, "owner_load"))
        return found

    def problems_beside(self, kept: Mapping[str, Objective]) -> list[FieldError]:
        """What breaks among the objectives left in force beside this catalog (`kept`) once it is applied.

        The catalog's own references were checked when it was built. Ids stay one namespace
        across both, so an id the catalog brings must not be one a kept objective uses; a kept
        rollup must still find the key results it reads (the catalog may change the objective
        that held one); and no parent or rollup cycle may run through both.
        """
        kept = {oid: o for oid, o in kept.items() if oid not in self.objectives}
        errors: list[FieldError] = []
        used = {oid: f"objective {oid!r}" for oid in kept}
        for o in kept.values():
            used |= {kr.id: f"key result {kr.id!r} of objective {o.id!r}" for kr in o.key_results}
        for oid, objective in self.objectives.items():
            for path, item in [(f"objectives.{oid}", oid)] + [
                (f"objectives.{oid}.key_results.{kr.id}", kr.id) for kr in objective.key_results
            ]:
                if item in used:
                    message = f"id {item!r} is already used by {used[item]}, in force and not in this file"
                    errors.append(FieldError(path, message, "duplicate_id"))
        if errors:  # references would be ambiguous: report the clash alone
            return errors
        merged = {**kept, **self.objectives}
        key_results = {kr.id for o in merged.values() for kr in o.key_results}
        for oid, objective in kept.items():  # parents and rolled-up objectives stay; a key result may not
            for kr in objective.key_results:
                for i, ref in enumerate(kr.rollup.key_results if kr.rollup else ()):
                    if ref not in key_results:
                        hint = f" ({ref!r} is an objective now)" if ref in merged else ""
                        path = f"objectives.{oid}.key_results.{kr.id}.rollup.key_results[{i}]"
                        message = f"unknown key result {ref!r}: no objective holds it any more{hint}"
                        errors.append(FieldError(path, message, "unknown_key_result"))
        errors += _parent_cycles(merged) + _rollup_cycles(merged)
        return [_in_force_note(e, oid) if (oid := e.path.split(".")[1]) in kept else e for e in errors]

    def key_results(self) -> dict[str, tuple[Objective, KeyResult]]:
        """Every key result by id, with its objective."""
        return {kr.id: (o, kr) for o in self.objectives.values() for kr in o.key_results}

    def children(self, objective_id: str) -> tuple[Objective, ...]:
        """The objectives whose parent is `objective_id`, in catalog order."""
        return tuple(o for o in self.objectives.values() if o.parent == objective_id != o.id)


@dataclass(frozen=True)
class OkrPlan:
    created: tuple[Objective, ...]
    changed: tuple[Objective, ...]  # a new version, scored from the time it is applied
    removed: tuple[str, ...]  # in force, not in the catalog, and pruned
    unchanged: tuple[str, ...]
    kept: tuple[str, ...] = ()  # in force, not in the catalog, and left in force: what pruning would remove

    @property
    def empty(self) -> bool:
        return not (self.created or self.changed or self.removed)

    def summary(self) -> str:
        parts = [
            f"{label}: {', '.join(ids)}"
            for label, ids in (
                ("create", [o.id for o in self.created]),
                ("change", [o.id for o in self.changed]),
                ("remove", list(self.removed)),
            )
            if ids
        ]
        if not parts:
            in_file = " in the file" if self.kept else ""
            parts = [f"nothing to do: every objective{in_file} is applied as defined"]
        if self.kept:
            parts.append(f"would remove with --prune: {', '.join(self.kept)}")
        return "; ".join(parts)


def plan_okrs(catalog: OkrCatalog, applied: Mapping[str, OkrVersion], prune: bool = False) -> OkrPlan:
    """Compare the catalog with the applied versions by fingerprint; removed versions count as absent.

    An objective in force that the catalog omits is removed only when pruning; else it stays in
    force, and must still hold beside the catalog (raises ConfigError naming it when it would not).
    """
    live = {oid: v for oid, v in applied.items() if not v.removed}
    created, changed, unchanged = [], [], []
    for oid, objective in catalog.objectives.items():
        before = live.get(oid)
        if before is None:
            created.append(objective)
        elif before.fingerprint != objective.fingerprint():
            changed.append(objective)
        else:
            unchanged.append(oid)
    omitted = tuple(sorted(set(live) - set(catalog.objectives)))
    removed, kept = (omitted, ()) if prune else ((), omitted)
    beside = {oid: Objective.model_validate_json(live[oid].definition) for oid in kept}
    if problems := catalog.problems_beside(beside):
        raise ConfigError(problems)
    return OkrPlan(tuple(created), tuple(changed), removed, tuple(unchanged), kept)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"needs a timezone-aware time, got {at.isoformat()}")
    return at.astimezone(UTC)


def versions_for(
    plan: OkrPlan, applied: Mapping[str, OkrVersion], at: datetime, applied_by: str
) -> list[OkrVersion]:
    """The versions an apply records, in force from `at`.

    Pass `applied` from latest_versions, removed ones included, so a re-created objective
    continues its numbering instead of repeating version 1.
    """
    at = _utc(at)

    def number(oid: str) -> int:
        return applied[oid].version + 1 if oid in applied else 1

    versions = [
        OkrVersion(o.id, number(o.id), o.fingerprint(), at, False, o.model_dump_json(), applied_by)
        for o in (*plan.created, *plan.changed)
    ]
    for oid in plan.removed:  # the fingerprint of what was removed, for the record
        versions.append(OkrVersion(oid, number(oid), applied[oid].fingerprint, at, True, "", applied_by))
    return versions


def latest_versions(versions: Iterable[OkrVersion], at: datetime | None = None) -> dict[str, OkrVersion]:
    """Each objective's highest version in force at `at` (all of them when None), removed ones included."""
    cutoff = None if at is None else _utc(at)
    latest: dict[str, OkrVersion] = {}
    for version in versions:
        if cutoff is not None and version.effective_from > cutoff:
            continue
        current = latest.get(version.objective)
        if current is None or version.version > current.version:
            latest[version.objective] = version
    return latest


def objectives_in_force(versions: Iterable[OkrVersion], at: datetime | None = None) -> dict[str, Objective]:
    """The definitions that score `at`: a change applied later does not rewrite earlier scores."""
    return {
        oid: Objective.model_validate_json(v.definition)
        for oid, v in latest_versions(versions, at).items()
        if not v.removed
    }
