"""What the board shows, read from the store with the functions behind the HTTP API's reads.

- the objectives: `okr_report` (now, or as of an instant), with each KPI's title and unit;
- one key result: `key_result_report` (its score history, its milestones) with its KPI per day
  over the period, beside the period before and the year before, and the health band's verdicts;
- every KPI over the current period to date against the same stretch of the period before and
  of the year before, with a value per day and the health verdicts of the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas import (
    Grain,
    KpiDefinition,
    Settings,
    baseline_window,
    period_start,
    periods,
    previous_period,
    relative_change,
    shift_period,
    utc_iso,
    year_earlier,
)

from ..clickhouse import MetricRequest, MetricValues
from ..kpi import applied_kpis, kpi_readings, kpi_series
from ..okr import key_result_report, load_state, okr_report
from ..store import Store

KPI_PAGE_GRAINS = (Grain.MONTH, Grain.QUARTER, Grain.YEAR)  # what "the current period" may be


def board_objectives(
    store: Store, settings: Settings, as_of: datetime | None = None, by: str = "landed"
) -> dict[str, Any]:
    """`okr_report` with the title and unit of every KPI a key result may read, and the server's now."""
    report = okr_report(store, settings, None, as_of, by)
    kpis = applied_kpis(store, settings.clickhouse_database)
    return report | {
        "now": utc_iso(datetime.now(UTC)),
        "freeze_after_days": settings.okr_freeze_after_days,
        "kpis": {name: {"title": kpi.title, "unit": kpi.unit} for name, kpi in kpis.items()},
    }


def _health_json(kpi: KpiDefinition) -> dict[str, Any] | None:
    return None if kpi.health is None else kpi.health.model_dump(mode="json", exclude_none=True)


def _daily(
    store: Store,
    settings: Settings,
    kpis: dict[str, KpiDefinition],
    name: str,
    filters: Mapping[str, str],
    start: datetime,
    end: datetime,
) -> list[float | None]:
    """The KPI per local day of [start, end) for the events matching `filters`, days without events
    given the KPI's empty value (0 for a count or a sum)."""
    if start >= end:
        return []
    zone = ZoneInfo(settings.timezone)
    by = tuple(sorted(filters))
    points = kpi_series(
        store, settings.clickhouse_database, kpis, name, start, end, Grain.DAY, settings.timezone, by
    )
    values = {p.period: p.value for p in points if p.group == dict(filters)}
    empty = kpis[name].empty_value
    return [values.get(day, empty) for day in periods(start, end, Grain.DAY, zone)]


