"""How key results and objectives are scored: pure functions, the formulas the README states.

progress    = (current - start) / (target - start), clamped to 0.0-1.0 (the Google-style score);
              the unclamped value is the attainment (1.25 is 125 %: information, not an error).
threshold   = a stay_at_or_above / stay_at_or_below key result scores 1.0 while the condition
              holds (inclusive: exactly the target holds), else 0.0; its attainment is
              current / target (at or above) or target / current (at or below).
expected    = the share of the period elapsed, or the phased target's share where phases are set.
success     = the progress that counts as success: 1.0 for a committed objective's key results,
              0.7 for an aspirational one's (Google's practice).
status      = achieved when progress reaches success; else from how far progress trails the plan
              toward success (success x expected): on_track when the gap is at most at_risk_gap,
              at_risk when at most off_track_gap, else off_track. The gap is in progress units
              for a level reading, and a share of the plan (a pace) for a cumulative one.
verdict     = once the period has ended: achieved (green), partially_achieved (yellow) or missed (red).
grade       = green from success, yellow from success - 0.3, else red: committed 1.0 / 0.7,
              aspirational 0.7 / 0.4 (Google's 0.7-1.0 / 0.4-0.6 / 0.0-0.3 bands).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    INCREASE_TO = "increase_to"
    DECREASE_TO = "decrease_to"
    STAY_AT_OR_ABOVE = "stay_at_or_above"
    STAY_AT_OR_BELOW = "stay_at_or_below"


class Status(StrEnum):
    """Ordered from weakest to strongest: an objective takes its weakest part's.

    On track, at risk and off track describe a period under way; missed and partially achieved
    are verdicts on one that has ended (achieved is both).
    """

    MISSED = "missed"
    OFF_TRACK = "off_track"
    PARTIALLY_ACHIEVED = "partially_achieved"
    AT_RISK = "at_risk"
    ON_TRACK = "on_track"
    ACHIEVED = "achieved"

    @property
    def final(self) -> bool:
        """A verdict on an ended period rather than a forecast."""
        return self in (Status.MISSED, Status.PARTIALLY_ACHIEVED)

    def in_flight(self) -> Status:
        """How an ended part weighs on a whole still under way: a miss as off track, and so on."""
        return {Status.MISSED: Status.OFF_TRACK, Status.PARTIALLY_ACHIEVED: Status.AT_RISK}.get(self, self)


class Grade(StrEnum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"


_ORDER = list(Status)


@dataclass(frozen=True)
class StatusThresholds:
    """How far progress may trail the expected progress before a key result is at risk or off track."""

    at_risk_gap: float = 0.1
    off_track_gap: float = 0.25


COMMITTED_SUCCESS = 1.0  # committed OKRs are met in full
ASPIRATIONAL_SUCCESS = 0.7  # aspirational OKRs succeed at 0.7: they are set out of reach on purpose
_YELLOW_BAND = 0.3  # yellow: within this much below success

# directions that hold or not, rather than move from a start to a target
THRESHOLD_DIRECTIONS = frozenset({Direction.STAY_AT_OR_ABOVE, Direction.STAY_AT_OR_BELOW})


@dataclass(frozen=True)
class Score:
    progress: float  # 0.0-1.0
    attainment: float | None  # unclamped; None when there is nothing to compare


def score(direction: Direction, current: float, start: float, target: float) -> Score:
    """A metric key result's score. Definitions guarantee target != start for increase/decrease."""
    if direction is Direction.STAY_AT_OR_ABOVE:
        held = current >= target
        return Score(1.0 if held else 0.0, current / target if target else float(held))
    if direction is Direction.STAY_AT_OR_BELOW:
        held = current <= target
        return Score(1.0 if held else 0.0, target / current if current else float(held))
    attainment = (current - start) / (target - start)
    return Score(min(1.0, max(0.0, attainment)), attainment)


def elapsed_share(now: float, start: float, end: float) -> float:
    """The share of [start, end) gone at `now` (any one time unit, e.g. POSIX seconds), 0.0-1.0."""
    return min(1.0, max(0.0, (now - start) / (end - start)))


def status(
    progress: float,
    expected: float,
    thresholds: StatusThresholds = StatusThresholds(),
    success: float = COMMITTED_SUCCESS,
    pace: bool = False,
) -> Status:
    """Where progress stands against the plan toward `success` (`expected` of the way by now).

    `pace` measures the gap as a share of the plan: a cumulative reading (revenue to date) 30 %
    short of its planned amount is as far off on day 10 as on day 80. A level reading (a rate,
    an average) is judged in progress units instead, so its day-to-day noise early in a period,
    when little change is planned yet, does not raise alarms.
    """
    if reached(progress, success):
        return Status.ACHIEVED
    planned = success * expected
    gap = planned - progress
    if pace:
        gap = gap / planned if planned > 0 else 0.0
    if gap <= thresholds.at_risk_gap:
        return Status.ON_TRACK
    return Status.AT_RISK if gap <= thresholds.off_track_gap else Status.OFF_TRACK


def reached(progress: float, success: float = COMMITTED_SUCCESS) -> bool:
    """Whether progress is at the success point (0.7 as a float product may fall a hair short)."""
    return progress >= success - 1e-9


def verdict(progress: float, success: float = COMMITTED_SUCCESS) -> Status:
    """The final word on an ended period, from its grade: achieved, partially achieved or missed."""
    return {
        Grade.GREEN: Status.ACHIEVED,
        Grade.YELLOW: Status.PARTIALLY_ACHIEVED,
        Grade.RED: Status.MISSED,
    }[grade(progress, success)]


def weakest(statuses: Iterable[Status]) -> Status:
    return min(statuses, key=_ORDER.index)


def weighted_score(parts: Iterable[tuple[float, float]]) -> float:
    """The weighted mean of (score, weight) pairs; weights are positive by definition."""
    pairs = list(parts)
    return sum(s * w for s, w in pairs) / sum(w for _, w in pairs)


def grade(value: float, success: float = COMMITTED_SUCCESS) -> Grade:
    """Green from the success point, yellow within 0.3 below it, red below that.

    Green therefore means success reached, so nothing green is ever off track.
    """
    if reached(value, success):
        return Grade.GREEN
    return Grade.YELLOW if value >= success - _YELLOW_BAND - 1e-9 else Grade.RED


def falls_short(progress: float, expected: float) -> bool:
    """A committed key result behind its plan: at this pace it will not reach 1.0 in time."""
    if progress >= 1.0:
        return False
    return expected > 0 and progress / expected < 1.0 - 1e-9  # exactly on plan is not short
