"""Applying KPI definitions to the store and reading KPI series from it.

Apply is idempotent and never half-applied: a created or changed KPI gets new objects (named by
its fingerprint), built and backfilled beside the old ones; only then is the version recorded
and the old objects dropped. An apply that dies midway leaves the old version in force, and the
next apply drops the leftovers and builds again.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import yaml

from schemas import (
    Aggregation,
    ConfigError,
    EventTypeRegistry,
    FieldError,
    Grain,
    GroupKey,
    KpiCatalog,
    KpiDefinition,
    KpiPlan,
    KpiReading,
    Settings,
    in_context,
    periods,
    plan_kpis,
    previous_period,
    ratio_value,
    shift_period,
    utc_iso,
    year_earlier,
)

from ..clickhouse import (
    BackfillKpiRollup,
    BackfillMonths,
    CreateKpiRollup,
    CreateKpiView,
    KpiPoint,
    KpiSeries,
    rollup_table,
)
from ..clickhouse.kpi_backfill import SyncRawEvents
from ..clickhouse.kpi_rollup_ddl import (
    CreateKpiHourlyView,
    CreateKpiRollupDistributed,
    DropKpiRollup,
    ExistingTables,
    hourly_of,
)
from ..clickhouse.kpi_values_view import CreateKpiValuesView
from ..clickhouse.kpi_versions import (
    CreateKpiDefinitionsView,
    CreateKpiVersions,
    KpiHistory,
    KpiVersion,
    RecordKpiVersions,
    current_versions,
)
from ..metrics import KPI_APPLIES, KPI_BACKFILL_SECONDS, KPI_BACKFILLS
from ..store import Store

# The view takes rows landing from a cutoff this far ahead, and the backfill starts once inserts
# begun before the cutoff have finished: a sink insert takes well under a second.
CUTOFF_LEAD = timedelta(seconds=1)
INSERT_SETTLE = timedelta(seconds=2)
# On a cluster each view is made ON CLUSTER, which takes every node a moment: the cutoff is set
# further ahead, and an apply whose views were not all made before it fails (see _build).
CLUSTER_CUTOFF_LEAD = timedelta(seconds=15)


class Progress(Protocol):
    """Told how far a KPI's backfill has come, in events, after each month is written."""

    def __call__(self, kpi: str, done: int, total: int) -> None: ...


def text_progress(kpi: str, done: int, total: int) -> None:
    """A progress line per backfilled month, for logs; the CLI draws a bar instead."""
    width = 20
    filled = width * done // total if total else width
    print(f"{kpi}: backfilled [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} events", flush=True)


def applied_kpis(store: Store, database: str) -> dict[str, KpiDefinition]:
    """The definitions in force, from the version history."""
    store.execute(CreateKpiVersions(database))
    history = KpiHistory.parse(store.fetch(KpiHistory(database)))
    return {
        name: KpiDefinition.model_validate_json(v.definition) for name, v in current_versions(history).items()
    }


def apply_kpis(
    store: Store,
    settings: Settings,
    catalog: KpiCatalog,
    applied_by: str,
    dry_run: bool = False,
    progress: Progress = text_progress,
    prune: bool = False,
    read_by: Mapping[str, Collection[str]] | None = None,
) -> KpiPlan:
    """Bring the store to `catalog`; the plan says what was (or, dry run, would be) done.

    KPIs in force that the catalog omits stay in force unless `prune`, which removes them, but
    not one that `read_by` says key results in force read (see plan_kpis). The
    BI views are replaced on every apply, so a changed time zone setting reaches them too.
    On a cluster (`settings.clickhouse_cluster`) every object is made and dropped ON CLUSTER.
    """
    database, cluster = settings.clickhouse_database, settings.clickhouse_cluster
    if cluster is not None:  # the history on every node, before applied_kpis would make a local one
        store.execute(CreateKpiVersions(database, cluster))
    before = applied_kpis(store, database)
    plan = plan_kpis(catalog, before, prune, read_by)
    if dry_run:
        return plan
    if not plan.empty:
        _record(store, settings, plan, before, applied_by, progress)
    in_force = {name: before[name] for name in plan.kept} | catalog.kpis
    kept = [
        kpi
        for name, kpi in before.items()
        if name in in_force and kpi.fingerprint() == in_force[name].fingerprint()
    ]
    _add_hourly_levels(store, settings, kept, progress)
    store.execute(CreateKpiDefinitionsView(database, cluster))
    store.execute(CreateKpiValuesView(database, in_force, settings.timezone, cluster))
    for kpi in plan.changed:  # the new version is in force and no view reads the old objects: they go
        _drop(store, database, before[kpi.name], cluster)
    for name in plan.removed:
        _drop(store, database, before[name], cluster)
    for action, kpis in (
        ("created", plan.created),
        ("changed", plan.changed),
        ("relabelled", plan.relabelled),
    ):
        KPI_APPLIES.labels(action=action).inc(len(kpis))
    KPI_APPLIES.labels(action="removed").inc(len(plan.removed))
    return plan