def _judged(
    store: Store,
    settings: Settings,
    kpis: dict[str, KpiDefinition],
    name: str,
    filters: Mapping[str, str],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """The health band's periods holding [start, end), with their values and verdicts (None: not
    judged, as a period that has not ended)."""
    kpi = kpis[name]
    if kpi.health is None or start >= end:
        return []
    readings = kpi_readings(
        store,
        settings.clickhouse_database,
        kpis,
        name,
        start,
        end,
        kpi.health.grain,
        settings.timezone,
        tuple(sorted(filters)),
        now=now,
    )
    return [
        {"period": utc_iso(r.period), "value": r.value, "healthy": r.healthy}
        for r in readings
        if r.group == dict(filters)
    ]


def _verdict(judged: list[dict[str, Any]]) -> dict[str, Any]:
    """The period's health: unhealthy if any period of the band's grain was, healthy if all judged
    were, not judged while none has ended yet."""
    verdicts = [p["healthy"] for p in judged if p["healthy"] is not None]
    unhealthy = verdicts.count(False)
    verdict = "unhealthy" if unhealthy else "healthy" if verdicts else "not_judged"
    return {"verdict": verdict, "judged": len(verdicts), "unhealthy": unhealthy}


def key_result_board(
    store: Store, settings: Settings, kr_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """`key_result_report` and, for a metric key result, its KPI per day over the objective's
    period (to now), the period before and the year before (whole), and the health band."""
    report = key_result_report(store, settings, kr_id)
    state = load_state(store, settings)
    found = state.key_result(kr_id)
    if found is None:  # removed between the two reads
        raise KeyError(f"no key result {kr_id!r}")
    objective, kr, _ = found
    if kr.metric is None or kr.metric.kpi not in state.kpis:
        return report | {"kpi": None}
    now = now or datetime.now(UTC)
    zone = ZoneInfo(settings.timezone)
    kpis, name, filters = state.kpis, kr.metric.kpi, dict(kr.metric.filters)
    kpi = kpis[name]
    start, end = objective.period.bounds(zone)
    before = baseline_window(objective, zone)
    year_ago = year_earlier(start, Grain.DAY, zone), year_earlier(end, Grain.DAY, zone)
    current = _daily(store, settings, kpis, name, filters, start, min(end, now))
    previous = _daily(store, settings, kpis, name, filters, *before)
    earlier = _daily(store, settings, kpis, name, filters, *year_ago)
    judged = _judged(store, settings, kpis, name, filters, start, min(end, now), now)
    healthy_days = (
        {p["period"]: p["healthy"] for p in judged} if kpi.health and kpi.health.grain is Grain.DAY else {}
    )
    days = [
        {
            "day": utc_iso(day),
            "value": current[i] if i < len(current) else None,
            "previous": previous[i] if i < len(previous) else None,
            "year_ago": earlier[i] if i < len(earlier) else None,
            "healthy": healthy_days.get(utc_iso(day)),
        }
        for i, day in enumerate(periods(start, end, Grain.DAY, zone))
    ]
    return report | {
        "kpi": {
            "name": name,
            "title": kpi.title,
            "unit": kpi.unit,
            "aggregation": kpi.aggregation.value,
            "filters": filters,
            "band": _health_json(kpi),
            "previous_period": {"start": utc_iso(before[0]), "end": utc_iso(before[1])},
            "year_ago": {"start": utc_iso(year_ago[0]), "end": utc_iso(year_ago[1])},
            "days": days,
            "health": _verdict(judged) | {"periods": judged},
        }
    }


def kpi_board(
    store: Store, settings: Settings, grain: Grain = Grain.QUARTER, now: datetime | None = None
) -> dict[str, Any]:
    """Every KPI over the current period to date, beside the same stretch of the period before and of
    the same period a year before (so a month to date is not set against a whole month), with its
    value per day and the health verdicts of the band's periods in the current period."""
    if grain not in KPI_PAGE_GRAINS:
        raise ValueError(f"grain: must be one of {', '.join(KPI_PAGE_GRAINS)}, got {grain!r}")
    now = now or datetime.now(UTC)
    zone = ZoneInfo(settings.timezone)
    kpis = applied_kpis(store, settings.clickhouse_database)
    start = period_start(now, grain, zone)
    end = shift_period(start, grain, zone, 1)
    elapsed = now - start
    before = previous_period(start, grain, zone)
    year_ago = year_earlier(start, grain, zone)
    windows = {
        "current": (start, now),
        "previous": (before, min(before + elapsed, start)),
        "year_ago": (year_ago, year_ago + elapsed),
    }
    requests = []
    for name, kpi in kpis.items():
        inputs = (kpis[kpi.inputs[0]], kpis[kpi.inputs[1]]) if kpi.inputs else None
        for which, (begin, stop) in windows.items():
            requests.append(MetricRequest(f"{name}/{which}", kpi, begin, stop, {}, inputs))
    values: dict[str, float | None] = {}
    if requests:
        query = MetricValues(settings.clickhouse_database, tuple(requests))
        values = query.parse(store.fetch(query))
    days = periods(start, end, Grain.DAY, zone)
    board = []
    for name in sorted(kpis):
        kpi = kpis[name]
        value, previous, year_before = (values.get(f"{name}/{w}") for w in windows)
        daily = _daily(store, settings, kpis, name, {}, start, now)
        judged = _judged(store, settings, kpis, name, {}, start, now, now)
        board.append(
            {
                "name": name,
                "title": kpi.title,
                "description": kpi.description,
                "unit": kpi.unit,
                "aggregation": kpi.aggregation.value,
                "band": _health_json(kpi),
                "value": value,
                "previous": previous,
                "change": relative_change(value, previous),
                "year_ago": year_before,
                "year_change": relative_change(value, year_before),
                "days": [
                    {"day": utc_iso(day), "value": daily[i] if i < len(daily) else None}
                    for i, day in enumerate(days)
                ],
                "health": _verdict(judged) | {"periods": judged},
            }
        )
    return {
        "grain": grain.value,
        "timezone": settings.timezone,
        "now": utc_iso(now),
        "period": {"start": utc_iso(start), "end": utc_iso(end)},
        "windows": {w: {"start": utc_iso(b), "end": utc_iso(e)} for w, (b, e) in windows.items()},
        "kpis": board,
    }
