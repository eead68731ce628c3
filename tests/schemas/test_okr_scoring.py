"""Key-result and objective scoring: the README's formulas, case by case."""

from __future__ import annotations

import pytest

from schemas import (
    Direction,
    Grade,
    Score,
    Status,
    StatusThresholds,
    elapsed_share,
    falls_short,
    grade,
    score,
    status,
    verdict,
    weakest,
    weighted_score,
)


@pytest.mark.parametrize(
    ("direction", "current", "start", "target", "expected"),
    [
        (Direction.INCREASE_TO, 110.0, 100.0, 120.0, Score(0.5, 0.5)),  # +20 % revenue, half way
        (Direction.INCREASE_TO, 125.0, 100.0, 120.0, Score(1.0, 1.25)),  # overshoot kept as attainment
        (Direction.INCREASE_TO, 90.0, 100.0, 120.0, Score(0.0, -0.5)),  # went the wrong way
        (Direction.DECREASE_TO, 8.0, 10.0, 7.0, Score(2 / 3, 2 / 3)),  # response time 10 h -> 7 h
        (Direction.DECREASE_TO, 12.0, 10.0, 7.0, Score(0.0, -2 / 3)),
        (Direction.STAY_AT_OR_ABOVE, 0.95, 0.0, 0.95, Score(1.0, 1.0)),  # inclusive
        (Direction.STAY_AT_OR_ABOVE, 0.9, 0.0, 0.95, Score(0.0, 0.9 / 0.95)),
        (Direction.STAY_AT_OR_BELOW, 2.0, 0.0, 2.0, Score(1.0, 1.0)),  # inclusive
        (Direction.STAY_AT_OR_BELOW, 4.0, 0.0, 2.0, Score(0.0, 0.5)),
    ],
)
def test_score(direction: Direction, current: float, start: float, target: float, expected: Score) -> None:
    actual = score(direction, current, start, target)
    assert actual.progress == pytest.approx(expected.progress)
    assert actual.attainment == pytest.approx(expected.attainment)


@pytest.mark.parametrize(
    ("progress", "expected", "verdict"),
    [
        (1.0, 0.2, Status.ACHIEVED),
        (0.5, 0.6, Status.ON_TRACK),  # gap 0.1: still on track (inclusive)
        (0.45, 0.6, Status.AT_RISK),
        (0.35, 0.6, Status.AT_RISK),  # gap 0.25
        (0.3, 0.6, Status.OFF_TRACK),
        (0.7, 0.5, Status.ON_TRACK),  # ahead of plan
    ],
)
def test_status_from_the_gap(progress: float, expected: float, verdict: Status) -> None:
    assert status(progress, expected) is verdict


def test_status_thresholds_are_a_setting() -> None:
    strict = StatusThresholds(at_risk_gap=0.0, off_track_gap=0.05)
    assert status(0.5, 0.52, strict) is Status.AT_RISK
    assert status(0.5, 0.6, strict) is Status.OFF_TRACK


def test_objective_score_status_and_grade() -> None:
    assert weighted_score([(1.0, 1.0), (0.5, 1.0), (0.0, 2.0)]) == pytest.approx(0.375)
    assert weakest([Status.ACHIEVED, Status.AT_RISK, Status.ON_TRACK]) is Status.AT_RISK
    # committed: green only at 1.0, yellow from 0.7
    assert [grade(v) for v in (0.0, 0.4, 0.69, 0.7, 0.99, 1.0)] == [
        Grade.RED,
        Grade.RED,
        Grade.RED,
        Grade.YELLOW,
        Grade.YELLOW,
        Grade.GREEN,
    ]
    # aspirational: Google's bands, green from 0.7, yellow from 0.4
    assert [grade(v, 0.7) for v in (0.0, 0.39, 0.4, 0.69, 0.7, 1.0)] == [
        Grade.RED,
        Grade.RED,
        Grade.YELLOW,
        Grade.YELLOW,
        Grade.GREEN,
        Grade.GREEN,
    ]
    assert grade(0.1 * 7, 0.7) is Grade.GREEN  # 0.7000000000000001 and 0.6999999999999999 alike


@pytest.mark.parametrize(
    ("progress", "success", "final"),
    [
        (1.0, 1.0, Status.ACHIEVED),
        (0.8, 1.0, Status.PARTIALLY_ACHIEVED),
        (0.6, 1.0, Status.MISSED),
        (0.7, 0.7, Status.ACHIEVED),  # an aspirational OKR at 0.7 has succeeded
        (0.5, 0.7, Status.PARTIALLY_ACHIEVED),
        (0.3, 0.7, Status.MISSED),
    ],
)
def test_verdict_follows_the_grade(progress: float, success: float, final: Status) -> None:
    assert verdict(progress, success) is final
    assert final.final is (final is not Status.ACHIEVED)


def test_aspirational_status_aims_at_seven_tenths() -> None:
    # half way through, an aspirational plan asks for 0.35: 0.3 is on track, 0.2 at risk (gap 0.15)
    assert status(0.3, 0.5, success=0.7) is Status.ON_TRACK
    assert status(0.2, 0.5, success=0.7) is Status.AT_RISK
    assert status(0.7, 0.5, success=0.7) is Status.ACHIEVED
    assert status(0.7, 0.5) is Status.ON_TRACK  # committed: 0.7 is not yet success


@pytest.mark.parametrize("expected", [0.1, 0.3, 0.6, 0.9])
def test_a_pace_gap_is_a_share_of_the_plan(expected: float) -> None:
    """Cumulative readings: 30 % behind plan is off track at any point, 5 % behind is on track."""
    assert status(0.7 * expected, expected, pace=True) is Status.OFF_TRACK
    assert status(0.8 * expected, expected, pace=True) is Status.AT_RISK
    assert status(0.95 * expected, expected, pace=True) is Status.ON_TRACK
    assert status(0.0, 0.0, pace=True) is Status.ON_TRACK  # nothing planned yet


def test_a_final_verdict_weighs_on_a_whole_under_way_as_its_forecast() -> None:
    assert Status.MISSED.in_flight() is Status.OFF_TRACK
    assert Status.PARTIALLY_ACHIEVED.in_flight() is Status.AT_RISK
    assert Status.ON_TRACK.in_flight() is Status.ON_TRACK


def test_elapsed_share_and_pace() -> None:
    assert elapsed_share(50, 0, 200) == 0.25
    assert elapsed_share(-5, 0, 200) == 0.0 and elapsed_share(500, 0, 200) == 1.0
    assert falls_short(progress=0.2, expected=0.25)  # 80 % of the pace a committed OKR needs
    assert not falls_short(progress=0.3, expected=0.25)
    assert not falls_short(progress=0.0, expected=0.0)  # nothing to judge before the period starts
