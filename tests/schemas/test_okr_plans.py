"""Key results mean what their title says all period long: the shipped ones, simulated over a quarter.

Each case feeds the scoring the reading a key result would take if the business ran exactly on its
plan, or 30 % behind it, at every week of 2026-Q4 (UTC), and checks the status and final verdict.
The plan of each is worked out here from the README's rules, not from the code under test:

- revenue-up (a sum over the quarter to date, so cumulative): "20% more revenue than last
  quarter" is 1.2 x the baseline by the end; its phases ask for +4 % over the baseline's pace by
  Oct 31 and +12 % by Nov 30. The planned amount to date runs straight between those points.
- big-deals (a count, cumulative): 10 by the end, straight from 0.
- first-response-down (a median over the quarter to date, a level): from the baseline to 30 %
  below it, straight.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

import schemas
from schemas import (
    EventTypeRegistry,
    KeyResultInputs,
    KpiCatalog,
    OkrCatalog,
    Status,
    reads_cumulative,
    score_key_result,
)

SHIPPED = Path(schemas.__file__).parent
UTC_ZONE = ZoneInfo("UTC")
Q4_START, Q4_END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
DAYS = 92
BASELINE_REVENUE, BASELINE_RESPONSE = 900_000.0, 3_600.0
WEEKS = [Q4_START + timedelta(days=d) for d in range(1, DAYS, 7)]  # Oct 2, Oct 9, ..., Dec 25


def shipped(name: str) -> Any:
    return yaml.safe_load((SHIPPED / name).read_text())


def catalog() -> OkrCatalog:
    registry = EventTypeRegistry.from_mapping(shipped("event_types.yaml"))
    kpis = KpiCatalog.from_mapping(shipped("kpis.yaml"), registry).kpis
    return OkrCatalog.from_mapping(shipped("okrs.yaml"), kpis)


def elapsed(at: datetime) -> float:
    return (at - Q4_START) / (Q4_END - Q4_START)


def along(at: datetime, points: list[tuple[datetime, float]]) -> float:
    """The value on the straight lines through `points` at `at`."""
    for (t0, v0), (t1, v1) in pairwise(points):
        if at <= t1:
            return v0 + (v1 - v0) * ((at - t0) / (t1 - t0))
    return points[-1][1]


def planned_revenue(at: datetime) -> float:
    oct_end, nov_end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    return along(
        at,
        [
            (Q4_START, 0.0),
            (oct_end, 1.04 * BASELINE_REVENUE * 31 / DAYS),  # +4 % over the baseline's first 31 days
            (nov_end, 1.12 * BASELINE_REVENUE * 61 / DAYS),
            (Q4_END, 1.2 * BASELINE_REVENUE),
        ],
    )


def reading(key_result: str, at: datetime, share_of_plan: float) -> KeyResultInputs:
    """What the store would read for the key result at `at`, at `share_of_plan` of its plan."""
    if key_result == "revenue-up":
        return KeyResultInputs(
            current=share_of_plan * planned_revenue(at), baseline=BASELINE_REVENUE, cumulative=True
        )
    if key_result == "big-deals":
        return KeyResultInputs(current=share_of_plan * 10 * elapsed(at), cumulative=True)
    assert key_result == "first-response-down"
    planned_change = -0.3 * BASELINE_RESPONSE * elapsed(at)
    return KeyResultInputs(
        current=BASELINE_RESPONSE + share_of_plan * planned_change, baseline=BASELINE_RESPONSE
    )


def score(key_result: str, at: datetime, share_of_plan: float) -> Any:
    objective, kr = catalog().key_results()[key_result]
    return score_key_result(objective, kr, reading(key_result, at, share_of_plan), at, UTC_ZONE, 1)


def test_which_shipped_key_results_are_cumulative() -> None:
    found = catalog()
    registry = EventTypeRegistry.from_mapping(shipped("event_types.yaml"))
    kpis = KpiCatalog.from_mapping(shipped("kpis.yaml"), registry).kpis
    cumulative = {
        kr_id
        for kr_id, (_, kr) in found.key_results().items()
        if kr.metric and reads_cumulative(kr, kpis[kr.metric.kpi])
    }
    assert cumulative == {"revenue-up", "big-deals"}


@pytest.mark.parametrize("key_result", ["revenue-up", "big-deals", "first-response-down"])
@pytest.mark.parametrize("at", WEEKS, ids=[w.date().isoformat() for w in WEEKS])
def test_on_plan_is_on_track_every_week(key_result: str, at: datetime) -> None:
    actual = score(key_result, at, 1.0)
    assert actual.status is Status.ON_TRACK
    assert actual.progress == pytest.approx(actual.expected)
    assert not actual.falls_short


@pytest.mark.parametrize("key_result", ["revenue-up", "big-deals"])
@pytest.mark.parametrize("at", WEEKS, ids=[w.date().isoformat() for w in WEEKS])
def test_a_cumulative_key_result_30_percent_behind_is_off_track_every_week(
    key_result: str, at: datetime
) -> None:
    actual = score(key_result, at, 0.7)
    assert actual.status is Status.OFF_TRACK
    assert actual.falls_short


@pytest.mark.parametrize("at", WEEKS, ids=[w.date().isoformat() for w in WEEKS])
def test_a_level_key_result_30_percent_behind_is_flagged_once_the_shortfall_is_a_tenth_of_the_move(
    at: datetime,
) -> None:
    """A level is judged in progress units: 30 % behind is a gap of 0.3 x elapsed."""
    actual = score("first-response-down", at, 0.7)
    gap = 0.3 * elapsed(at)
    want = Status.ON_TRACK if gap <= 0.1 else Status.AT_RISK if gap <= 0.25 else Status.OFF_TRACK
    assert actual.status is want
    assert actual.falls_short


@pytest.mark.parametrize(
    ("key_result", "share", "verdict"),
    [
        ("revenue-up", 1.0, Status.ACHIEVED),
        ("revenue-up", 0.7, Status.PARTIALLY_ACHIEVED),  # 0.7 of 1.2 x last quarter
        ("revenue-up", 0.5, Status.MISSED),
        ("big-deals", 1.0, Status.ACHIEVED),
        ("first-response-down", 1.0, Status.ACHIEVED),
        ("first-response-down", 0.7, Status.PARTIALLY_ACHIEVED),
    ],
)
def test_the_quarter_ends_in_a_verdict(key_result: str, share: float, verdict: Status) -> None:
    assert score(key_result, Q4_END, share).status is verdict


def test_revenue_up_reads_from_zero_toward_its_target() -> None:
    """Mid-November on plan: the amount to date against 1.2 x last quarter, not against last quarter."""
    at = datetime(2026, 11, 15, tzinfo=UTC)
    actual = score("revenue-up", at, 1.0)
    assert (actual.start, actual.target) == (0.0, pytest.approx(1_080_000.0))
    # the README's worked example: 480,104 to date on plan, 0.445 of the target, as expected
    assert planned_revenue(at) == pytest.approx(480_104.35, abs=0.01)
    assert (actual.progress, actual.expected) == (
        pytest.approx(0.44454, abs=1e-5),
        pytest.approx(0.44454, abs=1e-5),
    )
    behind = score("revenue-up", at, 0.7)
    assert (behind.value, behind.status) == (pytest.approx(336_073.04, abs=0.01), Status.OFF_TRACK)
