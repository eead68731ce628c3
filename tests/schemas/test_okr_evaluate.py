"""OKR scoring at one instant (`schemas._okr_evaluate`): windows, key results and objectives, pure.

Every expected number is worked out by hand from the README's "OKRs" formulas. Most cases use
the month 2026-11 in UTC, [2026-11-01, 2026-12-01): 30 days, so 3 days are a tenth of the
period and 2026-11-16 00:00 is exactly half of it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

import schemas
from schemas import (
    EventTypeRegistry,
    Grade,
    KeyResultInputs,
    KeyResultScore,
    KpiCatalog,
    KpiDefinition,
    Objective,
    ObjectiveScore,
    OkrCatalog,
    Status,
    StatusThresholds,
    baseline_window,
    frozen,
    measured_window,
    needs_baseline,
    period_score,
    score_key_result,
    score_objective,
    started,
)

UTC_ZONE, OSLO = ZoneInfo("UTC"), ZoneInfo("Europe/Oslo")
DEFAULTS = StatusThresholds(at_risk_gap=0.1, off_track_gap=0.25)
RED, YELLOW, GREEN = Grade.RED, Grade.YELLOW, Grade.GREEN
ACHIEVED, ON_TRACK, AT_RISK, OFF_TRACK = Status.ACHIEVED, Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK
PARTIALLY, MISSED = Status.PARTIALLY_ACHIEVED, Status.MISSED


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


NOV_START, MID_NOV, NOV_END = utc(2026, 11, 1), utc(2026, 11, 16), utc(2026, 12, 1)  # MID_NOV: elapsed 0.5


# --- builders ------------------------------------------------------------------------------------


@cache
def kpis() -> dict[str, KpiDefinition]:
    """The shipped KPIs (revenue, ...), against the shipped event types."""
    shipped = Path(schemas.__file__).parent
    registry = EventTypeRegistry.from_mapping(yaml.safe_load((shipped / "event_types.yaml").read_text()))
    return KpiCatalog.from_mapping(yaml.safe_load((shipped / "kpis.yaml").read_text()), registry).kpis


def objective(
    key_results: dict[str, dict[str, Any]], period: Any = "2026-11", kind: str = "committed"
) -> Objective:
    """The objective `sales` with these key results, checked as `okr apply` checks a file.

    A second objective, `team`, is there for rollups to name.
    """
    team = {"title": "Team", "owner": "team", "period": period, "key_results": {"launch": milestone("go")}}
    sales = {
        "title": "Sell more",
        "owner": "sales",
        "period": period,
        "kind": kind,
        "key_results": key_results,
    }
    return OkrCatalog.from_mapping({"objectives": {"sales": sales, "team": team}}, kpis()).objectives["sales"]


def metric(kpi: str = "avg_order_value", **fields: Any) -> dict[str, Any]:
    """A key result reading a KPI (by default a level: the average order value), with these fields."""
    return {"title": "Order value", "metric": {"kpi": kpi, **fields}}


def milestone(*names: str) -> dict[str, Any]:
    return {"title": "Launch", "milestone": {"milestones": list(names)}}


def rollup() -> dict[str, Any]:
    return {"title": "Team on track", "rollup": {"objectives": ["team"]}}


def score_one(
    body: dict[str, Any],
    inputs: KeyResultInputs,
    at: datetime = MID_NOV,
    zone: ZoneInfo = UTC_ZONE,
    kind: str = "committed",
    thresholds: StatusThresholds = DEFAULTS,
) -> KeyResultScore:
    """Score the one key result `body` of a fresh objective."""
    built = objective({"kr": body}, kind=kind)
    return score_key_result(built, built.key_results[0], inputs, at, zone, 7, thresholds)


SCORED = ("value", "start", "target", "progress", "attainment", "expected", "status", "grade", "falls_short")


def fields(actual: KeyResultScore, names: tuple[str, ...] = SCORED) -> dict[str, Any]:
    return {name: getattr(actual, name) for name in names}


def want(
    value: Any, start: Any, target: Any, progress: float, attainment: Any, **rest: Any
) -> dict[str, Any]:
    """The scored fields of a key result: `expected`, `status`, `grade`, `falls_short` by name."""
    return {
        "value": value,
        "start": start,
        "target": target,
        "progress": progress,
        "attainment": attainment,
        **rest,
    }


# --- windows, start and freeze -------------------------------------------------------------------

NOON_16 = utc(2026, 11, 16, 12)


@pytest.mark.parametrize(
    ("zone", "window", "at", "measured"),
    [
        pytest.param(UTC_ZONE, "period", NOON_16, (NOV_START, NOON_16), id="to-date"),
        pytest.param(UTC_ZONE, "period", utc(2026, 12, 5), (NOV_START, NOV_END), id="ended"),
        pytest.param(UTC_ZONE, "period", NOV_END, (NOV_START, NOV_END), id="at-the-end"),
        pytest.param(UTC_ZONE, "period", utc(2026, 10, 20), (NOV_START, NOV_START), id="before-start-empty"),
        pytest.param(UTC_ZONE, "7d", NOON_16, (utc(2026, 11, 9, 12), NOON_16), id="trailing-7d"),
        pytest.param(  # a trailing window reaches back before the period: "the last four weeks"
            UTC_ZONE, "4w", utc(2026, 11, 10), (utc(2026, 10, 13), utc(2026, 11, 10)), id="trailing-4w-early"
        ),
        pytest.param(UTC_ZONE, "7d", utc(2026, 12, 20), (utc(2026, 11, 24), NOV_END), id="trailing-ended"),
        # Oslo is UTC+1 in November: the month starts at 23:00 UTC the day before
        pytest.param(OSLO, "period", NOON_16, (utc(2026, 10, 31, 23), NOON_16), id="oslo"),
    ],
)  # fmt: skip
def test_measured_window(
    zone: ZoneInfo, window: str, at: datetime, measured: tuple[datetime, datetime]
) -> None:
    built = objective({"kr": metric(window=window, direction="increase_to", start=0, target=10)})
    assert measured_window(built, built.key_results[0], at, zone) == measured


@pytest.mark.parametrize(
    ("period", "zone", "window"),
    [
        pytest.param("2026-Q4", UTC_ZONE, (utc(2026, 7, 1), utc(2026, 10, 1)), id="quarter"),
        pytest.param("2026-01", UTC_ZONE, (utc(2025, 12, 1), utc(2026, 1, 1)), id="month-across-new-year"),
        pytest.param(  # Q3 in Oslo is summer time, UTC+2
            "2026-Q4", OSLO, (utc(2026, 6, 30, 22), utc(2026, 9, 30, 22)), id="oslo-quarter"
        ),
        pytest.param(  # explicit dates: as many days before (10 days: 2026-09-21..2026-09-30)
            {"start": "2026-10-01", "end": "2026-10-10"},
            UTC_ZONE,
            (utc(2026, 9, 21), utc(2026, 10, 1)),
            id="dates",
        ),
    ],
)
def test_baseline_window_is_the_previous_period(
    period: Any, zone: ZoneInfo, window: tuple[datetime, datetime]
) -> None:
    built = objective(
        {"kr": metric(direction="increase_to", start={"baseline": "previous_period"}, target="+20%")}, period
    )
    assert baseline_window(built, zone) == window
    assert needs_baseline(built.key_results[0])


def test_only_a_baseline_start_needs_a_baseline() -> None:
    built = objective(
        {
            "numeric": metric(direction="increase_to", start=0, target=10),
            "threshold": metric(direction="stay_at_or_above", target=10),
            "milestone": milestone("a", "b"),
            "rollup": rollup(),
        }
    )
    assert [needs_baseline(kr) for kr in built.key_results] == [False, False, False, False]


WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("zone", "at", "grace", "is_started", "is_frozen"),
    [
        pytest.param(UTC_ZONE, utc(2026, 10, 31, 23, 59, 59), WEEK, False, False, id="just-before-start"),
        pytest.param(UTC_ZONE, NOV_START, WEEK, True, False, id="at-start-inclusive"),
        pytest.param(UTC_ZONE, utc(2026, 12, 7, 23, 59, 59), WEEK, True, False, id="just-before-freeze"),
        pytest.param(UTC_ZONE, utc(2026, 12, 8), WEEK, True, True, id="at-end-plus-grace-inclusive"),
        pytest.param(UTC_ZONE, NOV_END, timedelta(0), True, True, id="no-grace-frozen-at-end"),
        pytest.param(
            OSLO, utc(2026, 10, 31, 22, 59, 59), WEEK, False, False, id="oslo-before-local-midnight"
        ),
        pytest.param(OSLO, utc(2026, 10, 31, 23), WEEK, True, False, id="oslo-local-midnight"),
        pytest.param(OSLO, utc(2026, 12, 7, 23), WEEK, True, True, id="oslo-frozen"),
    ],
)
def test_started_and_frozen(
    zone: ZoneInfo, at: datetime, grace: timedelta, is_started: bool, is_frozen: bool
) -> None:
    built = objective({"kr": milestone("a")})
    assert (started(built, at, zone), frozen(built, at, zone, grace)) == (is_started, is_frozen)


# --- metric key results --------------------------------------------------------------------------

BASELINE = {"baseline": "previous_period"}


@pytest.mark.parametrize(
    ("fields_", "inputs", "expected"),
    [
        # increase_to from 100 to 200, half the period gone (expected 0.5)
        pytest.param(
            {"direction": "increase_to", "start": 100, "target": 200},
            KeyResultInputs(current=150),
            want(150, 100, 200, 0.5, 0.5, expected=0.5, status=ON_TRACK, grade=RED, falls_short=False),
            id="increase-half-way-on-pace",
        ),
        pytest.param(  # (225 - 100) / 100 = 1.25: clamped to 1.0, kept as attainment
            {"direction": "increase_to", "start": 100, "target": 200},
            KeyResultInputs(current=225),
            want(225, 100, 200, 1.0, 1.25, expected=0.5, status=ACHIEVED, grade=GREEN, falls_short=False),
            id="increase-overshoot",
        ),
        pytest.param(  # (80 - 100) / 100 = -0.2: clamped to 0.0
            {"direction": "increase_to", "start": 100, "target": 200},
            KeyResultInputs(current=80),
            want(80, 100, 200, 0.0, -0.2, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="increase-wrong-way",
        ),
        pytest.param(  # (8 - 10) / (6 - 10) = 0.5
            {"direction": "decrease_to", "start": 10, "target": 6},
            KeyResultInputs(current=8),
            want(8, 10, 6, 0.5, 0.5, expected=0.5, status=ON_TRACK, grade=RED, falls_short=False),
            id="decrease-half-way",
        ),
        pytest.param(  # (12 - 10) / (6 - 10) = -0.5
            {"direction": "decrease_to", "start": 10, "target": 6},
            KeyResultInputs(current=12),
            want(12, 10, 6, 0.0, -0.5, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="decrease-wrong-way",
        ),
        pytest.param(  # target 80 * 1.25 = 100; (90 - 80) / 20 = 0.5
            {"direction": "increase_to", "start": 80, "target": "+25%"},
            KeyResultInputs(current=90),
            want(90, 80, 100, 0.5, 0.5, expected=0.5, status=ON_TRACK, grade=RED, falls_short=False),
            id="given-start-percent-target",
        ),
        pytest.param(  # baseline 100, target 120; (110 - 100) / 20 = 0.5
            {"direction": "increase_to", "start": BASELINE, "target": "+20%"},
            KeyResultInputs(current=110, baseline=100),
            want(110, 100, 120, 0.5, 0.5, expected=0.5, status=ON_TRACK, grade=RED, falls_short=False),
            id="baseline-plus-20-percent",
        ),
        pytest.param(  # baseline 200, target 300; (260 - 200) / 100 = 0.6, ahead of 0.5
            {"direction": "increase_to", "start": BASELINE, "target": "x1.5"},
            KeyResultInputs(current=260, baseline=200),
            want(260, 200, 300, 0.6, 0.6, expected=0.5, status=ON_TRACK, grade=RED, falls_short=False),
            id="baseline-factor",
        ),
        pytest.param(  # baseline 50, target 35; (44 - 50) / (35 - 50) = 0.4; pace 0.4 / 0.5 < 1
            {"direction": "decrease_to", "start": BASELINE, "target": "-30%"},
            KeyResultInputs(current=44, baseline=50),
            want(44, 50, 35, 0.4, 0.4, expected=0.5, status=ON_TRACK, grade=RED, falls_short=True),
            id="baseline-minus-30-percent",
        ),
        pytest.param(  # no previous period's value: no start, so no target and nothing measured
            {"direction": "increase_to", "start": BASELINE, "target": "+20%"},
            KeyResultInputs(current=110, baseline=None),
            want(110, None, None, 0.0, None, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="baseline-missing",
        ),
        pytest.param(  # e.g. the average of no events
            {"direction": "increase_to", "start": 100, "target": 200},
            KeyResultInputs(current=None),
            want(None, 100, 200, 0.0, None, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="current-missing",
        ),
        # a baseline of 0: a relative target resolves to the start, so the key result is reached or not
        pytest.param(
            {"direction": "increase_to", "start": BASELINE, "target": "+20%"},
            KeyResultInputs(current=5, baseline=0),
            want(5, 0, 0, 1.0, None, expected=0.5, status=ACHIEVED, grade=GREEN, falls_short=False),
            id="zero-baseline-increase-reached",
        ),
        pytest.param(  # inclusive: 0 >= 0
            {"direction": "increase_to", "start": BASELINE, "target": "x1.5"},
            KeyResultInputs(current=0, baseline=0),
            want(0, 0, 0, 1.0, None, expected=0.5, status=ACHIEVED, grade=GREEN, falls_short=False),
            id="zero-baseline-increase-at-start",
        ),
        pytest.param(
            {"direction": "decrease_to", "start": BASELINE, "target": "-30%"},
            KeyResultInputs(current=3, baseline=0),
            want(3, 0, 0, 0.0, None, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="zero-baseline-decrease-missed",
        ),
        pytest.param(
            {"direction": "decrease_to", "start": BASELINE, "target": "-30%"},
            KeyResultInputs(current=0, baseline=0),
            want(0, 0, 0, 1.0, None, expected=0.5, status=ACHIEVED, grade=GREEN, falls_short=False),
            id="zero-baseline-decrease-reached",
        ),
    ],
)
def test_metric_key_result(
    fields_: dict[str, Any], inputs: KeyResultInputs, expected: dict[str, Any]
) -> None:
    assert fields(score_one(metric(**fields_), inputs)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("fields_", "baseline", "fell", "rose"),
    [
        # +20% of a negative start raises it by a fifth of its size: target -100 + 20 = -80;
        # -120 scores (-120 + 100) / (-80 + 100) = -1, clamped to 0.0; -80 scores 1.0
        pytest.param(
            {"target": "+20%"}, -100, (0.0, -1.0), (1.0, 1.0), id="negative-baseline-percent-target"
        ),
        # the baseline 150 is already past the target 100: reached or not, no attainment
        pytest.param({"target": 100}, 150, (1.0, None), (1.0, None), id="baseline-past-absolute-target"),
        # x1.5 of -100 is -150, below the start of an increase: reached while at or above -150
        pytest.param({"target": "x1.5"}, -100, (1.0, None), (1.0, None), id="negative-baseline-factor"),
    ],
)
def test_an_increase_from_a_baseline_start_follows_its_direction(
    fields_: dict[str, Any], baseline: float, fell: tuple, rose: tuple
) -> None:
    body = metric(direction="increase_to", start=BASELINE, **fields_)
    down = score_one(body, KeyResultInputs(current=baseline - 20, baseline=baseline))
    up = score_one(body, KeyResultInputs(current=baseline + 20, baseline=baseline))
    assert (down.progress, down.attainment) == pytest.approx(fell)
    assert (up.progress, up.attainment) == pytest.approx(rose)


@pytest.mark.parametrize(
    ("direction", "current", "at", "expected"),
    [
        pytest.param(  # inclusive: exactly the target holds; 0.05 / 0.05
            "stay_at_or_above", 0.05, MID_NOV,
            want(0.05, None, 0.05, 1.0, 1.0, expected=0.5, status=ON_TRACK, grade=GREEN, falls_short=False),
            id="above-at-target",
        ),
        pytest.param(  # 0.04 / 0.05 = 0.8
            "stay_at_or_above", 0.04, MID_NOV,
            want(0.04, None, 0.05, 0.0, 0.8, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="above-missed",
        ),
        pytest.param(  # falls short while it does not hold, even before any pace can be judged (elapsed 0)
            "stay_at_or_above", 0.04, NOV_START,
            want(0.04, None, 0.05, 0.0, 0.8, expected=0.0, status=OFF_TRACK, grade=RED, falls_short=True),
            id="above-missed-at-start",
        ),
        pytest.param(  # the last instant of the period: still only on track
            "stay_at_or_above", 0.06, utc(2026, 11, 30, 23, 59, 59),
            want(0.06, None, 0.05, 1.0, 1.2, status=ON_TRACK, grade=GREEN, falls_short=False),
            id="above-held-before-end",
        ),
        pytest.param(  # achieved once the period has ended holding (its end inclusive); 0.06 / 0.05 = 1.2
            "stay_at_or_above", 0.06, NOV_END,
            want(0.06, None, 0.05, 1.0, 1.2, expected=1.0, status=ACHIEVED, grade=GREEN, falls_short=False),
            id="above-held-at-end",
        ),
        pytest.param(  # inclusive: 0.05 <= 0.05
            "stay_at_or_below", 0.05, MID_NOV,
            want(0.05, None, 0.05, 1.0, 1.0, expected=0.5, status=ON_TRACK, grade=GREEN, falls_short=False),
            id="below-at-target",
        ),
        pytest.param(  # target / current = 0.05 / 0.1 = 0.5
            "stay_at_or_below", 0.1, MID_NOV,
            want(0.1, None, 0.05, 0.0, 0.5, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="below-missed",
        ),
        pytest.param(  # nothing measured: the condition does not hold
            "stay_at_or_below", None, MID_NOV,
            want(None, None, 0.05, 0.0, None, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="below-nothing-measured",
        ),
    ],
)  # fmt: skip
def test_threshold_key_result(
    direction: str, current: float | None, at: datetime, expected: dict[str, Any]
) -> None:
    actual = score_one(metric(direction=direction, target=0.05), KeyResultInputs(current=current), at)
    assert fields(actual, tuple(expected)) == pytest.approx(expected)


STRICT = StatusThresholds(at_risk_gap=0.0, off_track_gap=0.05)


@pytest.mark.parametrize(
    ("at", "current", "thresholds", "status", "grade", "falls_short"),
    [
        # increase_to from 0 to 100 (a level): progress = current / 100, gap = elapsed - progress,
        # pace = progress / elapsed (falls short below 1); committed: yellow from 0.7, green at 1.0
        pytest.param(utc(2026, 11, 7), 10, DEFAULTS, ON_TRACK, RED, True, id="gap-0.1-on-track"),  # 0.2 - 0.1
        pytest.param(utc(2026, 11, 7), 9, DEFAULTS, AT_RISK, RED, True, id="gap-0.11-at-risk"),  # 0.2 - 0.09
        pytest.param(MID_NOV, 25, DEFAULTS, AT_RISK, RED, True, id="gap-0.25-at-risk"),  # 0.5 - 0.25
        pytest.param(MID_NOV, 24, DEFAULTS, OFF_TRACK, RED, True, id="gap-0.26-off-track"),  # 0.5 - 0.24
        pytest.param(MID_NOV, 39, DEFAULTS, AT_RISK, RED, True, id="0.39-red"),
        pytest.param(MID_NOV, 40, DEFAULTS, ON_TRACK, RED, True, id="0.4-red"),
        pytest.param(MID_NOV, 49, DEFAULTS, ON_TRACK, RED, True, id="pace-0.98-falls-short"),
        pytest.param(MID_NOV, 70, DEFAULTS, ON_TRACK, YELLOW, False, id="0.7-yellow"),
        pytest.param(MID_NOV, 100, DEFAULTS, ACHIEVED, GREEN, False, id="1.0-green"),
        pytest.param(NOV_START, 0, DEFAULTS, ON_TRACK, RED, False, id="at-start-nothing-expected"),
        # once the period has ended, the status is the verdict on the grade
        pytest.param(NOV_END, 99, DEFAULTS, PARTIALLY, YELLOW, True, id="ended-partially"),
        pytest.param(NOV_END, 69, DEFAULTS, MISSED, RED, True, id="ended-missed"),
        pytest.param(NOV_END, 100, DEFAULTS, ACHIEVED, GREEN, False, id="ended-achieved"),
        # stricter settings, expected 0.5: at risk beyond a gap of 0.0, off track beyond 0.05
        pytest.param(MID_NOV, 47, STRICT, AT_RISK, RED, True, id="strict-at-risk"),
        pytest.param(MID_NOV, 44, STRICT, OFF_TRACK, RED, True, id="strict-off-track"),
    ],
)
def test_status_grade_and_pace(
    at: datetime,
    current: float,
    thresholds: StatusThresholds,
    status: Status,
    grade: Grade,
    falls_short: bool,
) -> None:
    body = metric(direction="increase_to", start=0, target=100)
    actual = score_one(body, KeyResultInputs(current=current), at, thresholds=thresholds)
    assert (actual.status, actual.grade, actual.falls_short) == (status, grade, falls_short)


@pytest.mark.parametrize(
    ("body", "progress", "status"),
    [
        # an aspirational plan asks for 0.7 x 0.5 = 0.35 by now: gap 0.15
        pytest.param(metric(direction="increase_to", start=0, target=100), 0.2, AT_RISK, id="metric"),
        pytest.param(metric(direction="stay_at_or_above", target=100), 0.0, OFF_TRACK, id="below"),
    ],
)
def test_an_aspirational_key_result_never_falls_short(
    body: dict[str, Any], progress: float, status: Status
) -> None:
    actual = score_one(body, KeyResultInputs(current=20), kind="aspirational")
    assert (actual.progress, actual.status, actual.falls_short) == (progress, status, False)


@pytest.mark.parametrize(
    ("current", "at", "status", "grade"),
    [
        pytest.param(30, MID_NOV, ON_TRACK, RED, id="on-the-aspirational-path"),  # 0.35 asked, gap 0.05
        pytest.param(50, MID_NOV, ON_TRACK, YELLOW, id="yellow-from-0.4"),
        pytest.param(70, MID_NOV, ACHIEVED, GREEN, id="success-at-0.7"),
        pytest.param(70, NOV_END, ACHIEVED, GREEN, id="ended-at-0.7-achieved"),
        pytest.param(50, NOV_END, PARTIALLY, YELLOW, id="ended-at-0.5-partially"),
        pytest.param(30, NOV_END, MISSED, RED, id="ended-at-0.3-missed"),
    ],
)
def test_an_aspirational_key_result_succeeds_at_seven_tenths(
    current: float, at: datetime, status: Status, grade: Grade
) -> None:
    body = metric(direction="increase_to", start=0, target=100)
    actual = score_one(body, KeyResultInputs(current=current), at, kind="aspirational")
    assert (actual.status, actual.grade) == (status, grade)


@pytest.mark.parametrize("kind", ["committed", "aspirational"])
@pytest.mark.parametrize("progress", [i / 20 for i in range(21)])
@pytest.mark.parametrize("at", [NOV_START, utc(2026, 11, 7), MID_NOV, utc(2026, 11, 28), NOV_END])
def test_nothing_green_is_off_track(kind: str, progress: float, at: datetime) -> None:
    """Green means the success point is reached, so it never comes with off track or a miss."""
    body = metric(direction="increase_to", start=0, target=100)
    actual = score_one(body, KeyResultInputs(current=progress * 100), at, kind=kind)
    if actual.grade is GREEN:
        assert actual.status is ACHIEVED
    if actual.status in (OFF_TRACK, MISSED):
        assert actual.grade is not GREEN


# Phases from 100 to 200 over November (UTC): 110 by the end of Nov 9, 170 by the end of Nov 19.
# Points: (Nov 1, 0), (Nov 10 00:00, 0.1), (Nov 20 00:00, 0.7), (Dec 1, 1); straight in between.
PHASED = metric(
    direction="increase_to",
    start=100,
    target=200,
    phases=[{"until": "2026-11-09", "target": 110}, {"until": "2026-11-19", "target": 170}],
)


@pytest.mark.parametrize(
    ("zone", "at", "expected"),
    [
        pytest.param(UTC_ZONE, utc(2026, 10, 20), 0.0, id="before-start"),
        pytest.param(UTC_ZONE, utc(2026, 11, 5, 12), 0.05, id="first-phase-half-way"),  # 0.1 * 4.5/9 days
        pytest.param(UTC_ZONE, utc(2026, 11, 10), 0.1, id="end-of-until-day"),
        pytest.param(UTC_ZONE, utc(2026, 11, 15), 0.4, id="second-phase-half-way"),  # 0.1 + 0.6 * 5/10
        pytest.param(UTC_ZONE, utc(2026, 11, 20), 0.7, id="second-phase-due"),
        pytest.param(UTC_ZONE, utc(2026, 11, 25, 12), 0.85, id="last-stretch"),  # 0.7 + 0.3 * 5.5/11
        pytest.param(UTC_ZONE, NOV_END, 1.0, id="at-end"),
        # Oslo: Nov 9 ends at local midnight, 23:00 UTC, and the period starts Oct 31 23:00 UTC
        pytest.param(OSLO, utc(2026, 11, 9, 23), 0.1, id="oslo-end-of-until-day"),
        pytest.param(OSLO, utc(2026, 11, 5, 11), 0.05, id="oslo-first-phase-half-way"),  # 4.5 days in
    ],
)
def test_expected_progress_follows_the_phases(zone: ZoneInfo, at: datetime, expected: float) -> None:
    assert score_one(PHASED, KeyResultInputs(current=100), at, zone).expected == pytest.approx(expected)


@pytest.mark.parametrize(
    ("baseline", "at", "expected"),
    [
        pytest.param(100, utc(2026, 11, 5, 12), 0.125, id="from-baseline"),  # +5% of +20%: 0.25 * 4.5/9
        pytest.param(None, utc(2026, 11, 13), 0.4, id="no-baseline-elapsed-share"),  # no path: 12/30
        pytest.param(0, utc(2026, 11, 13), 0.4, id="zero-baseline-elapsed-share"),  # target = start: 12/30
    ],
)
def test_relative_phases_resolve_from_the_baseline(
    baseline: float | None, at: datetime, expected: float
) -> None:
    body = metric(
        direction="increase_to",
        start=BASELINE,
        target="+20%",
        phases=[{"until": "2026-11-09", "target": "+5%"}],
    )
    actual = score_one(body, KeyResultInputs(current=100, baseline=baseline), at)
    assert actual.expected == pytest.approx(expected)


@pytest.mark.parametrize(
    ("body", "current", "expected", "status", "falls_short"),
    [
        pytest.param(  # Nov 10: elapsed 0.3, but the phased path asks for 0.1 only, and gets it
            PHASED, 110, 0.1, ON_TRACK, False, id="phased-on-path"
        ),
        pytest.param(  # the same without phases: gap 0.3 - 0.1 = 0.2
            metric(direction="increase_to", start=100, target=200), 110, 0.3, AT_RISK, True, id="unphased"
        ),
        pytest.param(PHASED, 104, 0.1, ON_TRACK, True, id="phased-gap-0.06"),  # 0.1 - 0.04
        pytest.param(PHASED, 140, 0.1, ON_TRACK, False, id="phased-ahead"),  # 0.4 / 0.3 >= 1
    ],
)
def test_status_reads_the_phased_expectation(
    body: dict[str, Any], current: float, expected: float, status: Status, falls_short: bool
) -> None:
    actual = score_one(body, KeyResultInputs(current=current), utc(2026, 11, 10))
    assert fields(actual, ("expected", "status", "falls_short")) == pytest.approx(
        {"expected": expected, "status": status, "falls_short": falls_short}
    )


def test_oslo_period_bounds_and_elapsed_share() -> None:
    """November in Oslo is [Oct 31 23:00, Nov 30 23:00) UTC: half of it is gone at Nov 15 23:00 UTC."""
    body = metric(direction="increase_to", start=0, target=100)
    actual = score_one(body, KeyResultInputs(current=50), utc(2026, 11, 15, 23), OSLO)
    assert (actual.period_start, actual.period_end) == (utc(2026, 10, 31, 23), utc(2026, 11, 30, 23))
    assert (actual.expected, actual.progress, actual.status) == (0.5, 0.5, ON_TRACK)


def test_identity_fields() -> None:
    at = utc(2026, 11, 16, 8, 30)
    actual = score_one(metric(direction="increase_to", start=0, target=100), KeyResultInputs(current=1), at)
    assert (actual.key_result, actual.objective, actual.version, actual.as_of) == ("kr", "sales", 7, at)
    assert (actual.period_start, actual.period_end) == (NOV_START, NOV_END)


# --- milestones and rollups ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "reached", "expected"),
    [
        pytest.param(  # 1/3: gap 0.5 - 0.333 = 0.167
            ("contract", "pilot", "launch"), frozenset({"contract"}),
            want(1, 0, 3, 1 / 3, 1 / 3, expected=0.5, status=AT_RISK, grade=RED, falls_short=True),
            id="one-of-3",
        ),
        pytest.param(  # a check-in of a milestone the key result does not list does not count
            ("contract", "pilot", "launch"), frozenset({"contract", "pilot", "party"}),
            want(2, 0, 3, 2 / 3, 2 / 3, expected=0.5, status=ON_TRACK, grade=RED, falls_short=False),
            id="two-of-3-and-an-unknown",
        ),
        pytest.param(
            ("contract", "pilot", "launch"), frozenset({"contract", "pilot", "launch"}),
            want(3, 0, 3, 1.0, 1.0, expected=0.5, status=ACHIEVED, grade=GREEN, falls_short=False),
            id="all-3",
        ),
        pytest.param(
            ("launch",), frozenset(),
            want(0, 0, 1, 0.0, 0.0, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="binary-not-yet",
        ),
        pytest.param(
            ("launch",), frozenset({"launch"}),
            want(1, 0, 1, 1.0, 1.0, expected=0.5, status=ACHIEVED, grade=GREEN, falls_short=False),
            id="binary-done",
        ),
    ],
)  # fmt: skip
def test_milestone_key_result(
    names: tuple[str, ...], reached: frozenset[str], expected: dict[str, Any]
) -> None:
    assert fields(score_one(milestone(*names), KeyResultInputs(reached=reached))) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(  # (1.0 * 2 + 0.4 * 1) / 3 = 0.8
            ((1.0, 2.0), (0.4, 1.0)),
            want(0.8, 0, 1, 0.8, 0.8, expected=0.5, status=ON_TRACK, grade=YELLOW, falls_short=False),
            id="weighted",
        ),
        pytest.param(  # (0.5 + 0.0) / 2 = 0.25: gap 0.25 exactly
            ((0.5, 1.0), (0.0, 1.0)),
            want(0.25, 0, 1, 0.25, 0.25, expected=0.5, status=AT_RISK, grade=RED, falls_short=True),
            id="equal-weights",
        ),
        pytest.param(
            ((1.0, 1.0), (1.0, 3.0)),
            want(1.0, 0, 1, 1.0, 1.0, expected=0.5, status=ACHIEVED, grade=GREEN, falls_short=False),
            id="all-done",
        ),
        pytest.param(
            (),
            want(0.0, 0, 1, 0.0, 0.0, expected=0.5, status=OFF_TRACK, grade=RED, falls_short=True),
            id="nothing-to-roll-up",
        ),
    ],
)
def test_rollup_key_result(parts: tuple[tuple[float, float], ...], expected: dict[str, Any]) -> None:
    assert fields(score_one(rollup(), KeyResultInputs(parts=parts))) == pytest.approx(expected)


def test_an_unlinked_key_result_is_not_scored() -> None:
    with pytest.raises(ValueError, match="'kr' has no metric, milestone or rollup"):
        score_one({"title": "Be nice"}, KeyResultInputs(current=1))


# --- objectives and periods ----------------------------------------------------------------------

THREE = {  # weights 2, 1, 1
    "a": {**metric(direction="increase_to", start=0, target=100), "weight": 2},
    "b": milestone("x", "y"),
    "c": metric(direction="stay_at_or_above", target=5),
}


KR_SCORE = KeyResultScore(  # only key_result, progress and status matter to an objective
    "a", "sales", 1, MID_NOV, None, None, None, 0.0, None, 0.5, OFF_TRACK, RED, False, NOV_START, NOV_END
)


def kr_score(key_result: str, progress: float, status: Status) -> KeyResultScore:
    return replace(KR_SCORE, key_result=key_result, progress=progress, status=status)


def child(score: float, status: Status) -> ObjectiveScore:
    return ObjectiveScore("team", 1, MID_NOV, score, 0.5, status, RED, False)


@pytest.mark.parametrize(
    ("kind", "at", "scores", "children", "expected"),
    [
        pytest.param(  # (1.0 * 2 + 0.5 + 0.0) / 4 = 0.625; pace 0.625 / 0.5 >= 1
            "committed", MID_NOV,
            [kr_score("a", 1.0, ACHIEVED), kr_score("b", 0.5, ON_TRACK), kr_score("c", 0.0, OFF_TRACK)], [],
            {"score": 0.625, "expected": 0.5, "status": OFF_TRACK, "grade": RED, "falls_short": False},
            id="weighted-mean-weakest-status",
        ),
        pytest.param(  # only what is passed counts: (0.2 * 2 + 0.5) / 3 = 0.3
            "committed", MID_NOV, [kr_score("a", 0.2, AT_RISK), kr_score("b", 0.5, ON_TRACK)], [],
            {"score": 0.3, "expected": 0.5, "status": AT_RISK, "grade": RED, "falls_short": True},
            id="only-scores-passed",
        ),
        pytest.param(  # another objective's key result is left out: 0.8 alone
            "committed", MID_NOV, [kr_score("b", 0.8, ON_TRACK), kr_score("elsewhere", 0.0, OFF_TRACK)], [],
            {"score": 0.8, "expected": 0.5, "status": ON_TRACK, "grade": YELLOW, "falls_short": False},
            id="foreign-key-result-ignored",
        ),
        pytest.param(  # children out of the score (the default): 0.5 alone, but the status passes up
            "committed", MID_NOV, [kr_score("b", 0.5, ON_TRACK)], [(child(0.9, OFF_TRACK), 3.0)],
            {"score": 0.5, "expected": 0.5, "status": OFF_TRACK, "grade": RED, "falls_short": False},
            id="child-status-passes-up",
        ),
        pytest.param(  # a child whose shorter period ended in a miss weighs as off track
            "committed", MID_NOV, [kr_score("b", 0.5, ON_TRACK)], [(child(0.2, MISSED), 1.0)],
            {"score": 0.5, "expected": 0.5, "status": OFF_TRACK, "grade": RED, "falls_short": False},
            id="missed-child-counts-as-off-track",
        ),
        pytest.param(  # aspirational at (1.0 * 2 + 0.4 + 0.0) / 4 = 0.6: short of 0.7, its weakest part rules
            "aspirational", MID_NOV,
            [kr_score("a", 1.0, ACHIEVED), kr_score("b", 0.4, ON_TRACK), kr_score("c", 0.0, OFF_TRACK)], [],
            {"score": 0.6, "expected": 0.5, "status": OFF_TRACK, "grade": YELLOW, "falls_short": False},
            id="aspirational-below-success",
        ),
        pytest.param(  # aspirational at (1.0 * 2 + 0.8 + 0.0) / 4 = 0.7: success, whatever its weakest part
            "aspirational", MID_NOV,
            [kr_score("a", 1.0, ACHIEVED), kr_score("b", 0.8, ON_TRACK), kr_score("c", 0.0, OFF_TRACK)], [],
            {"score": 0.7, "expected": 0.5, "status": ACHIEVED, "grade": GREEN, "falls_short": False},
            id="aspirational-success-at-0.7",
        ),
        pytest.param(  # ended: the verdict on 0.7, for an aspirational objective achieved
            "aspirational", NOV_END,
            [kr_score("a", 1.0, ACHIEVED), kr_score("b", 0.8, ON_TRACK), kr_score("c", 0.0, MISSED)], [],
            {"score": 0.7, "expected": 1.0, "status": ACHIEVED, "grade": GREEN, "falls_short": False},
            id="aspirational-ended-achieved",
        ),
        pytest.param(  # ended: the same 0.7 for a committed objective is a partial achievement
            "committed", NOV_END,
            [kr_score("a", 1.0, ACHIEVED), kr_score("b", 0.8, ON_TRACK), kr_score("c", 0.0, MISSED)], [],
            {"score": 0.7, "expected": 1.0, "status": PARTIALLY, "grade": YELLOW, "falls_short": True},
            id="committed-ended-partially",
        ),
        pytest.param(
            "committed", MID_NOV, [kr_score("a", 1.0, ACHIEVED), kr_score("c", 1.0, ACHIEVED)], [],
            {"score": 1.0, "expected": 0.5, "status": ACHIEVED, "grade": GREEN, "falls_short": False},
            id="all-achieved",
        ),
        pytest.param(  # nothing scored: 0.0, judged on the elapsed share (gap 0.5)
            "committed", MID_NOV, [], [],
            {"score": 0.0, "expected": 0.5, "status": OFF_TRACK, "grade": RED, "falls_short": True},
            id="nothing-scored",
        ),
        pytest.param(
            "committed", NOV_START, [], [],
            {"score": 0.0, "expected": 0.0, "status": ON_TRACK, "grade": RED, "falls_short": False},
            id="nothing-scored-at-start",
        ),
        pytest.param(
            "aspirational", MID_NOV, [kr_score("a", 0.2, AT_RISK), kr_score("b", 0.5, ON_TRACK)], [],
            {"score": 0.3, "expected": 0.5, "status": AT_RISK, "grade": RED, "falls_short": False},
            id="aspirational-never-falls-short",
        ),
    ],
)  # fmt: skip
def test_score_objective(
    kind: str,
    at: datetime,
    scores: list[KeyResultScore],
    children: list[tuple[ObjectiveScore, float]],
    expected: dict[str, Any],
) -> None:
    built = objective(THREE, kind=kind)
    actual = score_objective(built, scores, children, at, UTC_ZONE, 3)
    assert (actual.objective, actual.version, actual.as_of) == ("sales", 3, at)
    assert {k: getattr(actual, k) for k in expected} == pytest.approx(expected)


def test_children_in_the_score() -> None:
    """OKRSTREAM_OKR_OBJECTIVE_INCLUDES_CHILDREN: (0.5 * 1 + 0.9 * 3) / 4 = 0.8, status still the weakest."""
    built = objective(THREE)
    scores, children = [kr_score("b", 0.5, ON_TRACK)], [(child(0.9, AT_RISK), 3.0)]
    actual = score_objective(built, scores, children, MID_NOV, UTC_ZONE, 3, children_in_score=True)
    assert (actual.score, actual.status, actual.grade) == (pytest.approx(0.8), AT_RISK, YELLOW)


@pytest.mark.parametrize(
    ("objectives", "expected"),
    [
        pytest.param([], None, id="no-objectives"),
        pytest.param([(child(0.5, ON_TRACK), 1.0)], 0.5, id="one"),
        pytest.param(  # (1.0 * 3 + 0.2 * 1) / 4
            [(child(1.0, ACHIEVED), 3.0), (child(0.2, OFF_TRACK), 1.0)], 0.8, id="weighted"
        ),
    ],
)
def test_period_score(objectives: list[tuple[ObjectiveScore, float]], expected: float | None) -> None:
    assert period_score(objectives) == pytest.approx(expected)


def test_an_objective_with_nothing_scored_is_judged_by_the_configured_gaps() -> None:
    # nothing scored at 3 days in: progress 0.0, expected 0.1; the default gap 0.1 is on track,
    # the strict gaps (0.0 / 0.05) put a gap of 0.1 off track
    built = objective(THREE)
    three_days = NOV_START + timedelta(days=3)
    assert score_objective(built, [], [], three_days, UTC_ZONE, 1).status is ON_TRACK
    assert score_objective(built, [], [], three_days, UTC_ZONE, 1, STRICT).status is OFF_TRACK
