"""The records OKR scoring reads and writes: definition versions and scores, plain data.

They are what the definition topic, the score topic and the ClickHouse history tables carry, so
every part of okrstream (the scorer, `okr status`, the HTTP API) speaks of the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._event import utc_iso
from ._okr_scoring import Grade, Status


@dataclass(frozen=True)
class OkrVersion:
    """One version of one objective's definition, in force from `effective_from` until the next."""

    objective: str
    version: int  # 1, 2, ... per objective
    fingerprint: str
    effective_from: datetime  # UTC
    removed: bool
    definition: str  # the objective as JSON (Objective.model_dump_json); '' when removed
    applied_by: str


@dataclass(frozen=True)
class KeyResultScore:
    """A key result's score at one instant, computed from what had landed by then."""

    key_result: str
    objective: str
    version: int  # the objective definition's version that was scored
    as_of: datetime  # the instant the score describes (UTC)
    value: float | None  # metric: the KPI; milestone: milestones reached; rollup: mean of its parts
    start: float | None
    target: float | None
    progress: float  # 0.0-1.0, the Google-style score
    attainment: float | None  # unclamped: 1.25 is 125 %
    expected: float  # the progress expected by `as_of`: share of the period elapsed, or phased
    status: Status
    grade: Grade
    falls_short: bool  # committed, and behind its plan: it will not reach 1.0 at this pace
    period_start: datetime  # the objective's period [start, end), UTC
    period_end: datetime


@dataclass(frozen=True)
class ObjectiveScore:
    """An objective's score at one instant: the weighted mean of its key results (and children)."""

    objective: str
    version: int
    as_of: datetime
    score: float
    expected: float
    status: Status  # achieved at its success point, else its weakest part; a verdict once ended
    grade: Grade
    falls_short: bool


def key_result_scored_event(
    score: KeyResultScore,
    scored_at: datetime,
    cause: str,
    caused_by: dict[str, object] | None = None,
    scored_by: str = "",
) -> dict[str, object]:
    """The `key_result.scored` event published on the score topic, keyed by key result id.

    `scored_by` names the scorer (host/pid): each id has one owner at a time, which it shows.
    """
    return {
        "type": "key_result.scored",
        "key_result": score.key_result,
        "objective": score.objective,
        "version": score.version,
        "as_of": utc_iso(score.as_of),
        "scored_at": utc_iso(scored_at),
        "cause": cause,
        "value": score.value,
        "start": score.start,
        "target": score.target,
        "progress": score.progress,
        "attainment": score.attainment,
        "expected": score.expected,
        "status": score.status.value,
        "grade": score.grade.value,
        "falls_short": score.falls_short,
        "period": {"start": utc_iso(score.period_start), "end": utc_iso(score.period_end)},
        "caused_by": caused_by or {},
        "scored_by": scored_by,
    }


def objective_scored_event(
    score: ObjectiveScore, scored_at: datetime, cause: str, scored_by: str = ""
) -> dict[str, object]:
    """The `objective.scored` event published on the score topic, keyed by objective id."""
    return {
        "type": "objective.scored",
        "objective": score.objective,
        "version": score.version,
        "as_of": utc_iso(score.as_of),
        "scored_at": utc_iso(scored_at),
        "cause": cause,
        "score": score.score,
        "expected": score.expected,
        "status": score.status.value,
        "grade": score.grade.value,
        "falls_short": score.falls_short,
        "scored_by": scored_by,
    }
