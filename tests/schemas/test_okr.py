"""OKR definitions: periods, targets, each bad definition named by objective and field, warnings,
plans and versions, and the shipped example against the shipped KPIs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

import schemas
from schemas import (
    OKR_ID_PATTERN,
    ConfigError,
    Direction,
    EventTypeRegistry,
    FieldError,
    KeyResult,
    KeyResultKind,
    KpiCatalog,
    KpiDefinition,
    Objective,
    ObjectiveKind,
    OkrCatalog,
    OkrVersion,
    Period,
    PeriodKind,
    StartFromBaseline,
    Target,
    Window,
    field_errors_from_pydantic,
    latest_versions,
    objectives_in_force,
    plan_okrs,
    versions_for,
)

SHIPPED = Path(schemas.__file__).parent
OSLO, UTC_ZONE = ZoneInfo("Europe/Oslo"), ZoneInfo("UTC")


def shipped_yaml(name: str) -> Any:
    return yaml.safe_load((SHIPPED / name).read_text())


@pytest.fixture(scope="module")
def kpis() -> dict[str, KpiDefinition]:
    """The shipped KPIs, built as `read_catalog` builds them, against the shipped event types."""
    registry = EventTypeRegistry.from_mapping(shipped_yaml("event_types.yaml"))
    return KpiCatalog.from_mapping(shipped_yaml("kpis.yaml"), registry).kpis


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# --- periods ---------------------------------------------------------------------------------------

PERIODS = [
    # written, kind, first, last, label, Oslo bounds (UTC), UTC bounds
    (
        "2026-Q4",
        PeriodKind.QUARTER,
        date(2026, 10, 1),
        date(2026, 12, 31),
        "2026-Q4",
        (utc(2026, 9, 30, 22), utc(2026, 12, 31, 23)),  # summer time at the start, winter at the end
        (utc(2026, 10, 1), utc(2027, 1, 1)),
    ),
    (
        "2026-Q1",
        PeriodKind.QUARTER,
        date(2026, 1, 1),
        date(2026, 3, 31),
        "2026-Q1",
        (utc(2025, 12, 31, 23), utc(2026, 3, 31, 22)),
        (utc(2026, 1, 1), utc(2026, 4, 1)),
    ),
    (
        "2026-11",
        PeriodKind.MONTH,
        date(2026, 11, 1),
        date(2026, 11, 30),
        "2026-11",
        (utc(2026, 10, 31, 23), utc(2026, 11, 30, 23)),
        (utc(2026, 11, 1), utc(2026, 12, 1)),
    ),
    (
        "2026-02",
        PeriodKind.MONTH,
        date(2026, 2, 1),
        date(2026, 2, 28),
        "2026-02",
        (utc(2026, 1, 31, 23), utc(2026, 2, 28, 23)),
        (utc(2026, 2, 1), utc(2026, 3, 1)),
    ),
    (
        2026,  # YAML reads `period: 2026` as a number
        PeriodKind.YEAR,
        date(2026, 1, 1),
        date(2026, 12, 31),
        "2026",
        (utc(2025, 12, 31, 23), utc(2026, 12, 31, 23)),
        (utc(2026, 1, 1), utc(2027, 1, 1)),
    ),
    (
        "2026",
        PeriodKind.YEAR,
        date(2026, 1, 1),
        date(2026, 12, 31),
        "2026",
        (utc(2025, 12, 31, 23), utc(2026, 12, 31, 23)),
        (utc(2026, 1, 1), utc(2027, 1, 1)),
    ),
    (
        {"start": date(2026, 10, 1), "end": date(2026, 12, 31)},
        PeriodKind.DATES,
        date(2026, 10, 1),
        date(2026, 12, 31),
        "2026-10-01..2026-12-31",
        (utc(2026, 9, 30, 22), utc(2026, 12, 31, 23)),
        (utc(2026, 10, 1), utc(2027, 1, 1)),
    ),
    (
        {"start": "2026-03-29", "end": "2026-03-29"},  # the day Oslo moves to summer time: 23 hours
        PeriodKind.DATES,
        date(2026, 3, 29),
        date(2026, 3, 29),
        "2026-03-29..2026-03-29",
        (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
        (utc(2026, 3, 29), utc(2026, 3, 30)),
    ),
]


@pytest.mark.parametrize(
    ("written", "kind", "first", "last", "label", "oslo", "in_utc"),
    PERIODS,
    ids=[str(case[4]) for case in PERIODS],
)
def test_period_forms_and_bounds(
    written: Any,
    kind: PeriodKind,
    first: date,
    last: date,
    label: str,
    oslo: tuple[datetime, datetime],
    in_utc: tuple[datetime, datetime],
) -> None:
    period = Period.model_validate(written)
    assert (period.kind, period.first, period.last, period.label) == (kind, first, last, label)
    assert period.bounds(OSLO) == oslo
    assert period.bounds(UTC_ZONE) == in_utc
    assert all(bound.tzinfo is UTC for bound in period.bounds(OSLO))
    dumped = period.model_dump(mode="json")
    expected = (
        label if kind is not PeriodKind.DATES else {"start": first.isoformat(), "end": last.isoformat()}
    )
    assert dumped == expected
    assert Period.model_validate(dumped) == period
    assert Period.model_validate_json(period.model_dump_json()) == period


@pytest.mark.parametrize(
    ("written", "previous"),
    [
        ("2026-Q4", "2026-Q3"),
        ("2026-Q1", "2025-Q4"),
        ("2026-11", "2026-10"),
        ("2026-01", "2025-12"),
        ("2026", "2025"),
        ({"start": "2026-10-10", "end": "2026-10-19"}, {"start": "2026-09-30", "end": "2026-10-09"}),
        ({"start": "2026-03-01", "end": "2026-03-01"}, {"start": "2026-02-28", "end": "2026-02-28"}),
    ],
)
def test_previous_period(written: Any, previous: Any) -> None:
    before = Period.model_validate(written).previous()
    assert before == Period.model_validate(previous)
    assert before.model_dump(mode="json") == previous


BAD_PERIODS = [
    ("2026-Q5", "a quarter (2026-Q4), a month (2026-11), a year (2026) or {start, end} dates, got '2026-Q5'"),
    ("Q4", "got 'Q4'"),
    ("2026-13", "got '2026-13'"),
    ("2026-1", "got '2026-1'"),
    ("2026-q4", "got '2026-q4'"),
    ("2026-10-01", "got '2026-10-01'"),
    ("", "got ''"),
    (True, "got boolean"),
    (None, "got null"),
    (1969, "year must be between 1970 and 2299"),
    ({"start": date(2026, 12, 31), "end": date(2026, 10, 1)}, "start 2026-12-31 is after end 2026-10-01"),
    ({"start": "2026-10-01"}, "dates need exactly start and end, e.g. {start: 2026-10-01, end: 2026-12-31}"),
    ({"start": "2026-10-01", "end": "2026-12-31", "tz": "UTC"}, "got start, end, tz"),
    ({"start": "2026-02-30", "end": "2026-03-31"}, "start: '2026-02-30' is not a calendar date"),
    ({"start": "2026-10-01", "end": "soon"}, "end: must be a date such as 2026-10-01, got string 'soon'"),
    (
        {"start": datetime(2026, 10, 1, 12), "end": "2026-12-31"},
        "start: must be a date such as 2026-10-01, got a",
    ),
]


@pytest.mark.parametrize(("written", "message"), BAD_PERIODS, ids=[repr(case[0]) for case in BAD_PERIODS])
def test_bad_period(written: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Period.model_validate(written)
    (error,) = field_errors_from_pydantic(caught.value)
    assert message in error.message, error.message


# --- targets and windows ---------------------------------------------------------------------------

TARGETS = [
    # written, value, form, resolved from 100, resolved without a start, dumped
    (10, 10.0, "absolute", 10.0, 10.0, 10.0),
    (0.05, 0.05, "absolute", 0.05, 0.05, 0.05),
    (-3, -3.0, "absolute", -3.0, -3.0, -3.0),
    ("+20%", 20.0, "percent", 120.0, None, "+20%"),
    ("-30%", -30.0, "percent", 70.0, None, "-30%"),
    ("+2.5%", 2.5, "percent", 102.5, None, "+2.5%"),
    (" +20% ", 20.0, "percent", 120.0, None, "+20%"),
    ("x1.5", 1.5, "factor", 150.0, None, "x1.5"),
    ("x0.5", 0.5, "factor", 50.0, None, "x0.5"),
    ("x2", 2.0, "factor", 200.0, None, "x2"),
]


@pytest.mark.parametrize(("written", "value", "form", "resolved", "unresolved", "dumped"), TARGETS)
def test_target(written: Any, value: float, form: str, resolved: float, unresolved: Any, dumped: Any) -> None:
    target = Target.model_validate(written)
    assert (target.value, target.form) == (value, form)
    assert target.resolve(100.0) == pytest.approx(resolved)
    assert target.resolve(None) == unresolved
    assert target.model_dump(mode="json") == dumped
    assert Target.model_validate(target.model_dump(mode="json")) == target
    assert Target.model_validate_json(target.model_dump_json()) == target


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("20%", "a change in percent needs its sign: +20% to raise or -20% to lower"),
        ("x0", "a factor must be above 0, got x0"),
        ("x-1", "got string 'x-1'"),
        ("1.5x", "got string '1.5x'"),
        ("+20", "a number, a change from start such as +20% or -30%, or a factor of start such as x1.5"),
        ("plenty", "got string 'plenty'"),
        (True, "got boolean"),
        (None, "got null"),
        (float("inf"), "must be a finite number"),
    ],
)
def test_bad_target(written: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Target.model_validate(written)
    (error,) = field_errors_from_pydantic(caught.value)
    assert message in error.message, error.message


@pytest.mark.parametrize(
    ("written", "trailing"),
    [
        ("period", None),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("9999d", timedelta(days=9999)),
    ],
)
def test_window(written: str, trailing: timedelta | None) -> None:
    window = Window.model_validate(written)
    assert window.trailing == trailing
    assert window.model_dump(mode="json") == written
    assert Window.model_validate(window.model_dump()) == window


@pytest.mark.parametrize("written", ["0d", "7", "7h", "10000d", "d", "quarter", 7, None])
def test_bad_window(written: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Window.model_validate(written)
    (error,) = field_errors_from_pydantic(caught.value)
    assert "must be 'period' or a trailing window" in error.message
    assert error.rule == "window"


# --- definitions -----------------------------------------------------------------------------------

REVENUE_UP = {
    "title": "More revenue",
    "metric": {
        "kpi": "revenue",
        "direction": "increase_to",
        "start": {"baseline": "previous_period"},
        "target": "+20%",
    },
}
BIG_DEALS = {
    "title": "Big deals",
    "metric": {"kpi": "big_deals", "direction": "increase_to", "start": 0, "target": 10},
}
DROP = object()  # a field to leave out


def objective(**changes: Any) -> dict[str, Any]:
    base = {
        "title": "Sell more",
        "owner": "sales",
        "period": "2026-Q4",
        "key_results": {"revenue-up": REVENUE_UP, "big-deals": BIG_DEALS},
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not DROP}


def team(name: str, **changes: Any) -> dict[str, Any]:
    """An objective whose key results are named after it, so several in one file never clash."""
    return objective(key_results={f"{name}-revenue": REVENUE_UP, f"{name}-deals": BIG_DEALS}, **changes)


def with_kr(**body: Any) -> dict[str, Any]:
    """The sales objective with `revenue-up` written as `body`."""
    return {"sales": objective(key_results={"revenue-up": body, "big-deals": BIG_DEALS})}


def with_metric(**changes: Any) -> dict[str, Any]:
    metric = {k: v for k, v in {**REVENUE_UP["metric"], **changes}.items() if v is not DROP}
    return with_kr(title="More revenue", metric=metric)


def rollup(**refs: Any) -> dict[str, Any]:
    return {"title": "Rolled up", "rollup": refs}


def build(kpis: dict[str, KpiDefinition], objectives: Any) -> OkrCatalog:
    return OkrCatalog.from_mapping({"objectives": objectives}, kpis)


KR = "objectives.sales.key_results.revenue-up"
METRIC = f"{KR}.metric"
OCT = [{"until": "2026-10-31", "target": "+5%"}, {"until": "2026-11-30", "target": "+12%"}]

BAD = [
    # objectives
    (
        "objective-id-case",
        {"Sales": objective()},
        "objectives.Sales",
        "invalid_key",
        "invalid objective id 'Sales'",
    ),
    ("objective-id-space", {"the sales": objective()}, "objectives.the sales", "invalid_key", OKR_ID_PATTERN),
    ("objective-id-long", {"s" * 64: objective()}, "objectives." + "s" * 64, "invalid_key", "must match"),
    (
        "objective-id-inside",
        {"sales": objective(id="sales")},
        "objectives.sales.id",
        "extra_forbidden",
        "names",
    ),
    ("objective-not-object", {"sales": 5}, "objectives.sales", "type", "must be an object, got number"),
    ("objective-null", {"sales": None}, "objectives.sales", "type", "must be an object, got null"),
    ("no-title", {"sales": objective(title=DROP)}, "objectives.sales.title", "required", "field required"),
    (
        "empty-title",
        {"sales": objective(title="")},
        "objectives.sales.title",
        "min_length",
        "must not be empty",
    ),
    (
        "long-title",
        {"sales": objective(title="t" * 201)},
        "objectives.sales.title",
        "max_length",
        "at most 200",
    ),
    (
        "empty-owner",
        {"sales": objective(owner="")},
        "objectives.sales.owner",
        "min_length",
        "must not be empty",
    ),
    (
        "long-owner",
        {"sales": objective(owner="o" * 101)},
        "objectives.sales.owner",
        "max_length",
        "at most 100",
    ),
    ("no-period", {"sales": objective(period=DROP)}, "objectives.sales.period", "required", "field required"),
    ("bad-quarter", {"sales": objective(period="2026-Q5")}, "objectives.sales.period", "period", "'2026-Q5'"),
    ("bad-month", {"sales": objective(period="2026-13")}, "objectives.sales.period", "period", "'2026-13'"),
    ("bare-quarter", {"sales": objective(period="Q4")}, "objectives.sales.period", "period", "(2026-Q4)"),
    (
        "period-reversed",
        {"sales": objective(period={"start": date(2026, 12, 31), "end": date(2026, 10, 1)})},
        "objectives.sales.period",
        "period",
        "start 2026-12-31 is after end 2026-10-01",
    ),
    ("bad-kind", {"sales": objective(kind="stretch")}, "objectives.sales.kind", "enum", "got 'stretch'"),
    (
        "zero-weight",
        {"sales": objective(weight=0)},
        "objectives.sales.weight",
        "range",
        "must be positive, got 0",
    ),
    (
        "negative-weight",
        {"sales": objective(weight=-1)},
        "objectives.sales.weight",
        "range",
        "must be positive",
    ),
    (
        "text-weight",
        {"sales": objective(weight="high")},
        "objectives.sales.weight",
        "type",
        "must be a number",
    ),
    (
        "unknown-field",
        {"sales": objective(colour="red")},
        "objectives.sales.colour",
        "extra_forbidden",
        "unknown",
    ),
    (
        "bad-parent-id",
        {"sales": objective(parent="Company")},
        "objectives.sales.parent",
        "pattern",
        "must match",
    ),
    (
        "unknown-parent",
        {"sales": objective(parent="company")},
        "objectives.sales.parent",
        "unknown_objective",
        "'company'",
    ),
    (
        "parent-is-key-result",
        {"sales": objective(parent="big-deals")},
        "objectives.sales.parent",
        "unknown_objective",
        "unknown objective 'big-deals' ('big-deals' is a key result: list it under key_results)",
    ),
    ("own-parent", {"sales": objective(parent="sales")}, "objectives.sales.parent", "self", "not itself"),
    (
        "key-results-list",
        {"sales": objective(key_results=[REVENUE_UP])},
        "objectives.sales.key_results",
        "type",
        "must be an object of key results by id, got array",
    ),
    # key results
    (
        "kr-id-case",
        {"sales": objective(key_results={"Revenue": REVENUE_UP, "big-deals": BIG_DEALS})},
        "objectives.sales.key_results.Revenue",
        "invalid_key",
        "invalid key result id 'Revenue'",
    ),
    (
        "kr-id-inside",
        with_kr(**REVENUE_UP, id="revenue-up"),
        f"{KR}.id",
        "extra_forbidden",
        "names the key result",
    ),
    ("kr-not-object", {"sales": objective(key_results={"revenue-up": "more"})}, KR, "type", "got string"),
    (
        "kr-null",
        {"sales": objective(key_results={"revenue-up": None})},
        KR,
        "type",
        "must be an object, got null",
    ),
    ("kr-no-title", with_kr(metric=REVENUE_UP["metric"]), f"{KR}.title", "required", "field required"),
    ("kr-long-title", with_kr(**{**REVENUE_UP, "title": "t" * 201}), f"{KR}.title", "max_length", "200"),
    ("kr-zero-weight", with_kr(**REVENUE_UP, weight=0), f"{KR}.weight", "range", "must be positive, got 0"),
    (
        "kr-unknown-field",
        with_kr(**REVENUE_UP, owner="me"),
        f"{KR}.owner",
        "extra_forbidden",
        "unknown field",
    ),
    (
        "kr-two-links",
        with_kr(**REVENUE_UP, milestone={"milestones": ["launch"]}),
        KR,
        "one_link",
        "has metric and milestone: a key result is measured one way",
    ),
    # metrics
    ("no-kpi", with_metric(kpi=DROP), f"{METRIC}.kpi", "required", "field required"),
    ("bad-kpi-name", with_metric(kpi="Revenue"), f"{METRIC}.kpi", "pattern", "must match"),
    (
        "unknown-kpi",
        with_metric(kpi="revenu"),
        f"{METRIC}.kpi",
        "unknown_kpi",
        "unknown KPI 'revenu'; known KPIs: active_subscribers, avg_order_value, big_deals,",
    ),
    (
        "filter-undeclared-dimension",
        with_metric(filters={"region": "EU", "segment": "smb"}),
        f"{METRIC}.filters.segment",
        "dimension",
        "KPI 'revenue' cannot be filtered by dimension 'segment': its dimensions are region, channel",
    ),
    (
        "cumulative-decrease",  # revenue to date only grows through the quarter
        with_metric(direction="decrease_to", start=100, target=80, phases=DROP),
        f"{METRIC}.direction",
        "cumulative_decrease",
        "KPI 'revenue' is a sum: over the period to date it only grows, so it cannot decrease",
    ),
    (
        "filter-kpi-without-dimensions",
        with_metric(kpi="active_subscribers", filters={"plan": "pro"}),
        f"{METRIC}.filters.plan",
        "dimension",
        "cannot be filtered by dimension 'plan': it has none",
    ),
    (
        "filter-number",
        with_metric(filters={"region": 5}),
        f"{METRIC}.filters.region",
        "type",
        "must be a string",
    ),
    ("filter-empty", with_metric(filters={"region": ""}), f"{METRIC}.filters.region", "min_length", "empty"),
    (
        "filter-bad-key",
        with_metric(filters={"Region": "EU"}),
        f"{METRIC}.filters.Region",
        "invalid_key",
        "must match",
    ),
    ("filter-list", with_metric(filters=["region"]), f"{METRIC}.filters", "type", "must be an object"),
    ("bad-window", with_metric(window="0d"), f"{METRIC}.window", "window", "got string '0d'"),
    ("bad-direction", with_metric(direction="up"), f"{METRIC}.direction", "enum", "got 'up'"),
    (
        "increase-without-start",
        with_metric(start=DROP),
        f"{METRIC}.start",
        "required",
        "field required for direction increase_to",
    ),
    (
        "decrease-without-start",
        with_metric(direction="decrease_to", start=None, target=5),
        f"{METRIC}.start",
        "required",
        "field required for direction decrease_to",
    ),
    (
        "threshold-with-start",
        with_metric(direction="stay_at_or_above", start=10, target=20),
        f"{METRIC}.start",
        "not_allowed",
        "not used by threshold key results",
    ),
    (
        "threshold-with-baseline",
        with_metric(direction="stay_at_or_below", target=20),
        f"{METRIC}.start",
        "not_allowed",
        "not used by threshold key results",
    ),
    (
        "threshold-relative-target",
        with_metric(direction="stay_at_or_above", start=DROP, target="+5%"),
        f"{METRIC}.target",
        "absolute",
        "stay_at_or_above compares the KPI with a fixed number, so it needs a number, got +5%",
    ),
    (
        "threshold-with-phases",
        with_metric(
            direction="stay_at_or_above", start=DROP, target=10, phases=[{"until": "2026-10-31", "target": 5}]
        ),
        f"{METRIC}.phases",
        "not_allowed",
        "not used by threshold key results",
    ),
    (
        "start-text",
        with_metric(start="previous_period"),
        f"{METRIC}.start",
        "start",
        "must be a number or {baseline:",
    ),
    (
        "start-bad-baseline",
        with_metric(start={"baseline": "last_year"}),
        f"{METRIC}.start",
        "start",
        "'last_year'",
    ),
    ("start-boolean", with_metric(start=True, target=10), f"{METRIC}.start", "start", "got boolean"),
    ("start-nan", with_metric(start=float("nan"), target=10), f"{METRIC}.start", "start", "got number"),
    ("no-target", with_metric(target=DROP), f"{METRIC}.target", "required", "field required"),
    ("bad-target", with_metric(target="20%"), f"{METRIC}.target", "target", "needs its sign"),
    (
        "target-equals-start",
        with_metric(start=10, target=10),
        f"{METRIC}.target",
        "equals_start",
        "target equals start: progress would divide by zero",
    ),
    (
        "no-change-from-baseline",
        with_metric(target="+0%"),
        f"{METRIC}.target",
        "equals_start",
        "divide by zero",
    ),
    (
        "factor-one-from-baseline",
        with_metric(target="x1"),
        f"{METRIC}.target",
        "equals_start",
        "divide by zero",
    ),
    (
        "percent-of-zero",
        with_metric(start=0, target="+20%"),
        f"{METRIC}.target",
        "equals_start",
        "divide by zero",
    ),
    (
        "increase-to-lower",
        with_metric(start=10, target=5),
        f"{METRIC}.target",
        "direction",
        "target 5 is below start 10, but direction is increase_to",
    ),
    (
        "decrease-to-higher",
        with_metric(direction="decrease_to", start=10, target=15),
        f"{METRIC}.target",
        "direction",
        "target 15 is above start 10, but direction is decrease_to",
    ),
    (
        "increase-by-minus-percent",
        with_metric(start=100, target="-20%"),
        f"{METRIC}.target",
        "direction",
        "target -20% (80) is below start 100, but direction is increase_to",
    ),
    (
        "decrease-by-plus-percent",
        with_metric(direction="decrease_to", target="+20%"),
        f"{METRIC}.target",
        "direction",
        "target +20% is above start (the previous period's value), but direction is decrease_to",
    ),
    (
        "increase-by-small-factor",
        with_metric(target="x0.5"),
        f"{METRIC}.target",
        "direction",
        "target x0.5 is below start (the previous period's value)",
    ),
    (
        "decrease-by-large-factor",
        with_metric(direction="decrease_to", target="x1.5"),
        f"{METRIC}.target",
        "direction",
        "target x1.5 is above start",
    ),
    (
        "phases-out-of-order",
        with_metric(phases=OCT[::-1]),
        f"{METRIC}.phases",
        "phase_order",
        "phase 2 (until 2026-10-31) must come after phase 1 (until 2026-11-30)",
    ),
    (
        "phases-same-day",
        with_metric(phases=[OCT[0], {**OCT[1], "until": "2026-10-31"}]),
        f"{METRIC}.phases",
        "phase_order",
        "phase 2 (until 2026-10-31) must come after phase 1 (until 2026-10-31)",
    ),
    (
        "phase-beyond-target",
        with_metric(phases=[OCT[0], {**OCT[1], "target": "+30%"}]),
        f"{METRIC}.phases",
        "phase_target",
        "phase 2: target +30% is beyond the key result's target (+20%)",
    ),
    (
        "phase-behind-start",
        with_metric(start=100, target=120, phases=[{"until": "2026-10-31", "target": 90}]),
        f"{METRIC}.phases",
        "phase_target",
        "phase 1: target 90 is on the wrong side of start",
    ),
    (
        "phase-bad-until",
        with_metric(phases=[{**OCT[0], "until": "soon"}]),
        f"{METRIC}.phases[0].until",
        "date",
        "soon",
    ),
    (
        "phase-no-calendar-date",
        with_metric(phases=[{**OCT[0], "until": "2026-11-31"}]),
        f"{METRIC}.phases[0].until",
        "date",
        "'2026-11-31' is not a calendar date",
    ),
    (
        "phase-bad-target",
        with_metric(phases=[{**OCT[0], "target": "5%"}]),
        f"{METRIC}.phases[0].target",
        "target",
        "sign",
    ),
    (
        "phase-no-target",
        with_metric(phases=[{"until": "2026-10-31"}]),
        f"{METRIC}.phases[0].target",
        "required",
        "required",
    ),
    (
        "phase-outside-period",
        with_metric(phases=[*OCT, {"until": date(2027, 1, 15), "target": "+15%"}]),
        f"{METRIC}.phases[2].until",
        "phase",
        "2027-01-15 is outside the objective's period 2026-Q4 (2026-10-01 to 2026-12-31)",
    ),
    (
        "phase-before-period",
        with_metric(phases=[{"until": date(2026, 9, 30), "target": "+5%"}]),
        f"{METRIC}.phases[0].until",
        "phase",
        "2026-09-30 is outside",
    ),
    # milestones
    (
        "no-milestones",
        with_kr(title="Launch", milestone={}),
        f"{KR}.milestone.milestones",
        "required",
        "required",
    ),
    (
        "empty-milestones",
        with_kr(title="Launch", milestone={"milestones": []}),
        f"{KR}.milestone.milestones",
        "count",
        "must list 1 to 20 milestones, got 0",
    ),
    (
        "too-many-milestones",
        with_kr(title="Launch", milestone={"milestones": [f"step {i}" for i in range(21)]}),
        f"{KR}.milestone.milestones",
        "count",
        "got 21",
    ),
    (
        "repeated-milestone",
        with_kr(title="Launch", milestone={"milestones": ["pilot", "launch", "pilot"]}),
        f"{KR}.milestone.milestones",
        "duplicate",
        "lists pilot more than once",
    ),
    (
        "empty-milestone-name",
        with_kr(title="Launch", milestone={"milestones": ["pilot", ""]}),
        f"{KR}.milestone.milestones[1]",
        "min_length",
        "must not be empty",
    ),
    (
        "long-milestone-name",
        with_kr(title="Launch", milestone={"milestones": ["m" * 101]}),
        f"{KR}.milestone.milestones[0]",
        "max_length",
        "at most 100",
    ),
    # rollups
    (
        "empty-rollup",
        with_kr(**rollup()),
        f"{KR}.rollup",
        "required",
        "needs objectives or key_results to roll up",
    ),
    (
        "rollup-unknown-objective",
        with_kr(**rollup(objectives=["support"])),
        f"{KR}.rollup.objectives[0]",
        "unknown_objective",
        "unknown objective 'support'",
    ),
    (
        "rollup-key-result-as-objective",
        with_kr(**rollup(objectives=["big-deals"])),
        f"{KR}.rollup.objectives[0]",
        "unknown_objective",
        "'big-deals' is a key result: list it under key_results",
    ),
    (
        "rollup-unknown-key-result",
        with_kr(**rollup(key_results=["big-deal"])),
        f"{KR}.rollup.key_results[0]",
        "unknown_key_result",
        "unknown key result 'big-deal'",
    ),
    (
        "rollup-objective-as-key-result",
        {"sales": team("sales"), "company": objective(key_results={"teams": rollup(key_results=["sales"])})},
        "objectives.company.key_results.teams.rollup.key_results[0]",
        "unknown_key_result",
        "'sales' is an objective: list it under objectives",
    ),
    (
        "rollup-own-objective",
        with_kr(**rollup(objectives=["sales"])),
        f"{KR}.rollup.objectives[0]",
        "self",
        "must not roll up its own objective",
    ),
    (
        "rollup-itself",
        with_kr(**rollup(key_results=["revenue-up"])),
        f"{KR}.rollup.key_results[0]",
        "self",
        "itself",
    ),
    (
        "rollup-bad-id",
        with_kr(**rollup(objectives=["Team"])),
        f"{KR}.rollup.objectives[0]",
        "pattern",
        "must match",
    ),
    (
        "rollup-repeated",
        with_kr(**rollup(key_results=["big-deals", "big-deals"])),
        f"{KR}.rollup.key_results",
        "duplicate",
        "lists big-deals more than once",
    ),
    # across objectives
    (
        "parent-cycle",
        {"a": team("a", parent="b"), "b": team("b", parent="a")},
        "objectives.a.parent",
        "cycle",
        "parent cycle: a -> b -> a",
    ),
    (
        "parent-long-cycle",
        {"z": team("z", parent="x"), "x": team("x", parent="y"), "y": team("y", parent="z")},
        "objectives.x.parent",
        "cycle",
        "parent cycle: x -> y -> z -> x",
    ),
    (
        "duplicate-key-result",
        {"a": objective(), "b": objective(key_results={"revenue-up": REVENUE_UP, "b-deals": BIG_DEALS})},
        "objectives.b.key_results.revenue-up",
        "duplicate_id",
        "id 'revenue-up' is already used by key result 'revenue-up' of objective 'a'",
    ),
    (
        "key-result-named-like-objective",
        {"sales": objective(key_results={"revenue-up": REVENUE_UP, "sales": BIG_DEALS})},
        "objectives.sales.key_results.sales",
        "duplicate_id",
        "id 'sales' is already used by objective 'sales'",
    ),
    (
        "rollup-cycle",
        {
            "a": objective(key_results={"a-rolls": rollup(objectives=["b"]), "a-deals": BIG_DEALS}),
            "b": objective(key_results={"b-rolls": rollup(objectives=["a"]), "b-deals": BIG_DEALS}),
        },
        "objectives.a.key_results.a-rolls.rollup",
        "cycle",
        "rollup cycle: a-rolls -> b -> b-rolls -> a -> a-rolls",
    ),
    (
        "rollup-of-key-results-cycle",
        {
            "a": objective(
                key_results={"one": rollup(key_results=["two"]), "two": rollup(key_results=["one"])}
            )
        },
        "objectives.a.key_results.one.rollup",
        "cycle",
        "rollup cycle: one -> two -> one",
    ),
    (
        "child-rolls-up-its-parent",
        {
            "company": team("company"),
            "sales": objective(parent="company", key_results={"sales-rolls": rollup(objectives=["company"])}),
        },
        "objectives.sales.key_results.sales-rolls.rollup",
        "cycle",
        "rollup cycle: sales-rolls -> company -> sales -> sales-rolls",
    ),
]


@pytest.mark.parametrize(
    ("objectives", "path", "rule", "message"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_each_bad_definition_is_named(
    kpis: dict[str, KpiDefinition], objectives: dict[str, Any], path: str, rule: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build(kpis, objectives)
    assert [(e.path, e.rule) for e in caught.value.errors] == [(path, rule)], str(caught.value)
    assert message in caught.value.errors[0].message, str(caught.value)


def test_every_error_is_reported_at_once(kpis: dict[str, KpiDefinition]) -> None:
    data = yaml.safe_load("""
