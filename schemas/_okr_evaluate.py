"""A key result's or an objective's score at one instant, from the numbers read for it: pure.

The store answers "what is the KPI over this window" (see `measured_window`); everything else,
start, target, expected progress, status and grade, is decided here, by the formulas in
`_okr_scoring` and the README, so the live scorer and an "as of" recomputation cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from ._kpi import KpiDefinition
from ._kpi_periods import _midnight
from ._okr import KeyResult, KeyResultKind, Objective, ObjectiveKind, StartFromBaseline
from ._okr_records import KeyResultScore, ObjectiveScore
from ._okr_scoring import (
    ASPIRATIONAL_SUCCESS,
    COMMITTED_SUCCESS,
    Direction,
    Score,
    Status,
    StatusThresholds,
    elapsed_share,
    falls_short,
    grade,
    reached,
    score,
    status,
    verdict,
    weakest,
    weighted_score,
)
from ._okr_scoring import THRESHOLD_DIRECTIONS as _THRESHOLDS

_DEFAULT_THRESHOLDS = StatusThresholds()


@dataclass(frozen=True)
class KeyResultInputs:
    """What the store said: the KPI's value (and its baseline), milestones reached, or the parts."""

    current: float | None = None
    baseline: float | None = None  # the KPI over the period before, for a start taken from it
    cumulative: bool = False  # `current` accumulates from 0 over the period (see reads_cumulative)
    reached: frozenset[str] = frozenset()
    parts: tuple[tuple[float, float], ...] = field(default=())  # rollup: (progress, weight) of each
    statuses: tuple[Status, ...] = field(default=())  # rollup: the status of each part


def reads_cumulative(kr: KeyResult, kpi: KpiDefinition) -> bool:
    """A key result reading a count or sum over its period to date: its value starts at 0.

    Such a key result ("20% more revenue than last quarter") runs from 0 to its target, which a
    baseline or start only sizes; every other reading is a level that moves from start to target.
    """
    return (
        kr.metric is not None
        and kr.metric.window.trailing is None
        and kr.metric.direction is Direction.INCREASE_TO
        and kpi.accumulates
    )


def success_point(objective: Objective) -> float:
    """The progress that counts as success: 1.0 committed, 0.7 aspirational."""
    return COMMITTED_SUCCESS if objective.kind is ObjectiveKind.COMMITTED else ASPIRATIONAL_SUCCESS


