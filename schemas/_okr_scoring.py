"""How key results and objectives are scored: pure functions, the formulas the README states.

progress    = (current - start) / (target - start), clamped to 0.0-1.0 (the Google-style score);
              the unclamped value is the attainment (1.25 is 125 %: information, not an error).
threshold   = a stay_at_or_above / stay_at_or_below key result scores 1.0 while the condition
              holds (inclusive: exactly the target holds), else 0.0; its attainment is
              current / target (at or above) or target / current (at or below).
expected    = the share of the period elapsed, or the phased target's share where phases are set.
status      = achieved when progress reaches 1.0; else from gap = expected - progress:
              on_track when gap <= at_risk_gap, at_risk when gap <= off_track_gap, else off_track.
objective   = weighted mean of its key results' scores; its status is its weakest key result's.
grade       = red below 0.4, yellow below 0.7, green from 0.7 (the 0.0-0.3 / 0.4-0.6 / 0.7-1.0 bands).
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
    """Ordered from weakest to strongest: an objective takes its weakest key result's."""

    OFF_TRACK = "off_track"
    AT_RISK = "at_risk"
    ON_TRACK = "on_track"
    ACHIEVED = "achieved"


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


def status(progress: float, expected: float, thresholds: StatusThresholds = StatusThresholds()) -> Status:
    if progress >= 1.0:
        return Status.ACHIEVED
    gap = expected - progress
    if gap <= thresholds.at_risk_gap:
        return Status.ON_TRACK
    return Status.AT_RISK if gap <= thresholds.off_track_gap else Status.OFF_TRACK


def weakest(statuses: Iterable[Status]) -> Status:
    return min(statuses, key=_ORDER.index)


def weighted_score(parts: Iterable[tuple[float, float]]) -> float:
    """The weighted mean of (score, weight) pairs; weights are positive by definition."""
    pairs = list(parts)
    return sum(s * w for s, w in pairs) / sum(w for _, w in pairs)


def grade(value: float) -> Grade:
    return Grade.RED if value < 0.4 else Grade.YELLOW if value < 0.7 else Grade.GREEN


def falls_short(progress: float, elapsed: float) -> bool:
    """A committed key result will not reach 1.0 at its current pace (progress per time elapsed)."""
    if progress >= 1.0:
        return False
    return elapsed > 0 and progress / elapsed < 1.0
