"""Applying KPI definitions (plan, backfill while events stream in, versions) and reading series, on chDB."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from processors import applied_kpis, apply_kpis, kpi_readings, kpi_series
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row, rollup_table
from processors.clickhouse.kpi_versions import KpiHistory
from processors.kpi import kpi_report
from schemas import ConfigError, EventTypeRegistry, Grain, KpiCatalog
from tests.conftest import Sql

REGISTRY = EventTypeRegistry.from_mapping(
    {
        "event_types": {
            "order.placed": {"dimensions": {"region": "string"}, "measures": {"amount": "number"}},
            "session.started": {"dimensions": {"region": "string"}},
        }
    }
)
DAY = datetime(2026, 11, 2, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, tzinfo=UTC)  # "now" where a test judges the months before it


def catalog(**overrides: dict) -> KpiCatalog:
    kpis = {
        "orders": {
            "title": "Orders",
            "events": "order.placed",
            "aggregation": "count",
            "dimensions": ["region"],
        },
        "sessions": {
            "title": "Sessions",
            "events": "session.started",
            "aggregation": "count",
            "dimensions": ["region"],
        },
        "conversion": {
            "title": "Conversion",
            "aggregation": "ratio",
            "numerator": "orders",
            "denominator": "sessions",
            "dimensions": ["region"],
        },
    }
    kpis.update(overrides)
    return KpiCatalog.from_mapping({"kpis": {k: v for k, v in kpis.items() if v}}, REGISTRY)


def events(kind: str, count: int, start: int = 0) -> list[dict]:
    return [
        {
            "event_id": f"{kind}-{start + i}",
            "type": kind,
            "source": "shop",
            "occurred_at": (DAY + timedelta(minutes=start + i)).isoformat(),
            "dimensions": {"region": "EU" if i % 3 else "NA"},
            "measures": {"amount": 10 + i % 7} if kind == "order.placed" else {},
        }
        for i in range(count)
    ]


def land(store, database: str, batch: list[dict], offset: int) -> None:
    position = BatchPosition("log", 0, offset, offset)
    rows = [event_row(e, offset, DAY, position) for e in batch]
    store.insert(InsertRawEvents(database, position, rows))


def by_region(points) -> dict[str, float | None]:
    return {p.group["region"]: p.value for p in points}


def series(store, database, name: str):
    kpis = applied_kpis(store, database)
    return kpi_series(store, database, kpis, name, DAY, DAY + timedelta(days=30), Grain.MONTH, by=("region",))


def apply(store, settings, cat: KpiCatalog, **kwargs):
    steps: list[tuple[str, int, int]] = []
    plan = apply_kpis(store, settings, cat, "tester", progress=lambda *step: steps.append(step), **kwargs)
    return plan, steps


def test_apply_builds_backfills_and_is_idempotent(store, settings) -> None:
    db = settings.clickhouse_database
    land(store, db, events("order.placed", 30) + events("session.started", 90), 0)
    plan, _ = apply(store, settings, catalog(), dry_run=True)
    assert [k.name for k in plan.created] == ["orders", "sessions", "conversion"]  # inputs first
    assert applied_kpis(store, db) == {}  # a dry run changes nothing

    plan, lines = apply(store, settings, catalog())
    assert plan.summary() == "create: orders, sessions, conversion"
    assert ("orders", 30, 30) in lines  # progress, in events, after each backfilled month
    assert by_region(series(store, db, "orders")) == {"EU": 20.0, "NA": 10.0}
    assert by_region(series(store, db, "conversion")) == {"EU": 20 / 60, "NA": 10 / 30}

    plan, _ = apply(store, settings, catalog())
    assert plan.empty and plan.summary() == "nothing to do: every KPI is applied as defined"


def stream_while(store, db: str, action) -> list[dict]:
    """Run `action` while a sink keeps landing orders; returns the orders landed meanwhile."""
    stop = threading.Event()
    landed: list[dict] = []

    def stream() -> None:
        offset = 1
        while not stop.is_set():
            batch = events("order.placed", 20, start=offset * 20 + 1000)
            land(store, db, batch, offset)
            landed.extend(batch)
            offset += 1
            stop.wait(0.05)

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        action()
    finally:
        stop.set()
        streamer.join()
    return landed


def test_events_landing_during_a_backfill_are_counted_once(store, settings) -> None:
    db = settings.clickhouse_database
    land(store, db, events("order.placed", 200), 0)
    streamed = stream_while(
        store, db, lambda: apply(store, settings, catalog(sessions=None, conversion=None))
    )
    assert len(streamed) > 200  # the stream ran through the apply, which spans its cutoff by seconds
    landed = Counter(e["dimensions"]["region"] for e in events("order.placed", 200) + streamed)
    assert by_region(series(store, db, "orders")) == {k: float(v) for k, v in landed.items()}


def test_events_landing_while_a_kpi_changes_are_counted_once_by_the_new_definition(store, settings) -> None:
    db = settings.clickhouse_database
    land(store, db, events("order.placed", 200), 0)
    apply(store, settings, catalog(sessions=None, conversion=None))
    changed = catalog(
        orders={
            "title": "Orders of 15 or more",
            "events": "order.placed",
            "aggregation": "count",
            "dimensions": ["region"],
            "filters": [{"field": "measures.amount", "op": "gte", "value": 15}],
        },
        sessions=None,
        conversion=None,
    )
    plans = []
    streamed = stream_while(store, db, lambda: plans.append(apply(store, settings, changed)[0]))
    assert plans[0].summary() == "change and rebuild: orders"
    assert len(streamed) > 200  # the stream ran through the apply, which spans its cutoff by seconds
    landed = Counter(
        e["dimensions"]["region"]
        for e in events("order.placed", 200) + streamed
        if e["measures"]["amount"] >= 15
    )
    assert by_region(series(store, db, "orders")) == {k: float(v) for k, v in landed.items()}


def test_a_kpi_applied_before_the_hourly_level_is_rebuilt_with_it_at_the_next_apply(store, settings) -> None:
    db = settings.clickhouse_database
    land(store, db, events("order.placed", 30), 0)
    apply(store, settings, catalog())
    table = rollup_table(applied_kpis(store, db)["orders"])
    for drop in (
        "DROP VIEW {db:Identifier}.{name:Identifier}",
        "DROP TABLE {db:Identifier}.{name:Identifier}",
    ):
        store.execute(Sql(drop, db=db, name=f"{table}__hour__mv" if "VIEW" in drop else f"{table}__hour"))
    plan, steps = apply(store, settings, catalog())
    assert plan.empty and ("orders", 30, 30) in steps  # nothing to record; orders rebuilt from raw_events
    land(store, db, events("order.placed", 5, start=30), 1)
    tables = {row[0] for row in store.fetch(Sql("SHOW TABLES FROM {db:Identifier}", db=db))}
    assert {table, f"{table}__mv", f"{table}__hour", f"{table}__hour__mv"} <= tables
    landed = Counter(e["dimensions"]["region"] for e in events("order.placed", 35))
    assert by_region(series(store, db, "orders")) == {k: float(v) for k, v in landed.items()}


def test_change_relabel_and_remove_are_recorded_and_clean_up(store, settings) -> None:
    db = settings.clickhouse_database
    land(store, db, events("order.placed", 30) + events("session.started", 90), 0)
    apply(store, settings, catalog())
    old_table = rollup_table(applied_kpis(store, db)["orders"])
    big = catalog(
        orders={
            "title": "Orders of 15 or more",
            "events": "order.placed",
            "aggregation": "count",
            "dimensions": ["region"],
            "filters": [{"field": "measures.amount", "op": "gte", "value": 15}],
        },
        sessions={
            "title": "Visits",
            "events": "session.started",
            "aggregation": "count",
            "dimensions": ["region"],
        },
        conversion=None,
    )
    plan, _ = apply(store, settings, big, prune=True)
    assert plan.summary() == "change and rebuild: orders; relabel: sessions; remove: conversion"
    expected = Counter(
        e["dimensions"]["region"] for e in events("order.placed", 30) if e["measures"]["amount"] >= 15
    )
    assert by_region(series(store, db, "orders")) == {k: float(v) for k, v in expected.items()}
    tables = {row[0] for row in store.fetch(Sql("SHOW TABLES FROM {db:Identifier}", db=db))}
    assert not tables & {old_table, f"{old_table}__mv", f"{old_table}__hour", f"{old_table}__hour__mv"}
    new_table = rollup_table(applied_kpis(store, db)["orders"])
    assert {new_table, f"{new_table}__mv", f"{new_table}__hour", f"{new_table}__hour__mv"} <= tables
    history = [(v.name, v.change, v.applied_by) for v in KpiHistory.parse(store.fetch(KpiHistory(db)))]
    assert history[3:] == [
        ("conversion", "removed", "tester"),
        ("orders", "changed", "tester"),
        ("sessions", "changed", "tester"),
    ]
    with pytest.raises(KeyError, match="no KPI named 'conversion'"):
        series(store, db, "conversion")


def test_kpis_the_file_omits_stay_in_force_until_an_apply_prunes_them(store, settings) -> None:
    db = settings.clickhouse_database
    land(store, db, events("order.placed", 30) + events("session.started", 90), 0)
    apply(store, settings, catalog())
    conversion_table = {"EU": 20 / 60, "NA": 10 / 30}

    plan, _ = apply(store, settings, catalog(conversion=None, sessions=None), dry_run=True, prune=True)
    assert plan.summary() == "remove: conversion, sessions"  # what --prune would do, nothing done
    plan, _ = apply(store, settings, catalog(conversion=None, sessions=None))
    assert (plan.removed, plan.kept) == ((), ("conversion", "sessions"))
    assert plan.summary() == (
        "nothing to do: every KPI in the file is applied as defined; "
        "would remove with --prune: conversion, sessions"
    )
    assert set(applied_kpis(store, db)) == {"orders", "sessions", "conversion"}
    assert by_region(series(store, db, "conversion")) == conversion_table
    history = [(v.name, v.change) for v in KpiHistory.parse(store.fetch(KpiHistory(db)))]
    assert len(history) == 3 and "removed" not in {change for _, change in history}

    # a kept ratio must still be readable as it is: the file may not drop the dimension it reads
    flat = {"title": "Orders", "events": "order.placed", "aggregation": "count", "dimensions": []}
    with pytest.raises(ConfigError) as refused:
        apply(store, settings, catalog(orders=flat, conversion=None, sessions=None))
    assert [e.path for e in refused.value.errors] == ["kpis.conversion.dimensions[0]"]
    assert by_region(series(store, db, "orders")) == {"EU": 20.0, "NA": 10.0}  # nothing changed

    plan, _ = apply(store, settings, catalog(orders=flat, conversion=None, sessions=None), prune=True)
    assert plan.summary() == "change and rebuild: orders; remove: conversion, sessions"
    assert set(applied_kpis(store, db)) == {"orders"}
    history = [(v.name, v.change) for v in KpiHistory.parse(store.fetch(KpiHistory(db)))]
    assert ("conversion", "removed") in history and ("sessions", "removed") in history


def readme_queries() -> list[str]:
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = text.split("```sql\n", 1)[1].split("```", 1)[0]
    return [sql for sql in block.split(";") if sql.strip()]


def view_rows(store, db: str, kpi: str) -> dict[tuple, tuple]:
    rows = store.fetch(
        Sql(
            "SELECT grain, period, dimension, dimension_value, value, healthy"
            " FROM {db:Identifier}.kpi_values WHERE kpi = {kpi:String}",
            db=db,
            kpi=kpi,
        )
    )
    return {tuple(row[:4]): tuple(row[4:]) for row in rows}


def test_the_bi_view_holds_every_kpi_by_grain_and_dimension_as_the_series_do(store, settings) -> None:
    settings = settings.model_copy(update={"timezone": "Europe/Oslo"})
    db, zone = settings.clickhouse_database, ZoneInfo("Europe/Oslo")
    sessions = events("session.started", 90)
    land(store, db, events("order.placed", 30) + sessions, 0)
    late = [
        dict(e, event_id=f"late-{i}", occurred_at="2025-12-31T23:30:00+00:00") for i, e in enumerate(sessions)
    ]
    land(store, db, late[:7], 1)  # local 2026-01-01 in Oslo, 2025 in UTC
    banded = {
        "title": "Conversion",
        "aggregation": "ratio",
        "numerator": "orders",
        "denominator": "sessions",
        "dimensions": ["region"],
        "health": {"at_or_above": 0.3, "grain": "month"},
    }
    apply(store, settings, catalog(conversion=banded))
    kpis = applied_kpis(store, db)
    for name in ("orders", "sessions", "conversion"):
        rows = view_rows(store, db, name)
        expected = {}
        for grain in (Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.QUARTER, Grain.YEAR):
            for by in ((), ("region",)):
                start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
                for p in kpi_series(store, db, kpis, name, start, end, grain, "Europe/Oslo", by):
                    dimension, value = (by[0], p.group[by[0]]) if by else ("", "")
                    healthy = (
                        kpis[name].health.healthy(p.value)
                        if grain == "month" and name == "conversion"
                        else None
                    )
                    expected[(grain.value, p.period.astimezone(zone).date(), dimension, value)] = (
                        p.value,
                        healthy,
                    )
        assert rows.keys() == expected.keys(), name
        for key, (value, healthy) in expected.items():
            assert rows[key][0] == pytest.approx(value, rel=1e-12), (name, key)
            assert rows[key][1] == healthy, (name, key)
    assert rows[("year", datetime(2026, 1, 1).date(), "", "")][0] == 30 / 97  # the late sessions, local time
    definitions = store.fetch(
        Sql("SELECT name, title, aggregation FROM {db:Identifier}.kpi_definitions ORDER BY name", db=db)
    )
    assert definitions == [
        ("conversion", "Conversion", "ratio"),
        ("orders", "Orders", "count"),
        ("sessions", "Sessions", "count"),
    ]

    results = [  # the README's examples, on this test's database and with a KPI it has
        store.fetch(Sql(sql.replace("okrstream.", f"{db}.").replace("'revenue'", "'orders'")))
        for sql in readme_queries()
    ]
    assert len(results) == 4
    assert results[1] == [(date(2026, 10, 1), "EU", 20.0), (date(2026, 10, 1), "NA", 10.0)]
    assert (date(2026, 11, 1), 30.0, None, None) in results[3]  # no orders a year before

    plan, _ = apply(store, settings, catalog(conversion=None))  # omitted: left in force, in both views
    assert plan.kept == ("conversion",) and view_rows(store, db, "conversion") == rows
    apply(store, settings, catalog(conversion=None), prune=True)  # removed: gone from both views
    assert view_rows(store, db, "conversion") == {}
    assert view_rows(store, db, "orders")
    names = store.fetch(Sql("SELECT name FROM {db:Identifier}.kpi_definitions", db=db))
    assert sorted(names) == [("orders",), ("sessions",)]


def test_readings_carry_the_previous_period_a_year_earlier_and_health(store, settings) -> None:
    db = settings.clickhouse_database

    def orders_at(at: datetime, count: int, tag: str) -> list[dict]:
        return [
            dict(e, event_id=f"{tag}-{i}", occurred_at=at.isoformat())
            for i, e in enumerate(events("order.placed", count))
        ]

    oct_last_year, sep, octo = (datetime(y, m, 5, tzinfo=UTC) for y, m in ((2025, 10), (2026, 9), (2026, 10)))
    land(store, db, orders_at(oct_last_year, 8, "a") + orders_at(sep, 12, "b") + orders_at(octo, 10, "c"), 0)
    banded = {
        "title": "Orders",
        "events": "order.placed",
        "aggregation": "count",
        "dimensions": ["region"],
        "health": {"at_or_above": 11, "grain": "month"},
    }
    apply(store, settings, catalog(orders=banded))
    kpis = applied_kpis(store, db)
    readings = kpi_readings(
        store,
        db,
        kpis,
        "orders",
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
        Grain.MONTH,
        now=DECEMBER,  # both months have ended: judged
    )
    assert [(r.period.month, r.value, r.previous, r.year_ago, r.healthy) for r in readings] == [
        (9, 12.0, 0.0, 0.0, True),  # no orders in August, nor in September a year before: 0
        (10, 10.0, 12.0, 8.0, False),
    ]
    assert readings[1].change == pytest.approx(-1 / 6) and readings[1].year_change == pytest.approx(0.25)
    assert readings[0].change is None  # from nothing: no relative change
    mid_october = datetime(2026, 10, 15, tzinfo=UTC)
    readings = kpi_readings(store, db, kpis, "orders", mid_october, mid_october, Grain.MONTH)
    assert readings == []
    so_far = kpi_readings(
        store,
        db,
        kpis,
        "orders",
        datetime(2026, 10, 1, tzinfo=UTC),
        mid_october,
        Grain.MONTH,
        now=mid_october,
    )
    assert [(r.value, r.healthy) for r in so_far] == [(10.0, None)]  # October has not ended: not judged

    report = kpi_report(
        store,
        db,
        "orders",
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 10, 8, tzinfo=UTC),
        Grain.DAY,
        "UTC",
        now=DECEMBER,
    )
    days = [(p["period"][:10], p["value"], p["previous"], p["healthy"]) for p in report["points"]]
    assert days[3:6] == [  # every day of the window, those without orders too
        ("2026-10-04", 0.0, 0.0, None),
        ("2026-10-05", 10.0, 0.0, None),  # the band judges months, not days
        ("2026-10-06", 0.0, 10.0, None),
    ]
    assert len(days) == 7 and sum(value for _, value, _, _ in days) == 10.0
    assert report["health"]["band"] == {"at_or_above": 11.0, "grain": "month"}
    assert [(p["period"], p["value"], p["healthy"]) for p in report["health"]["periods"]] == [
        ("2026-10-01T00:00:00Z", 10.0, False)
    ]
