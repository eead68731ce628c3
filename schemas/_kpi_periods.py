"""Calendar periods in a time zone, and a KPI's value read beside the periods it is compared with.

A value means little alone: each reading carries the period before it, the same period a year
earlier, and the health band's verdict. Pure functions; the numbers come from the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ._kpi import Grain, HealthBand

_FIXED = {Grain.MINUTE: timedelta(minutes=1), Grain.HOUR: timedelta(hours=1)}
_MONTHS = {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.YEAR: 12}


def period_start(at: datetime, grain: Grain, zone: ZoneInfo) -> datetime:
    """The start (UTC) of the period holding `at`: local midnight for days and longer, Monday weeks."""
    local = at.astimezone(zone)
    if grain is Grain.MINUTE:
        return local.replace(second=0, microsecond=0).astimezone(UTC)
    if grain is Grain.HOUR:
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    day = local.date()
    if grain is Grain.WEEK:
        day -= timedelta(days=day.weekday())
    elif grain is Grain.MONTH:
        day = day.replace(day=1)
    elif grain is Grain.QUARTER:
        day = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    elif grain is Grain.YEAR:
        day = day.replace(month=1, day=1)
    return _midnight(day, zone)


def shift_period(start: datetime, grain: Grain, zone: ZoneInfo, steps: int) -> datetime:
    """The start of the period `steps` periods after (or, negative, before) the one at `start`."""
    if grain in _FIXED:
        return period_start(start + steps * _FIXED[grain], grain, zone)
    day = start.astimezone(zone).date()
    if grain is Grain.DAY:
        return _midnight(day + timedelta(days=steps), zone)
    if grain is Grain.WEEK:
        return _midnight(day + timedelta(weeks=steps), zone)
    return _midnight(add_months(day.replace(day=1), steps * _MONTHS[grain]), zone)


def add_months(first: date, months: int) -> date:
    """The first day of the month `months` after (or, negative, before) the month of `first`."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def previous_period(start: datetime, grain: Grain, zone: ZoneInfo) -> datetime:
    """The start of the period just before the one starting at `start`."""
    return shift_period(start, grain, zone, -1)


def periods(start: datetime, end: datetime, grain: Grain, zone: ZoneInfo) -> list[datetime]:
    """The starts of every period from the one holding `start` to the last that begins before `end`."""
    found, at = [], period_start(start, grain, zone)
    while at < end:
        found.append(at)
        at = shift_period(at, grain, zone, 1)
    return found


def year_earlier(start: datetime, grain: Grain, zone: ZoneInfo) -> datetime:
    """The start of the same period a year before: 52 weeks back for a week, so weekdays line up."""
    if grain is Grain.WEEK:
        return _midnight(start.astimezone(zone).date() - timedelta(weeks=52), zone)
    local = start.astimezone(zone)
    try:
        shifted = local.replace(year=local.year - 1)
    except ValueError:  # 29 February: the 28th a year before
        shifted = local.replace(year=local.year - 1, day=28)
    return period_start(shifted, grain, zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def relative_change(value: float | None, base: float | None) -> float | None:
    """(value - base) / |base|: +0.25 is a quarter more; None when either is missing or base is 0."""
    if value is None or base is None or base == 0:
        return None
    return (value - base) / abs(base)


GroupKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class KpiReading:
    """One period's value with its context. `healthy` is None when there is no band for this grain."""

    period: datetime  # the period's start, UTC
    group: dict[str, str]
    value: float | None
    previous: float | None  # the period before
    year_ago: float | None  # the same period a year earlier
    healthy: bool | None

    @property
    def change(self) -> float | None:
        return relative_change(self.value, self.previous)

    @property
    def year_change(self) -> float | None:
        return relative_change(self.value, self.year_ago)


def in_context(
    points: Iterable[tuple[datetime, Mapping[str, str], float | None]],
    earlier: Mapping[tuple[datetime, GroupKey], float | None],
    grain: Grain,
    zone: ZoneInfo,
    band: HealthBand | None = None,
    empty: float | None = None,
    now: datetime | None = None,
) -> list[KpiReading]:
    """Readings for `points` (period, group, value); `earlier` holds values of whole past periods.

    A period missing from `earlier` had no events: its value is `empty` (0 for a count or a sum,
    None for an average). The band judges only values of its own grain, and only periods that
    have ended by `now`: a day is not unhealthy at breakfast for what it has not yet sold.
    """
    readings = []
    for period, group, value in points:
        key = tuple(group.items())
        ended = now is None or shift_period(period, grain, zone, 1) <= now
        verdict = band.healthy(value) if band is not None and band.grain is grain and ended else None
        readings.append(
            KpiReading(
                period,
                dict(group),
                value,
                earlier.get((previous_period(period, grain, zone), key), empty),
                earlier.get((year_earlier(period, grain, zone), key), empty),
                verdict,
            )
        )
    return readings