objectives:
  Company:
    title: Grow
    owner: leadership
    period: 2026-Q4
    key_results:
      teams: {title: Teams on track, rollup: {objectives: [sales, support, hiring]}}
  sales:
    title: Sell more
    owner: sales
    period: 2026-Q5
    parent: company
    key_results:
      revenue-up:
        title: More revenue
        metric: {kpi: revenue, filters: {segment: smb}, direction: increase_to, target: +20%}
  support:
    title: Answer faster
    owner: support
    period: 2026-Q4
    parent: sales
    weight: 0
    key_results:
      teams: {title: Duplicate, milestone: {milestones: [a]}}
      faster:
        title: Faster
        metric:
          kpi: median_first_respons
          direction: decrease_to
          start: {baseline: previous_period}
          target: +10%
      cheaper:
        title: Cheaper
        metric:
          kpi: revenue
          filters: {segment: smb}
          direction: stay_at_or_below
          target: 10
          phases: [{until: 2027-01-10, target: 5}]
      both: {title: Both, milestone: {milestones: [x]}, rollup: {objectives: [sales]}}
  marketing:
    title: Be known
    owner: marketing
    period: 2026-Q4
    key_results:
      reach:
        title: Reach
        weight: -1
        metric: {kpi: sessions, direction: increase_to, start: 100, target: 100}
        id: reach
      launch: {title: Launch, milestone: {milestones: [a, b, a]}}
  ops:
    title: Run well
    owner: ops
    period: 2026-Q4
    parent: nobody
    key_results:
      rolled: {title: Rolled, rollup: {objectives: [ops], key_results: [launch, ghost]}}
      p90:
        title: Quick answers
        metric: {kpi: p90_first_respons, direction: stay_at_or_below, target: 3600}
      eu-revenue:
        title: EU revenue
        metric:
          kpi: revenue
          filters: {segment: smb}
          direction: increase_to
          start: 10
          target: 20
          phases: [{until: 2027-01-10, target: 15}]
  loop-a: {title: A, owner: x, period: 2026-11, parent: loop-b}
  loop-b: {title: B, owner: x, period: 2026-11, parent: loop-a}