def _record(
    store: Store,
    settings: Settings,
    plan: KpiPlan,
    before: dict[str, KpiDefinition],
    applied_by: str,
    progress: Progress,
) -> None:
    """Build what is new, then record the versions: from then on they are in force."""
    stored = [k for k in (*plan.created, *plan.changed) if k.aggregation is not Aggregation.RATIO]
    _build(
        store,
        settings.clickhouse_database,
        stored,
        settings.dedup_block_window,
        progress,
        settings.clickhouse_cluster,
    )
    now = datetime.now(UTC)
    versions = [_version(kpi, "created", now, applied_by) for kpi in plan.created]
    versions += [_version(kpi, "changed", now, applied_by) for kpi in plan.changed]
    versions += [_version(kpi, "changed", now, applied_by) for kpi in plan.relabelled]
    for name in plan.removed:
        versions.append(_version(before[name], "removed", now, applied_by))
    store.insert(RecordKpiVersions(settings.clickhouse_database, versions))


def _add_hourly_levels(
    store: Store, settings: Settings, kept: list[KpiDefinition], progress: Progress
) -> None:
    """Rebuild the kept KPIs applied before rollups had an hourly level, which reads expect.

    Only the minute rollup exists, and filling the hourly level from it while rows land could
    count a block twice, so the KPI is rebuilt as a changed one is: both levels, then a backfill.
    """
    stored = [kpi for kpi in kept if kpi.aggregation is not Aggregation.RATIO]
    hourly = {hourly_of(rollup_table(kpi)): kpi for kpi in stored}
    found = ExistingTables.parse(store.fetch(ExistingTables(settings.clickhouse_database, tuple(hourly))))
    missing = [kpi for table, kpi in hourly.items() if table not in found]
    _build(
        store,
        settings.clickhouse_database,
        missing,
        settings.dedup_block_window,
        progress,
        settings.clickhouse_cluster,
    )


def _version(kpi: KpiDefinition, change: str, at: datetime, by: str) -> KpiVersion:
    table = "" if kpi.aggregation is Aggregation.RATIO else rollup_table(kpi)
    return KpiVersion(kpi.name, change, kpi.fingerprint(), table, kpi.model_dump_json(), at, by)


def _drop(store: Store, database: str, kpi: KpiDefinition, cluster: str | None = None) -> None:
    if kpi.aggregation is not Aggregation.RATIO:
        store.execute(DropKpiRollup(database, rollup_table(kpi), cluster))


def _build(
    store: Store,
    database: str,
    kpis: list[KpiDefinition],
    dedup_window: int,
    progress: Progress,
    cluster: str | None = None,
) -> None:
    """New rollups and views with one cutoff, then each backfilled below it.

    On a cluster the cutoff is further ahead, since every view is made on every node before the
    statement returns; if that took past the cutoff, a node may have taken rows landed from the
    cutoff on before its view existed, which neither the view nor the backfill would count, so
    the apply stops (recording nothing: the next apply builds again). Before the backfill, every
    replica fetches what landed before the cutoff (SyncRawEvents).
    """
    if not kpis:
        return
    for kpi in kpis:
        _drop(store, database, kpi, cluster)  # leftovers of an apply that died before recording its version
        for hourly in (False, True):
            store.execute(CreateKpiRollup(database, kpi, dedup_window, cluster, hourly))
            if cluster is not None:
                store.execute(CreateKpiRollupDistributed(database, kpi, cluster, hourly))
        store.execute(CreateKpiHourlyView(database, kpi, cluster))  # before anything reaches the rollup
    cutoff = datetime.now(UTC) + (CUTOFF_LEAD if cluster is None else CLUSTER_CUTOFF_LEAD)
    for kpi in kpis:
        store.execute(CreateKpiView(database, kpi, cutoff, cluster))
    if cluster is not None and datetime.now(UTC) >= cutoff:
        raise RuntimeError(
            f"the KPI views were not made on every node of cluster {cluster!r} within"
            f" {CLUSTER_CUTOFF_LEAD.total_seconds():.0f} s, so rows may have landed on a node before"
            " its view existed; nothing was recorded: apply again"
        )
    time.sleep(max(0.0, (cutoff + INSERT_SETTLE - datetime.now(UTC)).total_seconds()))
    if cluster is not None:
        store.execute(SyncRawEvents(database, cluster))
    for kpi in kpis:
        started = time.perf_counter()
        months = BackfillMonths.parse(store.fetch(BackfillMonths(database, kpi, cutoff)))
        total = sum(events for _, events in months)
        done = 0
        for month, events in months:
            store.execute(BackfillKpiRollup(database, kpi, cutoff, month, cluster))
            done += events
            progress(kpi.name, done, total)
        KPI_BACKFILLS.inc()
        KPI_BACKFILL_SECONDS.observe(time.perf_counter() - started)


