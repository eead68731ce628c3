"""A KPI's values per period (minute to year, in a time zone), merged from its rollup at query time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from schemas import Grain, KpiDefinition

from .kpi_rollup_ddl import dimension_column, hourly_of, rollup_table, state_of

# The start of a bucket's period, in the zone; weeks start on Monday. Quarters and weeks close
# at local midnight, so a company in Europe/Oslo sees its own quarter, daylight saving included.
_PERIOD_START = {
    Grain.MINUTE: "toStartOfMinute(bucket)",
    Grain.HOUR: "toStartOfHour(toTimeZone(bucket, {tz:String}))",
    Grain.DAY: "toStartOfDay(toTimeZone(bucket, {tz:String}))",
    Grain.WEEK: "toDateTime(toStartOfWeek(toTimeZone(bucket, {tz:String}), 1), {tz:String})",
    Grain.MONTH: "toDateTime(toStartOfMonth(toTimeZone(bucket, {tz:String})), {tz:String})",
    Grain.QUARTER: "toDateTime(toStartOfQuarter(toTimeZone(bucket, {tz:String})), {tz:String})",
    Grain.YEAR: "toDateTime(toStartOfYear(toTimeZone(bucket, {tz:String})), {tz:String})",
}


@dataclass(frozen=True)
class KpiPoint:
    period: datetime  # the period's start, UTC
    group: dict[str, str]  # break-down dimension -> value; empty when not broken down
    value: float | None


@dataclass(frozen=True)
class KpiSeries:
    """Values of a stored (non-ratio) KPI for events that occurred in [start, end)."""

    database: str
    kpi: KpiDefinition
    start: datetime
    end: datetime
    grain: Grain = Grain.DAY
    timezone: str = "UTC"
    by: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = [key for key in self.by if key not in self.kpi.dimensions]
        if unknown:
            allowed = ", ".join(self.kpi.dimensions) or "none"
            raise ValueError(f"KPI {self.kpi.name!r} cannot be broken down by {unknown}; allowed: {allowed}")

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        _, _, merge, params = state_of(self.kpi)
        columns = [dimension_column(self.kpi, key) for key in self.by]
        selected = "".join(f"    {c},\n" for c in columns)
        grouped = "".join(f", {c}" for c in columns)
        sql = (
            f"SELECT\n    toUnixTimestamp({_PERIOD_START[self.grain]}) AS period,\n"
            f"{selected}"
            f"    {merge}(value) AS value\n"
            "FROM {database:Identifier}.{table:Identifier}\n"
            "WHERE bucket >= {start:DateTime('UTC')} AND bucket < {end:DateTime('UTC')}\n"
            f"GROUP BY period{grouped}\n"
            f"ORDER BY period{grouped}"
        )
        return sql, {
            **params,
            "database": self.database,
            "table": hourly_of(rollup_table(self.kpi)) if self.reads_hours() else rollup_table(self.kpi),
            "tz": self.timezone,
            "start": self.start.astimezone(UTC),
            "end": self.end.astimezone(UTC),
        }

    def reads_hours(self) -> bool:
        """Whether the hourly level answers: every period is then made of whole UTC hours.

        True for grains of an hour and longer over a range that starts and ends on the hour, in a
        zone whose offset from UTC was a whole number of hours all along (not Asia/Kolkata).
        """
        if self.grain is Grain.MINUTE:
            return False
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        if any(t.minute or t.second or t.microsecond for t in (start, end)):
            return False
        return all(_whole_hour_offsets(self.timezone, year) for year in range(start.year, end.year + 1))

    def parse(self, rows: list[tuple[Any, ...]]) -> list[KpiPoint]:
        points = []
        for period, *groups, value in rows:
            number = None if value is None or value != value else float(value)  # NaN: avg of nothing
            start = datetime.fromtimestamp(int(period), UTC)
            points.append(KpiPoint(start, dict(zip(self.by, groups, strict=True)), number))
        return points


@lru_cache(maxsize=256)
def _whole_hour_offsets(timezone: str, year: int) -> bool:
    """Whether the zone's offset from UTC was a whole number of hours at every hour of the year."""
    zone = ZoneInfo(timezone)
    at = datetime(year, 1, 1, tzinfo=UTC)
    while at.year == year:
        offset = at.astimezone(zone).utcoffset()
        if offset is None or offset % timedelta(hours=1):
            return False
        at += timedelta(hours=1)
    return True
