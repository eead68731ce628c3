"""Applying KPI definitions (plan, backfill while events stream in, versions) and reading series, on chDB."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from processors._kpis import applied_kpis, apply_kpis, kpi_series
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row, fetch, rollup_table
from processors.clickhouse.kpi_versions import KpiHistory
from schemas import EventTypeRegistry, Grain, KpiCatalog

REGISTRY = EventTypeRegistry.from_mapping(
    {
        "event_types": {
            "order.placed": {"dimensions": {"region": "string"}, "measures": {"amount": "number"}},
            "session.started": {"dimensions": {"region": "string"}},
        }
    }
)
DAY = datetime(2026, 11, 2, tzinfo=UTC)


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


def land(client, database: str, batch: list[dict], offset: int) -> None:
    position = BatchPosition("log", 0, offset, offset)
    rows = [event_row(e, offset, DAY, position) for e in batch]
    InsertRawEvents(database, position, rows).run(client)


def by_region(points) -> dict[str, float | None]:
    return {p.group["region"]: p.value for p in points}


def series(client, database, name: str):
    kpis = applied_kpis(client, database)
    return kpi_series(
        client, database, kpis, name, DAY, DAY + timedelta(days=30), Grain.MONTH, by=("region",)
    )


def apply(client, settings, cat: KpiCatalog, **kwargs):
    lines: list[str] = []
    plan = apply_kpis(
        client,
        settings.clickhouse_database,
        cat,
        "tester",
        settings.dedup_block_window,
        progress=lines.append,
        **kwargs,
    )
    return plan, lines


def test_apply_builds_backfills_and_is_idempotent(store, settings) -> None:
    db = settings.clickhouse_database
    land(store, db, events("order.placed", 30) + events("session.started", 90), 0)
    plan, _ = apply(store, settings, catalog(), dry_run=True)
    assert [k.name for k in plan.created] == ["orders", "sessions", "conversion"]  # inputs first
    assert applied_kpis(store, db) == {}  # a dry run changes nothing

    plan, lines = apply(store, settings, catalog())
    assert plan.summary() == "create: orders, sessions, conversion"
    assert any(line.startswith("orders: backfilled 2026-11, [####################] 30/30") for line in lines)
    assert by_region(series(store, db, "orders")) == {"EU": 20.0, "NA": 10.0}
    assert by_region(series(store, db, "conversion")) == {"EU": 20 / 60, "NA": 10 / 30}

    plan, _ = apply(store, settings, catalog())
    assert plan.empty and plan.summary() == "nothing to do: every KPI is applied as defined"


def test_events_landing_during_a_backfill_are_counted_once(store, settings) -> None:
    db = settings.clickhouse_database
    land(store, db, events("order.placed", 200), 0)
    stop = threading.Event()
    landed = Counter()

    def stream() -> None:  # the sink keeps landing while the KPI is added
        offset = 1
        while not stop.is_set():
            batch = events("order.placed", 20, start=offset * 20 + 1000)
            land(store, db, batch, offset)
            landed.update(e["dimensions"]["region"] for e in batch)
            offset += 1
            stop.wait(0.05)

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        apply(store, settings, catalog(sessions=None, conversion=None))
    finally:
        stop.set()
        streamer.join()
    landed.update(e["dimensions"]["region"] for e in events("order.placed", 200))
    assert sum(landed.values()) > 400  # events really arrived on both sides of the cutoff
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
    plan, _ = apply(store, settings, big)
    assert plan.summary() == "change and rebuild: orders; relabel: sessions; remove: conversion"
    expected = Counter(
        e["dimensions"]["region"] for e in events("order.placed", 30) if e["measures"]["amount"] >= 15
    )
    assert by_region(series(store, db, "orders")) == {k: float(v) for k, v in expected.items()}
    tables = {
        row[0] for row in store.query("SHOW TABLES FROM {db:Identifier}", parameters={"db": db}).result_rows
    }
    assert old_table not in tables and f"{old_table}__mv" not in tables
    history = [(v.name, v.change, v.applied_by) for v in KpiHistory.parse(fetch(store, KpiHistory(db)))]
    assert history[3:] == [
        ("conversion", "removed", "tester"),
        ("orders", "changed", "tester"),
        ("sessions", "changed", "tester"),
    ]
    with pytest.raises(KeyError, match="no KPI named 'conversion'"):
        series(store, db, "conversion")
