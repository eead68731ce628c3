"""The benchmarks' time windows hold their runs on every date, the awkward ones included.

A benchmark that read the calendar quarter crashed in a quarter's first minute and sent events
outside the objectives' period in a run across a quarter's end; these check the replacements at
fixed instants, not at today's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from benchmarks.key_result_values import window_events
from benchmarks.okr_freshness import run_period
from schemas import Period


@pytest.mark.parametrize("today", [date(2026, 12, 31), date(2027, 1, 1), date(2028, 2, 29)])
def test_the_objectives_period_holds_today_and_tomorrow(today: date) -> None:
    period = Period.model_validate(run_period(today))
    assert period.contains(today - timedelta(days=1))  # today in a zone behind UTC
    assert period.contains(today + timedelta(days=1))  # a run across midnight, or a zone ahead


@pytest.mark.parametrize(
    "now",
    [datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)],
    ids=["first-minute-of-a-quarter", "quarter-start"],
)
def test_key_result_values_has_events_in_a_quarters_first_minute(now: datetime) -> None:
    start, events = window_events(500, now)
    assert start.second == start.microsecond == 0
    assert now - start >= timedelta(days=92)
    times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert len(times) == 500
    assert all(start <= t <= now - timedelta(minutes=1) for t in times)
