"""Calendar periods in a time zone, and readings in context: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from schemas import (
    Grain,
    HealthBand,
    in_context,
    period_start,
    periods,
    previous_period,
    relative_change,
    shift_period,
    year_earlier,
)

OSLO = ZoneInfo("Europe/Oslo")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("at", "grain", "start", "previous", "year_ago"),
    [
        # 2026-03-29 is the day Oslo moves to summer time; the day before starts at 23:00 UTC
        ("2026-03-29T12:00Z", Grain.DAY, "2026-03-28T23:00Z", "2026-03-27T23:00Z", "2025-03-28T23:00Z"),
        # a year earlier is the same local time: 14:00 in Oslo, in winter time then
        ("2026-03-29T12:34:56Z", Grain.HOUR, "2026-03-29T12:00Z", "2026-03-29T11:00Z", "2025-03-29T13:00Z"),
        ("2026-03-29T12:34:56Z", Grain.MINUTE, "2026-03-29T12:34Z", "2026-03-29T12:33Z", "2025-03-29T13:34Z"),
        # weeks start on Monday; a year earlier is 52 weeks back, so it is a Monday too
        ("2026-01-01T10:00Z", Grain.WEEK, "2025-12-28T23:00Z", "2025-12-21T23:00Z", "2024-12-29T23:00Z"),
        ("2026-10-25T01:30Z", Grain.MONTH, "2026-09-30T22:00Z", "2026-08-31T22:00Z", "2025-09-30T22:00Z"),
        ("2026-01-15T00:00Z", Grain.QUARTER, "2025-12-31T23:00Z", "2025-09-30T22:00Z", "2024-12-31T23:00Z"),
        ("2026-06-01T00:00Z", Grain.YEAR, "2025-12-31T23:00Z", "2024-12-31T23:00Z", "2024-12-31T23:00Z"),
        # 29 February: the same day a year earlier is the 28th
        ("2028-02-29T12:00Z", Grain.DAY, "2028-02-28T23:00Z", "2028-02-27T23:00Z", "2027-02-27T23:00Z"),
    ],
)
def test_periods_in_oslo(at: str, grain: Grain, start: str, previous: str, year_ago: str) -> None:
    begun = period_start(utc(at), grain, OSLO)
    assert begun == utc(start)
    assert previous_period(begun, grain, OSLO) == utc(previous)
    assert year_earlier(begun, grain, OSLO) == utc(year_ago)


def test_relative_change() -> None:
    assert relative_change(125.0, 100.0) == 0.25
    assert relative_change(-50.0, -100.0) == 0.5  # from -100 up to -50 is a rise
    assert relative_change(1.0, 0.0) is None and relative_change(None, 1.0) is None
    assert relative_change(1.0, None) is None


def test_readings_in_context_find_earlier_periods_per_group_and_judge_their_own_grain() -> None:
    oct1, sep1, oct1_last = utc("2026-09-30T22:00Z"), utc("2026-08-31T22:00Z"), utc("2025-09-30T22:00Z")
    eu, na = (("region", "EU"),), (("region", "NA"),)
    earlier = {(sep1, eu): 80.0, (oct1_last, eu): 50.0, (sep1, na): 10.0}
    band = HealthBand(at_or_above=90, grain=Grain.MONTH)
    points = [(oct1, {"region": "EU"}, 100.0), (oct1, {"region": "NA"}, None)]
    eu_reading, na_reading = in_context(points, earlier, Grain.MONTH, OSLO, band)
    assert (eu_reading.previous, eu_reading.year_ago, eu_reading.healthy) == (80.0, 50.0, True)
    assert (eu_reading.change, eu_reading.year_change) == (0.25, 1.0)
    assert (na_reading.previous, na_reading.year_ago, na_reading.healthy) == (10.0, None, None)
    weekly = in_context(points, earlier, Grain.WEEK, OSLO, band)
    assert [r.healthy for r in weekly] == [None, None]  # a monthly band does not judge weeks


def test_periods_cover_a_window_from_the_period_holding_its_start() -> None:
    months = periods(utc("2026-09-15T00:00Z"), utc("2026-11-30T23:00Z"), Grain.MONTH, OSLO)  # to 1 Dec
    assert months == [utc("2026-08-31T22:00Z"), utc("2026-09-30T22:00Z"), utc("2026-10-31T23:00Z")]
    hours = periods(utc("2026-10-25T00:30Z"), utc("2026-10-25T02:00Z"), Grain.HOUR, OSLO)
    assert hours == [utc("2026-10-25T00:00Z"), utc("2026-10-25T01:00Z")]  # 02:00 twice in Oslo, both kept
    assert shift_period(utc("2026-10-31T23:00Z"), Grain.QUARTER, OSLO, 1) == utc("2027-01-31T23:00Z")


def test_missing_periods_read_as_empty_and_unfinished_periods_are_not_judged() -> None:
    oct1, sep1 = utc("2026-09-30T22:00Z"), utc("2026-08-31T22:00Z")
    band = HealthBand(at_or_above=5, grain=Grain.MONTH)
    points = [(sep1, {}, 3.0), (oct1, {}, 9.0)]
    early, late = in_context(points, {}, Grain.MONTH, OSLO, band, empty=0.0, now=utc("2026-10-15T00:00Z"))
    assert (early.previous, early.year_ago, early.healthy) == (0.0, 0.0, False)
    assert late.healthy is None  # October has not ended on the 15th