version: 2
""")
    with pytest.raises(ConfigError) as caught:
        OkrCatalog.from_mapping(data, kpis)
    assert [(e.path, e.rule) for e in caught.value.errors] == [
        ("version", "extra_forbidden"),
        ("objectives.Company", "invalid_key"),
        ("objectives.sales.period", "period"),
        ("objectives.sales.key_results.revenue-up.metric.start", "required"),
        ("objectives.support.weight", "range"),
        ("objectives.support.key_results.faster.metric.target", "direction"),
        ("objectives.support.key_results.cheaper.metric.phases", "not_allowed"),
        ("objectives.support.key_results.both", "one_link"),
        ("objectives.marketing.key_results.reach.id", "extra_forbidden"),
        ("objectives.marketing.key_results.reach.weight", "range"),
        ("objectives.marketing.key_results.reach.metric.target", "equals_start"),
        ("objectives.marketing.key_results.launch.milestone.milestones", "duplicate"),
        ("objectives.support.key_results.teams", "duplicate_id"),
        ("objectives.ops.parent", "unknown_objective"),
        ("objectives.ops.key_results.rolled.rollup.objectives[0]", "self"),
        ("objectives.ops.key_results.rolled.rollup.key_results[1]", "unknown_key_result"),
        ("objectives.ops.key_results.p90.metric.kpi", "unknown_kpi"),
        ("objectives.ops.key_results.eu-revenue.metric.filters.segment", "dimension"),
        ("objectives.ops.key_results.eu-revenue.metric.phases[0].until", "phase"),
        ("objectives.loop-a.parent", "cycle"),
    ]
    text = str(caught.value)
    assert "objectives.Company: invalid objective id 'Company'" in text
    assert "objectives.support.key_results.teams: id 'teams' is already used by key result 'teams'" in text
    assert "objectives.loop-a.parent: parent cycle: loop-a -> loop-b -> loop-a" in text


def test_references_to_well_formed_objectives_are_checked_once_the_file_is_fixed(
    kpis: dict[str, KpiDefinition],
) -> None:
    """A reference to an objective that is written but invalid is not an unknown objective."""
    data = {"sales": team("sales", title=""), "company": team("company", parent="sales")}
    with pytest.raises(ConfigError) as caught:
        build(kpis, data)
    assert [e.path for e in caught.value.errors] == ["objectives.sales.title"]
    data = {
        "company": objective(key_results={"teams": rollup(objectives=["sales"], key_results=["sales-deals"])})
    }
    data["sales"] = team("sales", period="2026-Q9")
    with pytest.raises(ConfigError) as caught:
        build(kpis, data)
    assert [e.path for e in caught.value.errors] == ["objectives.sales.period"]


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ([], "$", "must be an object, got array"),
        ({"objectives": ["sales"]}, "objectives", "must be an object, got array"),
        ({"objectives": {}, "okrs": {}}, "okrs", "unknown field"),
    ],
    ids=["not-an-object", "objectives-not-an-object", "unknown-top-level-key"],
)
def test_bad_file_shape(kpis: dict[str, KpiDefinition], data: Any, path: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OkrCatalog.from_mapping(data, kpis)
    assert [(e.path, e.message) for e in caught.value.errors] == [(path, message)]


@pytest.mark.parametrize("data", [None, {}, {"objectives": None}, {"objectives": {}}])
def test_empty_catalog(kpis: dict[str, KpiDefinition], data: Any) -> None:
    catalog = OkrCatalog.from_mapping(data, kpis)
    assert catalog.objectives == {}
    assert catalog.warnings() == []


def test_a_full_definition(kpis: dict[str, KpiDefinition]) -> None:
    data = yaml.safe_load("""