def measured_window(
    objective: Objective, kr: KeyResult, at: datetime, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    """The events a metric key result reads at `at`: its period to date, or a trailing window.

    Both end at `at`, or at the period's end once it has passed; a trailing window ending
    before the period does not reach back before `at - window` either.
    """
    start, end = objective.period.bounds(zone)
    stop = max(start, min(at, end))
    assert kr.metric is not None
    trailing = kr.metric.window.trailing
    return (stop - trailing, stop) if trailing is not None else (start, stop)


def baseline_window(objective: Objective, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period before the objective's, whose KPI value a `start: {baseline: ...}` takes."""
    return objective.period.previous().bounds(zone)


def needs_baseline(kr: KeyResult) -> bool:
    return kr.metric is not None and isinstance(kr.metric.start, StartFromBaseline)


def started(objective: Objective, at: datetime, zone: ZoneInfo) -> bool:
    return at >= objective.period.bounds(zone)[0]


def ended(objective: Objective, at: datetime, zone: ZoneInfo) -> bool:
    """Whether the period is over: its scores are verdicts from then on."""
    return at >= objective.period.bounds(zone)[1]


def frozen(objective: Objective, at: datetime, zone: ZoneInfo, grace: timedelta) -> bool:
    """A closed period's scores stop changing `grace` after its end: late events no longer count."""
    return at >= objective.period.bounds(zone)[1] + grace


def score_key_result(
    objective: Objective,
    kr: KeyResult,
    inputs: KeyResultInputs,
    at: datetime,
    zone: ZoneInfo,
    version: int,
    thresholds: StatusThresholds = _DEFAULT_THRESHOLDS,
) -> KeyResultScore:
    """Score a linked key result at `at` (an unlinked one is not scored: see KeyResultKind)."""
    period_start, period_end = objective.period.bounds(zone)
    elapsed = elapsed_share(at.timestamp(), period_start.timestamp(), period_end.timestamp())
    success = success_point(objective)
    kind = kr.kind
    if kind is KeyResultKind.METRIC:
        value, start, target, result, expected, state = _metric(
            objective, kr, inputs, at, zone, elapsed, thresholds, success
        )
    elif kind is KeyResultKind.MILESTONE:
        assert kr.milestone is not None
        total = len(kr.milestone.milestones)
        value, start, target = float(len(inputs.reached & set(kr.milestone.milestones))), 0.0, float(total)
        result = Score(value / total, value / total)
        expected, state = elapsed, status(result.progress, elapsed, thresholds, success)
    elif kind is KeyResultKind.ROLLUP:
        progress = weighted_score(inputs.parts) if inputs.parts else 0.0
        value, start, target, result = progress, 0.0, 1.0, Score(progress, progress)
        expected, state = elapsed, status(progress, elapsed, thresholds, success)
        if state is not Status.ACHIEVED and inputs.statuses:
            # a rollup is no better off than the weakest of what it reads
            state = weakest([state, *(s.in_flight() for s in inputs.statuses)])
    else:
        raise ValueError(f"key result {kr.id!r} has no metric, milestone or rollup: it is not scored")
    if ended(objective, at, zone):
        state = verdict(result.progress, success)
    threshold = _is_threshold(kr)
    short = objective.kind is ObjectiveKind.COMMITTED and (
        result.progress < 1.0 if threshold else falls_short(result.progress, expected)
    )
    return KeyResultScore(
        key_result=kr.id,
        objective=objective.id,
        version=version,
        as_of=at,
        value=value,
        start=start,
        target=target,
        progress=result.progress,
        attainment=result.attainment,
        expected=expected,
        status=state,
        grade=grade(result.progress, success),
        falls_short=short,
        period_start=period_start,
        period_end=period_end,
    )


def _is_threshold(kr: KeyResult) -> bool:
    return kr.metric is not None and kr.metric.direction in _THRESHOLDS


def _metric(
    objective: Objective,
    kr: KeyResult,
    inputs: KeyResultInputs,
    at: datetime,
    zone: ZoneInfo,
    elapsed: float,
    thresholds: StatusThresholds,
    success: float,
) -> tuple[float | None, float | None, float | None, Score, float, Status]:
    """(value, start, target, score, expected, status) of a metric key result.

    A cumulative reading runs from 0 to its target (the start, or baseline, sizes a relative
    target); a level reading moves from its start to its target.
    """
    metric = kr.metric
    assert metric is not None
    current = inputs.current
    if metric.direction in _THRESHOLDS:
        target = metric.target.resolve(None)
        assert target is not None  # thresholds take absolute targets
        result = score(metric.direction, current, 0.0, target) if current is not None else Score(0.0, None)
        state = Status.ON_TRACK if result.progress >= 1.0 else Status.OFF_TRACK
        return current, None, target, result, elapsed, state
    reference = inputs.baseline if isinstance(metric.start, StartFromBaseline) else metric.start
    target = metric.target.resolve(reference)
    cumulative = inputs.cumulative and metric.direction is Direction.INCREASE_TO
    start = 0.0 if cumulative and reference is not None else reference
    expected = _expected(objective, kr, at, zone, start, target, reference, elapsed, cumulative)
    if current is None or start is None or target is None:
        result = Score(0.0, None)  # nothing to measure yet, or no baseline to measure from
    elif not _beyond(metric.direction, target, start):
        # a baseline of 0 with a relative target, or a baseline already past the target: there is
        # no way to go, so the key result is reached or not
        met = current >= target if metric.direction is Direction.INCREASE_TO else current <= target
        result = Score(1.0 if met else 0.0, None)
    else:
        result = score(metric.direction, current, start, target)
    state = status(result.progress, expected, thresholds, success, pace=cumulative)
    return current, start, target, result, expected, state


def _beyond(direction: Direction, target: float, start: float) -> bool:
    """Whether the target lies past the start in the key result's direction."""
    return target > start if direction is Direction.INCREASE_TO else target < start


def _expected(
    objective: Objective,
    kr: KeyResult,
    at: datetime,
    zone: ZoneInfo,
    start: float | None,
    target: float | None,
    reference: float | None,
    elapsed: float,
    cumulative: bool,
) -> float:
    """The share of the period elapsed, or, with phases, the phased targets' path at `at`.

    Phases are points on the way: (period start, 0), (end of each `until` day, that phase's
    progress), (period end, 1); the expected progress runs straight between them. A relative
    phase target of a cumulative key result is a pace: `+4%` by the 31st means 4 % above the
    baseline's amount for the share of the period gone by then.
    """
    assert kr.metric is not None
    phases = kr.metric.phases
    if not phases or start is None or target is None or not _beyond(kr.metric.direction, target, start):
        return elapsed
    period_start, period_end = objective.period.bounds(zone)
    points = [(period_start, 0.0)]
    for phase in phases:
        due = _end_of_day(phase.until, zone)
        planned = phase.target.resolve(reference)
        if planned is not None and cumulative and phase.target.relative:
            planned *= elapsed_share(due.timestamp(), period_start.timestamp(), period_end.timestamp())
        points.append((due, 0.0 if planned is None else (planned - start) / (target - start)))
    points.append((period_end, 1.0))
    if at <= period_start:
        return 0.0
    for (t0, p0), (t1, p1) in pairwise(points):
        if at < t1:
            share = (at - t0) / (t1 - t0) if t1 > t0 else 1.0
            return p0 + (p1 - p0) * share
    return 1.0


def _end_of_day(day: date, zone: ZoneInfo) -> datetime:
    return _midnight(day + timedelta(days=1), zone)


def score_objective(
    objective: Objective,
    key_results: Iterable[KeyResultScore],
    children: Iterable[tuple[ObjectiveScore, float]],
    at: datetime,
    zone: ZoneInfo,
    version: int,
    thresholds: StatusThresholds = _DEFAULT_THRESHOLDS,
    children_in_score: bool = False,
) -> ObjectiveScore:
    """The weighted mean of its key results' progress (and, when asked, child objectives' scores).

    Status passes up the tree: an objective that has not reached its success point is no better
    off than its weakest key result or child objective (a child's final verdict counts as the
    forecast it ended as: missed as off track). Once the period has ended, the status is the
    verdict on the score. An objective with nothing scored yet scores 0.0, off track once due.
    """
    weights = {kr.id: kr.weight for kr in objective.key_results}
    scored = [s for s in key_results if s.key_result in weights]
    kids = list(children)
    parts = [(s.progress, weights[s.key_result]) for s in scored]
    if children_in_score:
        parts += [(c.score, w) for c, w in kids]
    period_start, period_end = objective.period.bounds(zone)
    elapsed = elapsed_share(at.timestamp(), period_start.timestamp(), period_end.timestamp())
    success = success_point(objective)
    value = weighted_score(parts) if parts else 0.0
    statuses = [s.status.in_flight() for s in scored] + [c.status.in_flight() for c, _ in kids]
    if ended(objective, at, zone):
        state = verdict(value, success)
    elif parts and reached(value, success):
        state = Status.ACHIEVED
    else:
        state = weakest(statuses) if statuses else status(0.0, elapsed, thresholds, success)
    return ObjectiveScore(
        objective=objective.id,
        version=version,
        as_of=at,
        score=value,
        expected=elapsed,
        status=state,
        grade=grade(value, success),
        falls_short=objective.kind is ObjectiveKind.COMMITTED and falls_short(value, elapsed),
    )


def period_score(objectives: Iterable[tuple[ObjectiveScore, float]]) -> float | None:
    """A period's score: the weighted mean of its top-level objectives' scores; None without any."""
    parts = [(s.score, w) for s, w in objectives]
    return weighted_score(parts) if parts else None