def _applied(kpis: dict[str, KpiDefinition], name: str) -> KpiDefinition:
    if name not in kpis:
        raise KeyError(f"no KPI named {name!r}; applied: {', '.join(sorted(kpis)) or 'none'}")
    return kpis[name]


def kpi_series(
    store: Store,
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
    kpi = _applied(kpis, name)
    if kpi.aggregation is not Aggregation.RATIO:
        query = KpiSeries(database, kpi, start, end, grain, timezone, by)
        return query.parse(store.fetch(query))
    if any(key not in kpi.dimensions for key in by):
        raise ValueError(f"KPI {name!r} cannot be broken down by {list(by)}; allowed: {list(kpi.dimensions)}")
    numerator, denominator = (
        {
            (p.period, tuple(p.group.items())): p.value
            for p in kpi_series(store, database, kpis, ref, start, end, grain, timezone, by)
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
        "kept": list(plan.kept),  # in force, not in the file, left in force: what prune would remove
    }


def kpi_listing(store: Store, database: str) -> list[dict[str, Any]]:
    kpis = applied_kpis(store, database)
    fields = ("name", "title", "unit", "aggregation", "dimensions", "description")
    return [kpis[name].model_dump(mode="json", include=set(fields)) for name in sorted(kpis)]


def kpi_readings(
    store: Store,
    database: str,
    kpis: dict[str, KpiDefinition],
    name: str,
    start: datetime,
    end: datetime,
    grain: Grain = Grain.DAY,
    timezone: str = "UTC",
    by: tuple[str, ...] = (),
    now: datetime | None = None,
) -> list[KpiReading]:
    """Every whole period holding [start, end), each beside the period before, a year earlier, and health.

    Unlike a series, readings list periods without events too (0 for a count or a sum, no value
    for an average), since a day without orders is the one a health band is there to flag. The
    first period is read whole; the last, if `end` cuts it, only up to `end`, and a period that
    has not ended by `now` is not judged.
    """
    zone = ZoneInfo(timezone)
    kpi = _applied(kpis, name)

    def read(begin: datetime, stop: datetime) -> dict[tuple[datetime, GroupKey], float | None]:
        points = kpi_series(store, database, kpis, name, begin, stop, grain, timezone, by)
        return {(p.period, tuple(p.group.items())): p.value for p in points}

    if start >= end:
        return []
    starts = periods(start, end, grain, zone)
    current = read(starts[0], end)
    earlier = read(previous_period(starts[0], grain, zone), starts[0]) | current
    year_ago = year_earlier(starts[0], grain, zone), year_earlier(starts[-1], grain, zone)
    earlier |= read(year_ago[0], shift_period(year_ago[1], grain, zone, 1))
    groups = sorted({group for _, group in current}) if by else [()]
    points = [(p, dict(g), current.get((p, g), kpi.empty_value)) for p in starts for g in groups]
    return in_context(points, earlier, grain, zone, kpi.health, kpi.empty_value, now or datetime.now(UTC))


def kpi_report(
    store: Store,
    database: str,
    name: str,
    start: datetime,
    end: datetime,
    grain: Grain,
    timezone: str,
    by: tuple[str, ...] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """What `kpi show` and `GET /v1/kpis/{name}` answer: the readings, and the health band's verdicts.

    A band is judged per period of its own grain, once that period has ended by `now` (the wall
    clock unless given); when the read's grain differs, `health` lists the verdicts of the band's
    periods that hold the window.
    """
    kpis = applied_kpis(store, database)
    readings = kpi_readings(store, database, kpis, name, start, end, grain, timezone, by, now)
    kpi = kpis[name]
    health = None
    if kpi.health is not None:
        judged = readings
        if kpi.health.grain is not grain:
            judged = kpi_readings(
                store, database, kpis, name, start, end, kpi.health.grain, timezone, by, now
            )
        health = {
            "band": kpi.health.model_dump(mode="json", exclude_none=True),
            "periods": [
                {"period": utc_iso(r.period), "group": r.group, "value": r.value, "healthy": r.healthy}
                for r in judged
            ],
        }
    return {
        "kpi": kpi.model_dump(mode="json", include={"name", "title", "unit", "aggregation"}),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "grain": grain.value,
        "timezone": timezone,
        "by": list(by),
        "points": [
            {
                "period": utc_iso(r.period),
                "group": r.group,
                "value": r.value,
                "previous": r.previous,
                "change": r.change,
                "year_ago": r.year_ago,
                "year_change": r.year_change,
                "healthy": r.healthy,
            }
            for r in readings
        ],
        "health": health,
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