objectives:
  company:
    title: Grow
    owner: leadership
    period: 2026
    kind: aspirational
    description: The year we double
    key_results:
      teams: {title: Teams on track, weight: 3, rollup: {objectives: [sales], key_results: [launch]}}
      launch: {title: Launch, milestone: {milestones: launch}}
      someday: {title: Someday}
  sales:
    title: Sell more
    owner: sales
    period: {start: 2026-10-01, end: 2026-11-15}
    parent: company
    weight: 2.5
    key_results:
      revenue-up:
        title: More revenue
        metric:
          kpi: revenue
          filters: {region: EU, channel: web}
          window: 4w
          direction: increase_to
          start: 1000
          target: x1.5
          phases: [{until: 2026-10-31, target: 1200}, {until: 2026-11-15, target: +50%}]
      urgent-down:
        title: Fewer urgent tickets
        metric: {kpi: median_first_response, direction: decrease_to, start: 40, target: -25%}
""")
    catalog = OkrCatalog.from_mapping(data, kpis)
    company, sales = catalog.objectives["company"], catalog.objectives["sales"]
    assert (company.kind, company.weight, company.parent, company.description) == (
        ObjectiveKind.ASPIRATIONAL,
        1.0,
        None,
        "The year we double",
    )
    assert company.period.kind is PeriodKind.YEAR
    assert [kr.kind for kr in company.key_results] == [
        KeyResultKind.ROLLUP,
        KeyResultKind.MILESTONE,
        KeyResultKind.UNLINKED,
    ]
    teams = company.key_result("teams")
    assert (teams.weight, teams.rollup and teams.rollup.objectives) == (3.0, ("sales",))
    assert company.key_result("launch").milestone.milestones == ("launch",)  # type: ignore[union-attr]
    assert (sales.parent, sales.weight, sales.period.label) == ("company", 2.5, "2026-10-01..2026-11-15")
    metric = sales.key_result("revenue-up").metric
    assert metric is not None
    assert metric.filters == {"region": "EU", "channel": "web"}
    assert (metric.window.trailing, metric.direction, metric.start) == (
        timedelta(weeks=4),
        Direction.INCREASE_TO,
        1000.0,
    )
    assert metric.target.resolve(metric.start) == 1500.0  # type: ignore[arg-type]
    assert [(p.until, p.target.resolve(1000.0)) for p in metric.phases] == [
        (date(2026, 10, 31), 1200.0),
        (date(2026, 11, 15), 1500.0),
    ]
    urgent = sales.key_result("urgent-down").metric
    assert urgent is not None and urgent.window.trailing is None and urgent.filters == {}
    assert urgent.target.resolve(40.0) == 30.0
    with pytest.raises(KeyError, match="objective 'sales' has no key result 'teams'"):
        sales.key_result("teams")
    assert catalog.children("company") == (sales,)
    assert catalog.children("sales") == ()
    assert list(catalog.key_results()) == ["teams", "launch", "someday", "revenue-up", "urgent-down"]
    assert catalog.key_results()["urgent-down"] == (sales, sales.key_result("urgent-down"))
    assert [(w.path, w.rule) for w in catalog.warnings()] == [
        ("objectives.company.key_results.someday", "unlinked"),
    ]


def test_definition_dumps_as_written_and_reads_back(kpis: dict[str, KpiDefinition]) -> None:
    sales = build(kpis, with_metric(window="7d", filters={"region": "EU"}, phases=OCT)).objectives["sales"]
    dumped = sales.model_dump(mode="json")
    assert dumped["period"] == "2026-Q4"
    assert list(dumped["key_results"]) == ["revenue-up", "big-deals"]  # keyed by id, as in the file
    assert "id" not in dumped["key_results"]["revenue-up"]
    assert dumped["key_results"]["revenue-up"]["metric"] == {
        "kpi": "revenue",
        "filters": {"region": "EU"},
        "window": "7d",
        "direction": "increase_to",
        "start": {"baseline": "previous_period"},
        "target": "+20%",
        "phases": [{"until": "2026-10-31", "target": "+5%"}, {"until": "2026-11-30", "target": "+12%"}],
    }
    assert dumped["key_results"]["big-deals"]["metric"]["start"] == 0.0
    assert Objective.model_validate_json(sales.model_dump_json()) == sales
    assert Objective.model_validate(dumped) == sales
    start = sales.key_result("revenue-up").metric.start  # type: ignore[union-attr]
    assert isinstance(start, StartFromBaseline)


def test_fingerprint_covers_the_whole_definition(kpis: dict[str, KpiDefinition]) -> None:
    def fingerprint(objectives: dict[str, Any]) -> str:
        return build(kpis, objectives).objectives["sales"].fingerprint()

    base = fingerprint({"sales": objective()})
    assert len(base) == 16 and int(base, 16) >= 0
    assert fingerprint({"sales": objective()}) == base
    assert fingerprint({"sales": objective(kind="committed", weight=1.0)}) == base  # defaults written out
    assert fingerprint(with_metric(target="+25%")) != base
    assert fingerprint({"sales": objective(title="Sell much more")}) != base
    assert fingerprint({"sales": objective(period="2027-Q1")}) != base


# --- warnings --------------------------------------------------------------------------------------


def numbered(count: int) -> dict[str, Any]:
    return {f"deals-{i}": BIG_DEALS for i in range(count)}


@pytest.mark.parametrize(
    ("objectives", "expected"),
    [
        ({"sales": objective()}, []),
        (
            {"sales": objective(key_results={"only": BIG_DEALS})},
            [("objectives.sales.key_results", "kr_count", "has 1 key result: 2 to 5 keep an objective")],
        ),
        (
            {"sales": objective(key_results=DROP)},
            [("objectives.sales.key_results", "kr_count", "has 0 key results")],
        ),
        ({"sales": objective(key_results=numbered(5))}, []),
        (
            {"sales": objective(key_results=numbered(6))},
            [("objectives.sales.key_results", "kr_count", "has 6 key results")],
        ),
        (
            {"sales": objective(key_results={"deals": BIG_DEALS, "vague": {"title": "Be great"}})},
            [
                (
                    "objectives.sales.key_results.vague",
                    "unlinked",
                    "has no metric, milestone or rollup: it is not scored and is left out of its "
                    "objective's score",
                )
            ],
        ),
        (
            {f"o{i}": team(f"o{i}") for i in range(6)},
            [("objectives", "owner_load", "owner 'sales' has 6 objectives in 2026-Q4: more than 5")],
        ),
        ({f"o{i}": team(f"o{i}", period="2026-Q3" if i else "2026-Q4") for i in range(6)}, []),
        ({f"o{i}": team(f"o{i}", owner=f"team {i % 2}") for i in range(6)}, []),
        (
            {"company": team("company", owner="ceo"), "north": team("north", parent="company")},
            [
                (
                    "objectives.company",
                    "children_not_scored",
                    "its child objectives north pass their status up",
                )
            ],
        ),
        (
            {
                "company": objective(
                    owner="ceo", key_results={"teams": rollup(objectives=["north"]), **numbered(1)}
                ),
                "north": team("north", parent="company"),
            },
            [],
        ),
    ],
    ids=[
        "none",
        "one-kr",
        "no-kr",
        "five-krs",
        "six-krs",
        "unlinked",
        "owner-load",
        "two-periods",
        "two-owners",
        "child-not-rolled-up",
        "child-rolled-up",
    ],
)
def test_warnings(kpis: dict[str, KpiDefinition], objectives: dict[str, Any], expected: list[Any]) -> None:
    warnings = build(kpis, objectives).warnings()
    assert [(w.path, w.rule) for w in warnings] == [(path, rule) for path, rule, _ in expected]
    for warning, (_, _, message) in zip(warnings, expected, strict=True):
        assert message in warning.message, warning.message


# --- plans and versions ----------------------------------------------------------------------------

T0, T1, T2 = utc(2026, 10, 1, 8), utc(2026, 11, 1, 9), utc(2026, 12, 1, 10)


def test_plan_versions_and_what_is_in_force(kpis: dict[str, KpiDefinition]) -> None:
    first = build(kpis, {"sales": team("sales"), "support": team("support", owner="support")})
    plan = plan_okrs(first, {})
    assert ([o.id for o in plan.created], plan.changed, plan.removed, plan.unchanged) == (
        ["sales", "support"],
        (),
        (),
        (),
    )
    assert plan.summary() == "create: sales, support" and not plan.empty
    history = versions_for(plan, {}, T0, "alice")
    assert history == [
        OkrVersion(
            "sales",
            1,
            first.objectives["sales"].fingerprint(),
            T0,
            False,
            first.objectives["sales"].model_dump_json(),
            "alice",
        ),
        OkrVersion(
            "support",
            1,
            first.objectives["support"].fingerprint(),
            T0,
            False,
            first.objectives["support"].model_dump_json(),
            "alice",
        ),
    ]

    again = plan_okrs(first, latest_versions(history))
    assert again.empty and again.unchanged == ("sales", "support")
    assert again.summary() == "nothing to do: every objective is applied as defined"
    assert versions_for(again, latest_versions(history), T1, "alice") == []

    raised = team("sales")
    raised["key_results"]["sales-revenue"] = {
        **REVENUE_UP,
        "metric": {**REVENUE_UP["metric"], "target": "+25%"},
    }
    second = build(kpis, {"hiring": team("hiring", owner="people"), "sales": raised})
    plan = plan_okrs(second, latest_versions(history), prune=True)
    assert ([o.id for o in plan.created], [o.id for o in plan.changed], plan.removed, plan.unchanged) == (
        ["hiring"],
        ["sales"],
        ("support",),
        (),
    )
    assert plan.summary() == "create: hiring; change: sales; remove: support"
    added = versions_for(plan, latest_versions(history), T1, "bob")
    assert [(v.objective, v.version, v.removed, v.effective_from, v.applied_by) for v in added] == [
        ("hiring", 1, False, T1, "bob"),
        ("sales", 2, False, T1, "bob"),
        ("support", 2, True, T1, "bob"),
    ]
    assert added[2].definition == "" and added[2].fingerprint == history[1].fingerprint
    history += added

    def target_at(at: datetime | None) -> str:
        metric = objectives_in_force(history, at)["sales"].key_result("sales-revenue").metric
        assert metric is not None
        return metric.target.text

    assert objectives_in_force(history, T0 - timedelta(seconds=1)) == {}
    assert set(objectives_in_force(history, T0)) == {"sales", "support"}
    assert target_at(T1 - timedelta(microseconds=1)) == "+20%"  # the change is not back-dated
    assert target_at(T1) == "+25%"
    assert target_at(None) == "+25%"
    assert set(objectives_in_force(history, T1)) == {"sales", "hiring"}  # support removed from T1
    assert objectives_in_force(history) == second.objectives
    assert objectives_in_force(history, T0)["support"] == first.objectives["support"]

    # re-created: a new objective to the plan, numbered on from its removal
    third = build(
        kpis,
        {
            **{k: v.model_dump(exclude={"id"}) for k, v in second.objectives.items()},
            "support": team("support"),
        },
    )
    assert "support" not in {k for k, v in latest_versions(history).items() if not v.removed}
    plan = plan_okrs(third, latest_versions(history))
    assert ([o.id for o in plan.created], plan.changed, plan.removed) == (["support"], (), ())
    (recreated,) = versions_for(plan, latest_versions(history), T2, "carol")
    assert (recreated.objective, recreated.version, recreated.removed) == ("support", 3, False)
    history.append(recreated)
    assert set(objectives_in_force(history, T2)) == {"sales", "hiring", "support"}
    assert latest_versions(history, T1)["support"].removed
    assert latest_versions(history, T2)["support"].version == 3


def test_the_plan_leaves_objectives_the_file_omits_in_force_unless_pruning(
    kpis: dict[str, KpiDefinition],
) -> None:
    first = build(kpis, {t: team(t) for t in ("sales", "support", "hiring")})
    history = versions_for(plan_okrs(first, {}), {}, T0, "alice")
    second = build(kpis, {"sales": team("sales", title="Sell far more")})

    plan = plan_okrs(second, latest_versions(history))
    assert ([o.id for o in plan.changed], plan.removed, plan.kept) == (["sales"], (), ("hiring", "support"))
    assert plan.summary() == "change: sales; would remove with --prune: hiring, support"
    assert plan_okrs(second, latest_versions(history), prune=False) == plan  # the default
    kept = history + versions_for(plan, latest_versions(history), T1, "bob")
    assert [(v.objective, v.version) for v in kept[3:]] == [("sales", 2)]  # nothing recorded as removed
    assert set(objectives_in_force(kept)) == {"sales", "support", "hiring"}
    again = plan_okrs(second, latest_versions(kept))
    assert again.empty and again.summary() == (
        "nothing to do: every objective in the file is applied as defined; "
        "would remove with --prune: hiring, support"
    )

    pruned = plan_okrs(second, latest_versions(history), prune=True)
    assert (pruned.removed, pruned.kept) == (("hiring", "support"), ())
    assert pruned.summary() == "change: sales; remove: hiring, support"
    removed = history + versions_for(pruned, latest_versions(history), T1, "bob")
    assert set(objectives_in_force(removed)) == {"sales"}
    assert plan_okrs(second, latest_versions(removed)).kept == ()  # removed ones are not in force


def applied(kpis: dict[str, KpiDefinition], objectives: dict[str, Any]) -> dict[str, OkrVersion]:
    return latest_versions(versions_for(plan_okrs(build(kpis, objectives), {}), {}, T0, "alice"))


def test_objectives_left_in_force_must_still_hold_beside_the_file(kpis: dict[str, KpiDefinition]) -> None:
    company = objective(
        title="Grow",
        key_results={
            "sales-up": rollup(key_results=["sales-revenue"]),
            "support-up": rollup(objectives=["support"]),
        },
    )
    before = applied(kpis, {"company": company, "sales": team("sales"), "support": team("support")})

    # the file renames the key result that the kept company objective rolls up
    renamed = build(kpis, {"sales": objective(key_results={"revenue": REVENUE_UP, "deals": BIG_DEALS})})
    with pytest.raises(ConfigError) as refused:
        plan_okrs(renamed, before)
    [error] = refused.value.errors
    assert (error.path, error.rule) == (
        "objectives.company.key_results.sales-up.rollup.key_results[0]",
        "unknown_key_result",
    )
    assert error.message == (
        "unknown key result 'sales-revenue': no objective holds it any more "
        "('company' is in force and not in this file: add it as it should be, or prune it)"
    )
    assert plan_okrs(renamed, before, prune=True).removed == ("company", "support")

    # ids are one namespace across what the file brings and what stays in force
    clash = build(
        kpis, {"hiring": objective(key_results={"support-deals": BIG_DEALS, "sales-up": BIG_DEALS})}
    )
    with pytest.raises(ConfigError) as refused:
        plan_okrs(clash, before)
    assert [(e.path, e.rule, e.message) for e in refused.value.errors] == [
        (
            "objectives.hiring.key_results.support-deals",
            "duplicate_id",
            "id 'support-deals' is already used by key result 'support-deals' of objective 'support',"
            " in force and not in this file",
        ),
        (
            "objectives.hiring.key_results.sales-up",
            "duplicate_id",
            "id 'sales-up' is already used by key result 'sales-up' of objective 'company',"
            " in force and not in this file",
        ),
    ]

    # a cycle through both: dept -> sales (its child, from the file) -> team (kept, a child of sales)
    # -> team's rollup -> dept
    team_up = objective(parent="sales", key_results={"team-dept": rollup(objectives=["dept"])})
    before = applied(kpis, {"sales": team("sales"), "dept": team("dept"), "team": team_up})
    cycle = build(kpis, {"sales": team("sales", parent="dept"), "dept": team("dept")})
    with pytest.raises(ConfigError) as refused:
        plan_okrs(cycle, before)
    [error] = refused.value.errors
    assert (error.path, error.rule) == ("objectives.team.key_results.team-dept.rollup", "cycle")
    assert error.message.startswith("rollup cycle: team-dept -> dept -> sales -> team -> team-dept (")
    assert [o.id for o in plan_okrs(cycle, before, prune=True).changed] == ["sales"]


def test_in_force_does_not_depend_on_the_order_versions_arrive_in(kpis: dict[str, KpiDefinition]) -> None:
    first = build(kpis, {"sales": team("sales")})
    second = build(kpis, {"sales": team("sales", title="Sell far more")})
    history = versions_for(plan_okrs(first, {}), {}, T0, "alice")
    history += versions_for(plan_okrs(second, latest_versions(history)), latest_versions(history), T1, "bob")
    shuffled = history[::-1]
    assert objectives_in_force(shuffled, T1)["sales"].title == "Sell far more"
    assert objectives_in_force(shuffled, T0)["sales"].title == "Sell more"
    oslo = datetime(2026, 11, 1, 10, tzinfo=OSLO)  # 09:00 UTC: the same instant as T1
    assert objectives_in_force(shuffled, oslo)["sales"].title == "Sell far more"


def test_times_must_be_timezone_aware(kpis: dict[str, KpiDefinition]) -> None:
    plan = plan_okrs(build(kpis, {"sales": team("sales")}), {})
    with pytest.raises(ValueError, match="timezone-aware"):
        versions_for(plan, {}, datetime(2026, 10, 1), "alice")
    with pytest.raises(ValueError, match="timezone-aware"):
        objectives_in_force([], datetime(2026, 10, 1))
    (version,) = versions_for(plan, {}, datetime(2026, 10, 1, 10, tzinfo=OSLO), "alice")
    assert version.effective_from == T0 and version.effective_from.tzinfo is UTC


# --- the shipped example ---------------------------------------------------------------------------


def test_shipped_okrs_match_the_shipped_kpis(kpis: dict[str, KpiDefinition]) -> None:
    catalog = OkrCatalog.from_mapping(shipped_yaml("okrs.yaml"), kpis)
    assert catalog.warnings() == []
    company = catalog.objectives["grow-business"]
    assert company.kind is ObjectiveKind.COMMITTED
    assert {kr.kind for kr in company.key_results} == {KeyResultKind.ROLLUP}
    departments = catalog.children("grow-business")
    assert len(departments) == 2
    rolled = {ref for kr in company.key_results if kr.rollup for ref in kr.rollup.objectives}
    assert rolled == {o.id for o in departments}
    for objective_ in catalog.objectives.values():
        assert objective_.period.label == "2026-Q4"
        assert 2 <= len(objective_.key_results) <= 5
        assert Objective.model_validate_json(objective_.model_dump_json()) == objective_
    metrics = {kr.metric.kpi: kr.metric for _, kr in catalog.key_results().values() if kr.metric}
    assert metrics["revenue"].start == StartFromBaseline(baseline="previous_period")
    assert metrics["revenue"].target.text == "+20%" and metrics["revenue"].phases
    assert (metrics["big_deals"].start, metrics["big_deals"].target.resolve(None)) == (0.0, 10.0)
    assert (metrics["conversion_rate"].direction, metrics["conversion_rate"].target.value) == (
        Direction.STAY_AT_OR_ABOVE,
        0.05,
    )
    response = metrics["median_first_response"]
    assert (response.direction, response.target.text) == (Direction.DECREASE_TO, "-30%")
    milestones = [kr.milestone for _, kr in catalog.key_results().values() if kr.milestone]
    assert [len(m.milestones) for m in milestones] == [3]


def test_error_type_is_the_shared_one(kpis: dict[str, KpiDefinition]) -> None:
    with pytest.raises(ConfigError) as caught:
        build(kpis, {"sales": objective(title="")})
    assert caught.value.errors == (FieldError("objectives.sales.title", "must not be empty", "min_length"),)


def test_objectives_built_in_python() -> None:
    """Key results given as models keep their ids; as a list of plain objects they are refused."""
    deals = {"title": "Big deals", "metric": BIG_DEALS["metric"]}
    krs = (KeyResult.model_validate({"id": "deals", **deals}), KeyResult(id="launch", title="Launch"))
    built = Objective(
        id="sales", title="Sell", owner="sales", period=Period.model_validate("2026-11"), key_results=krs
    )
    assert [kr.id for kr in built.key_results] == ["deals", "launch"]
    assert built.key_result("launch").kind is KeyResultKind.UNLINKED
    assert Objective.model_validate_json(built.model_dump_json()) == built
    with pytest.raises(ValidationError) as caught:
        Objective.model_validate({**built.model_dump(), "key_results": [{"id": "deals", **deals}]})
    assert [(e.path, e.rule) for e in field_errors_from_pydantic(caught.value)] == [("key_results", "type")]
