"""Applying KPI definitions to the store and reading KPI series from it.

Apply is idempotent and never half-applied: a created or changed KPI gets new objects (named by
its fingerprint), built and backfilled beside the old ones; only then is the version recorded
and the old objects dropped. An apply that dies midway leaves the old version in force, and the
next apply drops the leftovers and builds again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from clickhouse_connect.driver.client import Client

from schemas import (
    Aggregation,
    ConfigError,
    EventTypeRegistry,
    FieldError,
    Grain,
    KpiCatalog,
    KpiDefinition,
    KpiPlan,
    plan_kpis,
    ratio_value,
)

from .clickhouse import (
    BackfillKpiRollup,
    BackfillMonths,
    CreateKpiRollup,
    CreateKpiView,
    KpiPoint,
    KpiSeries,
    execute,
    fetch,
    rollup_table,
)
from .clickhouse.kpi_rollup_ddl import DropKpiRollup
from .clickhouse.kpi_versions import (
    CreateKpiVersions,
    KpiHistory,
    KpiVersion,
    RecordKpiVersions,
    current_versions,
)

# The view takes rows landing from a cutoff this far ahead, and the backfill starts once inserts
# begun before the cutoff have finished: a sink insert takes well under a second.
CUTOFF_LEAD = timedelta(seconds=1)
INSERT_SETTLE = timedelta(seconds=2)

Progress = Callable[[str], None]


def applied_kpis(client: Client, database: str) -> dict[str, KpiDefinition]:
    """The definitions in force, from the version history."""
    execute(client, CreateKpiVersions(database))
    history = KpiHistory.parse(fetch(client, KpiHistory(database)))
    return {
        name: KpiDefinition.model_validate_json(v.definition) for name, v in current_versions(history).items()
    }


def apply_kpis(
    client: Client,
    database: str,
    catalog: KpiCatalog,
    applied_by: str,
    dedup_window: int,
    dry_run: bool = False,
    progress: Progress = print,
) -> KpiPlan:
    before = applied_kpis(client, database)
    plan = plan_kpis(catalog, before)
    if dry_run or plan.empty:
        return plan
    now = datetime.now(UTC)
    _build(
        client,
        database,
        [k for k in (*plan.created, *plan.changed) if k.aggregation is not Aggregation.RATIO],
        dedup_window,
        progress,
    )
    versions = [_version(kpi, "created", now, applied_by) for kpi in plan.created]
    versions += [_version(kpi, "changed", now, applied_by) for kpi in plan.changed]
    versions += [_version(kpi, "changed", now, applied_by) for kpi in plan.relabelled]
    for name in plan.removed:
        versions.append(_version(before[name], "removed", now, applied_by))
    RecordKpiVersions(database, versions).run(client)
    for kpi in plan.changed:  # the new version is in force: the old objects go
        _drop(client, database, before[kpi.name])
    for name in plan.removed:
        _drop(client, database, before[name])
    return plan


def _version(kpi: KpiDefinition, change: str, at: datetime, by: str) -> KpiVersion:
    table = "" if kpi.aggregation is Aggregation.RATIO else rollup_table(kpi)
    return KpiVersion(kpi.name, change, kpi.fingerprint(), table, kpi.model_dump_json(), at, by)


def _drop(client: Client, database: str, kpi: KpiDefinition) -> None:
    if kpi.aggregation is not Aggregation.RATIO:
        for sql, params in DropKpiRollup(database, rollup_table(kpi)).statements():
            client.command(sql, parameters=params)


def _build(
    client: Client, database: str, kpis: list[KpiDefinition], dedup_window: int, progress: Progress
) -> None:
    """New rollups and views with one cutoff, then each backfilled below it."""
    if not kpis:
        return
    for kpi in kpis:
        _drop(client, database, kpi)  # leftovers of an apply that died before recording its version
        execute(client, CreateKpiRollup(database, kpi, dedup_window))
    cutoff = datetime.now(UTC) + CUTOFF_LEAD
    for kpi in kpis:
        execute(client, CreateKpiView(database, kpi, cutoff))
    time.sleep(max(0.0, (cutoff + INSERT_SETTLE - datetime.now(UTC)).total_seconds()))
    for kpi in kpis:
        months = BackfillMonths.parse(fetch(client, BackfillMonths(database, kpi, cutoff)))
        total = sum(events for _, events in months)
        done = 0
        for month, events in months:
            execute(client, BackfillKpiRollup(database, kpi, cutoff, month))
            done += events
            progress(f"{kpi.name}: backfilled {month // 100}-{month % 100:02d}, {_bar(done, total)}")


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = width * done // total if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} events"


def kpi_series(
    client: Client,
    database: str,
    kpis: dict[str, KpiDefinition],
    name: str,
    start: datetime,
    end: datetime,
    grain: Grain = Grain.DAY,
    timezone: str = "UTC",
    by: tuple[str, ...] = (),
) -> list[KpiPoint]:
    """A KPI's values per period; a ratio is divided per period and group from its inputs."""
    kpi = kpis.get(name)
    if kpi is None:
        raise KeyError(f"no KPI named {name!r}; applied: {', '.join(sorted(kpis)) or 'none'}")
    if kpi.aggregation is not Aggregation.RATIO:
        query = KpiSeries(database, kpi, start, end, grain, timezone, by)
        return query.parse(fetch(client, query))
    if any(key not in kpi.dimensions for key in by):
        raise ValueError(f"KPI {name!r} cannot be broken down by {list(by)}; allowed: {list(kpi.dimensions)}")
    numerator, denominator = (
        {
            (p.period, tuple(p.group.items())): p.value
            for p in kpi_series(client, database, kpis, ref, start, end, grain, timezone, by)
        }
        for ref in kpi.inputs
    )
    keys = sorted(set(numerator) | set(denominator))
    return [
        KpiPoint(
            period,
            dict(group),
            ratio_value(numerator.get((period, group), 0.0), denominator.get((period, group))),
        )
        for period, group in keys
    ]


# -- what the CLI and the HTTP API show ---------------------------------------------------------


def read_catalog(text: str, registry: EventTypeRegistry) -> KpiCatalog:
    """A catalog from YAML text; raises ConfigError naming every bad KPI field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError([FieldError("$", f"not valid YAML: {e}", "yaml")]) from None
    return KpiCatalog.from_mapping(data, registry)


def shipped_kpis() -> str:
    """The demo business's KPI definitions, shipped beside the demo event types."""
    return resources.files("schemas").joinpath("kpis.yaml").read_text(encoding="utf-8")


def plan_report(plan: KpiPlan) -> dict[str, Any]:
    return {
        "summary": plan.summary(),
        "created": [k.name for k in plan.created],
        "changed": [k.name for k in plan.changed],
        "relabelled": [k.name for k in plan.relabelled],
        "removed": list(plan.removed),
        "unchanged": list(plan.unchanged),
    }


def kpi_listing(client: Client, database: str) -> list[dict[str, Any]]:
    kpis = applied_kpis(client, database)
    fields = ("name", "title", "unit", "aggregation", "dimensions", "description")
    return [kpis[name].model_dump(mode="json", include=set(fields)) for name in sorted(kpis)]


def kpi_report(
    client: Client,
    database: str,
    name: str,
    start: datetime,
    end: datetime,
    grain: Grain,
    timezone: str,
    by: tuple[str, ...] = (),
) -> dict[str, Any]:
    kpis = applied_kpis(client, database)
    points = kpi_series(client, database, kpis, name, start, end, grain, timezone, by)
    return {
        "kpi": kpis[name].model_dump(mode="json", include={"name", "title", "unit", "aggregation"}),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "grain": grain.value,
        "timezone": timezone,
        "by": list(by),
        "points": [
            {"period": p.period.isoformat().replace("+00:00", "Z"), "group": p.group, "value": p.value}
            for p in points
        ],
    }


def series_window(
    start: str | None, end: str | None, timezone: str, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """[from, to) from ISO dates or times; one without an offset is local to `timezone`.

    Defaults: the 30 days up to now.
    """
    zone = ZoneInfo(timezone)

    def parse(text: str, name: str) -> datetime:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name}: must be an ISO 8601 date or time, got {text!r}") from None
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)

    stop = parse(end, "to") if end else (now or datetime.now(UTC))
    begin = parse(start, "from") if start else stop - timedelta(days=30)
    if begin >= stop:
        raise ValueError(f"from: must be before to ({begin.isoformat()} >= {stop.isoformat()})")
    return begin, stop
