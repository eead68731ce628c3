"""KPI rollups: exact SQL of the view, backfill and series, and values against plain Python on chDB.

Half of the events land before the KPI exists (the backfill's share), half after (the view's),
with late events, resends of landed blocks and several UTC offsets across period boundaries.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from processors.clickhouse.kpi_backfill import BackfillKpiRollup, BackfillMonths
from processors.clickhouse.kpi_rollup_ddl import (
    CreateKpiHourlyView,
    CreateKpiRollup,
    CreateKpiView,
    DropKpiRollup,
    ExistingTables,
    hourly_of,
    rollup_table,
)
from processors.clickhouse.kpi_series import KpiSeries
from schemas import EventTypeRegistry, Grain, KpiCatalog
from tests.conftest import Sql, store_now

REGISTRY = EventTypeRegistry.from_mapping(
    {
        "event_types": {
            "order.placed": {
                "dimensions": {"region": "string", "channel": "string"},
                "measures": {"amount": "number"},
            },
            "deal.closed": {"dimensions": {"region": "string"}, "measures": {"amount": "number"}},
        }
    }
)


def on_orders(aggregation: str, **fields) -> dict:
    return {"title": aggregation, "events": "order.placed", "aggregation": aggregation, **fields}


KPIS = KpiCatalog.from_mapping(
    {
        "kpis": {
            "orders": on_orders("count"),
            "revenue": on_orders("sum", measure="amount", dimensions=["region", "channel"]),
            "avg_order": on_orders("avg", measure="amount"),
            "min_order": on_orders("min", measure="amount"),
            "max_order": on_orders("max", measure="amount"),
            "buyers": on_orders("count_distinct", of="subject"),
            "regions": on_orders("count_distinct", of="dimensions.region"),
            "p90_order": on_orders("quantile", quantile=0.9, measure="amount"),
            "last_order": on_orders("latest", measure="amount"),
            # one KPI per filter operator, each against the same filter in plain Python (FILTERED)
            "eu_orders": on_orders(
                "count", filters=[{"field": "dimensions.region", "op": "eq", "value": "EU"}]
            ),
            "web_orders": on_orders(
                "count", filters=[{"field": "dimensions.channel", "op": "ne", "value": "app"}]
            ),
            "small_sum": on_orders(
                "sum", measure="amount", filters=[{"field": "measures.amount", "op": "lt", "value": 250}]
            ),
            "upto_250": on_orders("count", filters=[{"field": "measures.amount", "op": "lte", "value": 250}]),
            "from_250": on_orders("count", filters=[{"field": "measures.amount", "op": "gte", "value": 250}]),
            "above_250": on_orders("count", filters=[{"field": "measures.amount", "op": "gt", "value": 250}]),
            "big_deals": {
                "title": "Big deals",
                "events": "deal.closed",
                "aggregation": "count",
                "filters": [
                    {"field": "measures.amount", "op": "gt", "value": 100000},
                    {"field": "dimensions.region", "op": "in", "value": ["EU", "NA"]},
                ],
                "dimensions": ["region"],
            },
        }
    },
    REGISTRY,
)

# -- exact SQL ----------------------------------------------------------------------------------

BIG_DEALS_VIEW = """CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.{view:Identifier}
TO {database:Identifier}.{table:Identifier}
AS SELECT
    toStartOfMinute(occurred_at) AS bucket,
    dimensions[{d0_key:String}] AS d0,
    countState() AS value
FROM {database:Identifier}.raw_events
WHERE type IN {types:Array(String)}
  AND mapContains(measures, {f0_key:String})
  AND measures[{f0_key:String}] > {f0:Float64}
  AND mapContains(dimensions, {f1_key:String})
  AND dimensions[{f1_key:String}] IN {f1:Array(String)}
  AND landed_at >= {landed_cutoff:DateTime64(6, 'UTC')}
GROUP BY bucket, d0"""

P90_ROLLUP = """CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier} (
    bucket DateTime('UTC'),
    value AggregateFunction(quantileExactInclusive({level:Float64}), Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket)
SETTINGS non_replicated_deduplication_window = {dedup_window:UInt64}"""

REVENUE_BY_REGION = """SELECT
    toUnixTimestamp(toDateTime(toStartOfQuarter(toTimeZone(bucket, {tz:String})), {tz:String})) AS period,
    d0,
    sumMerge(value) AS value
FROM {database:Identifier}.{table:Identifier}
WHERE bucket >= {start:DateTime('UTC')} AND bucket < {end:DateTime('UTC')}
GROUP BY period, d0
ORDER BY period, d0"""

P90_HOURLY_VIEW = """CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.{view:Identifier}
TO {database:Identifier}.{table:Identifier}
AS SELECT
    toStartOfHour(bucket) AS bucket,
    quantileExactInclusiveMergeState({level:Float64})(value) AS value
FROM {database:Identifier}.{source:Identifier}
GROUP BY bucket"""

REVENUE_HOURLY_VIEW = """CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.{view:Identifier}
TO {database:Identifier}.{table:Identifier}
AS SELECT
    toStartOfHour(bucket) AS bucket,
    d0,
    d1,
    sumMergeState(value) AS value
FROM {database:Identifier}.{source:Identifier}
GROUP BY bucket, d0, d1"""

CUT = datetime(2026, 11, 1, tzinfo=UTC)
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("statement", "sql", "params"),
    [
        pytest.param(
            CreateKpiView("db", KPIS.kpis["big_deals"], CUT),
            BIG_DEALS_VIEW,
            {
                "d0_key": "region",
                "types": ["deal.closed"],
                "f0_key": "amount",
                "f0": 100000.0,
                "f1_key": "region",
                "f1": ["EU", "NA"],
                "landed_cutoff": CUT,
                "database": "db",
                "view": f"{rollup_table(KPIS.kpis['big_deals'])}__mv",
                "table": rollup_table(KPIS.kpis["big_deals"]),
            },
            id="view-count-with-filters",
        ),
        pytest.param(
            CreateKpiRollup("db", KPIS.kpis["p90_order"], 1000),
            P90_ROLLUP,
            {
                "level": 0.9,
                "measure": "amount",
                "database": "db",
                "table": rollup_table(KPIS.kpis["p90_order"]),
                "dedup_window": 1000,
            },
            id="rollup-quantile",
        ),
        pytest.param(
            KpiSeries("db", KPIS.kpis["revenue"], START, END, Grain.QUARTER, "Europe/Oslo", by=("region",)),
            REVENUE_BY_REGION,
            {
                "measure": "amount",
                "database": "db",
                "table": hourly_of(rollup_table(KPIS.kpis["revenue"])),
                "tz": "Europe/Oslo",
                "start": START,
                "end": END,
            },
            id="series-quarter-by-region-from-hours",
        ),
        pytest.param(
            CreateKpiHourlyView("db", KPIS.kpis["p90_order"]),
            P90_HOURLY_VIEW,
            {
                "level": 0.9,
                "database": "db",
                "view": f"{rollup_table(KPIS.kpis['p90_order'])}__hour__mv",
                "table": f"{rollup_table(KPIS.kpis['p90_order'])}__hour",
                "source": rollup_table(KPIS.kpis["p90_order"]),
            },
            id="hourly-view-quantile",
        ),
        pytest.param(
            CreateKpiHourlyView("db", KPIS.kpis["revenue"]),
            REVENUE_HOURLY_VIEW,
            {
                "database": "db",
                "view": f"{rollup_table(KPIS.kpis['revenue'])}__hour__mv",
                "table": f"{rollup_table(KPIS.kpis['revenue'])}__hour",
                "source": rollup_table(KPIS.kpis["revenue"]),
            },
            id="hourly-view-by-dimensions",
        ),
        pytest.param(
            ExistingTables("db", ("kpi_x__abc__hour",)),
            "SELECT name\nFROM system.tables\n"
            "WHERE database = {database:String} AND name IN {tables:Array(String)}",
            {"database": "db", "tables": ["kpi_x__abc__hour"]},
            id="existing-tables",
        ),
        pytest.param(
            CreateKpiRollup("db", KPIS.kpis["p90_order"], 1000, hourly=True),
            P90_ROLLUP.replace("toYYYYMM(bucket)", "toYear(bucket)"),
            {
                "level": 0.9,
                "measure": "amount",
                "database": "db",
                "table": f"{rollup_table(KPIS.kpis['p90_order'])}__hour",
                "dedup_window": 1000,
            },
            id="rollup-hourly-quantile",
        ),
    ],
)
def test_to_sql(statement, sql: str, params: dict) -> None:
    assert statement.to_sql() == (sql, params)


def test_drop_takes_both_levels_views_first() -> None:
    view = "DROP VIEW IF EXISTS {database:Identifier}.{view:Identifier}"
    table = "DROP TABLE IF EXISTS {database:Identifier}.{table:Identifier}"
    assert DropKpiRollup("db", "kpi_x__abc").statements() == [
        (view, {"database": "db", "view": "kpi_x__abc__mv"}),
        (view, {"database": "db", "view": "kpi_x__abc__hour__mv"}),
        (table, {"database": "db", "table": "kpi_x__abc"}),
        (table, {"database": "db", "table": "kpi_x__abc__hour"}),
    ]


@pytest.mark.parametrize(
    ("grain", "zone", "start", "end", "hours"),
    [
        (Grain.DAY, "Europe/Oslo", START, END, True),
        (Grain.HOUR, "America/New_York", START, END, True),
        (Grain.MINUTE, "UTC", START, END, False),  # minutes are only in the minute rollup
        (Grain.DAY, "Asia/Kolkata", START, END, False),  # +05:30: its days start at :30 UTC
        (Grain.DAY, "Australia/Lord_Howe", START, END, False),  # +10:30, +11 in summer
        (Grain.DAY, "UTC", START + timedelta(minutes=5), END, False),  # not on the hour
    ],
)
def test_reads_by_hour_and_longer_on_whole_hours_go_to_the_hourly_level(
    grain, zone, start, end, hours
) -> None:
    assert KpiSeries("db", KPIS.kpis["orders"], start, end, grain, zone).reads_hours() is hours


def test_the_backfill_runs_the_views_query_below_the_cutoff_for_one_month() -> None:
    sql, params = BackfillKpiRollup("db", KPIS.kpis["orders"], CUT, 202610).to_sql()
    assert sql.startswith("INSERT INTO {database:Identifier}.{table:Identifier}\nSELECT\n")
    assert (
        "landed_at < {landed_cutoff:DateTime64(6, 'UTC')} AND toYYYYMM(occurred_at) = {month:UInt32}" in sql
    )
    assert (params["landed_cutoff"], params["month"], params["types"]) == (CUT, 202610, ["order.placed"])


def test_a_series_refuses_a_break_down_the_kpi_does_not_allow() -> None:
    with pytest.raises(ValueError, match="cannot be broken down by \\['channel'\\]; allowed: none"):
        KpiSeries("db", KPIS.kpis["orders"], START, END, by=("channel",))


# -- against the engine -------------------------------------------------------------------------

ZONES = [UTC, ZoneInfo("Europe/Oslo"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]  # +05:30


def make_events(rng: random.Random, count: int) -> list[dict]:
    """Orders and deals around quarter, month, week and daylight-saving boundaries."""
    anchors = [datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 6, 30, 21, 45, tzinfo=UTC)]
    anchors += [datetime(2026, 9, 30, 22, 10, tzinfo=UTC), datetime(2026, 10, 25, 0, 50, tzinfo=UTC)]
    events = []
    for i in range(count):
        at = rng.choice(anchors) + timedelta(minutes=rng.randint(-600, 600), seconds=rng.randint(0, 59))
        kind = "deal.closed" if i % 5 == 0 else "order.placed"
        dims = {"region": rng.choice(["EU", "NA", "APAC"])}
        if kind == "order.placed":
            dims["channel"] = rng.choice(["web", "app"])
        amount = 250 if i % 50 == 1 else rng.choice([rng.randint(1, 500), rng.randint(50_000, 250_000)])
        events.append(  # 250: every filter boundary below is met exactly, now and then
            {
                "event_id": f"e{i}",
                "type": kind,
                "source": "shop",
                "occurred_at": at.astimezone(rng.choice(ZONES)).isoformat(),
                "subject": f"c{rng.randint(1, 40)}",
                "dimensions": dims,
                "measures": {"amount": amount},
            }
        )
    return events


def land(store, database: str, events: list[dict], first_offset: int) -> None:
    position = BatchPosition("log", 0, first_offset, first_offset)
    received = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [event_row(e, first_offset, received, position) for e in events]
    store.insert(InsertRawEvents(database, position, rows))


def period_start(at: datetime, grain: Grain, zone: ZoneInfo) -> datetime:
    local = at.astimezone(zone)
    if grain in (Grain.MINUTE, Grain.HOUR):  # local clock time: Kolkata's hours start at :30 UTC
        minute = local.replace(second=0, microsecond=0)
        return (minute if grain is Grain.MINUTE else minute.replace(minute=0)).astimezone(UTC)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    start = {
        Grain.DAY: day,
        Grain.WEEK: day - timedelta(days=day.weekday()),
        Grain.MONTH: day.replace(day=1),
        Grain.QUARTER: day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1),
        Grain.YEAR: day.replace(month=1, day=1),
    }[grain]
    return start.replace(tzinfo=zone).astimezone(UTC)


def interpolated(values: list[float], level: float) -> float:
    """An exact quantile as ClickHouse's quantileExactInclusive has it: linear interpolation between ranks."""
    ordered = sorted(values)
    position = level * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


EXPECTED: dict[str, Callable[[list[dict]], float]] = {
    "orders": len,
    "avg_order": lambda es: sum(e["measures"]["amount"] for e in es) / len(es),
    "min_order": lambda es: min(e["measures"]["amount"] for e in es),
    "max_order": lambda es: max(e["measures"]["amount"] for e in es),
    "buyers": lambda es: len({e["subject"] for e in es}),
    "regions": lambda es: len({e["dimensions"]["region"] for e in es}),
    "p90_order": lambda es: interpolated([e["measures"]["amount"] for e in es], 0.9),
    "last_order": lambda es: max(es, key=lambda e: (datetime.fromisoformat(e["occurred_at"]), e["event_id"]))[
        "measures"
    ]["amount"],
}


def expected_series(events, kind, grain, zone, value, by=()) -> dict:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for e in events:
        if e["type"] == kind:
            at = datetime.fromisoformat(e["occurred_at"])
            groups[(period_start(at, grain, zone), *(e["dimensions"][k] for k in by))].append(e)
    return {key: value(es) for key, es in groups.items()}


def actual_series(store, database, kpi, grain, zone, by=()) -> dict:
    query = KpiSeries(database, kpi, START, END, grain, zone.key if zone is not UTC else "UTC", by)
    return {(p.period, *p.group.values()): p.value for p in query.parse(store.fetch(query))}


def build_rollup(store, database: str, kpi, dedup_window: int, cutoff: datetime) -> None:
    """Both levels and their views, in the order apply makes them."""
    store.execute(CreateKpiRollup(database, kpi, dedup_window))
    store.execute(CreateKpiRollup(database, kpi, dedup_window, hourly=True))
    store.execute(CreateKpiHourlyView(database, kpi))
    store.execute(CreateKpiView(database, kpi, cutoff))


@pytest.fixture
def kpi_store(store, settings):
    """raw_events with events on both sides of every KPI's cutoff, resends included."""
    rng = random.Random(5)
    events = make_events(rng, 1500)
    database = settings.clickhouse_database
    land(store, database, events[:700], 0)
    cutoff = store_now(store) + timedelta(seconds=1)  # on the clock that stamps landed_at
    for kpi in KPIS.ordered():
        build_rollup(store, database, kpi, settings.dedup_block_window, cutoff)
    while store_now(store) < cutoff + timedelta(seconds=0.1):
        time.sleep(0.05)
    land(store, database, events[700:], 1)
    land(store, database, events[700:], 1)  # a worker's retry: the same block, the same token
    for kpi in KPIS.ordered():
        for month, _ in BackfillMonths.parse(store.fetch(BackfillMonths(database, kpi, cutoff))):
            store.execute(BackfillKpiRollup(database, kpi, cutoff, month))
    return store, database, events


def test_every_aggregation_grain_and_zone_matches_plain_python(kpi_store) -> None:
    store, database, events = kpi_store
    for grain in Grain:
        for zone in ZONES:
            for name, value in EXPECTED.items():
                expected = expected_series(events, "order.placed", grain, zone, value)
                actual = actual_series(store, database, KPIS.kpis[name], grain, zone)
                assert actual.keys() == expected.keys(), (name, grain, zone)
                for key, number in expected.items():  # float sums may add up in another order
                    assert actual[key] == pytest.approx(number, rel=1e-9), (name, grain, zone, key)


FILTERED: dict[str, tuple[Callable[[dict], bool], Callable[[list[dict]], float]]] = {
    "eu_orders": (lambda e: e["dimensions"]["region"] == "EU", len),
    "web_orders": (lambda e: e["dimensions"]["channel"] != "app", len),
    "small_sum": (
        lambda e: e["measures"]["amount"] < 250,
        lambda es: sum(e["measures"]["amount"] for e in es),
    ),
    "upto_250": (lambda e: e["measures"]["amount"] <= 250, len),
    "from_250": (lambda e: e["measures"]["amount"] >= 250, len),
    "above_250": (lambda e: e["measures"]["amount"] > 250, len),
}


def test_every_filter_operator_matches_plain_python(kpi_store) -> None:
    store, database, events = kpi_store
    assert any(e["measures"]["amount"] == 250 for e in events if e["type"] == "order.placed")  # the boundary
    for name, (keep, value) in FILTERED.items():
        for grain in (Grain.DAY, Grain.MONTH):
            kept = [e for e in events if e["type"] == "order.placed" and keep(e)]
            expected = expected_series(kept, "order.placed", grain, UTC, value)
            assert actual_series(store, database, KPIS.kpis[name], grain, UTC) == pytest.approx(expected), (
                name
            )


def test_sums_by_dimensions_and_filtered_counts_match_plain_python(kpi_store) -> None:
    store, database, events = kpi_store
    oslo = ZoneInfo("Europe/Oslo")
    by = ("region", "channel")
    revenue = expected_series(
        events, "order.placed", Grain.MONTH, oslo, lambda es: sum(e["measures"]["amount"] for e in es), by
    )
    assert actual_series(store, database, KPIS.kpis["revenue"], Grain.MONTH, oslo, by) == pytest.approx(
        revenue
    )
    deals = [
        e for e in events if e["measures"]["amount"] > 100_000 and e["dimensions"]["region"] in ("EU", "NA")
    ]
    big = expected_series(deals, "deal.closed", Grain.QUARTER, oslo, len, ("region",))
    assert actual_series(store, database, KPIS.kpis["big_deals"], Grain.QUARTER, oslo, ("region",)) == big


# -- quantiles on a group far past ClickHouse's 8,192-value sample ----------------------------------

QUANTILES = KpiCatalog.from_mapping(
    {
        "kpis": {
            "p90_exact": on_orders("quantile", quantile=0.9, measure="amount"),
            "p90_approx": on_orders("quantile", quantile=0.9, measure="amount", approximate=True),
            "p50_approx": on_orders("quantile", quantile=0.5, measure="amount", approximate=True),
        }
    },
    REGISTRY,
)
Q4 = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def quarter_value(store, database: str, name: str) -> float:
    query = KpiSeries(database, QUANTILES.kpis[name], *Q4, Grain.QUARTER, "UTC")
    [point] = query.parse(store.fetch(query))
    return point.value


def test_quantiles_of_100000_values_are_the_same_on_every_read_exact_or_within_1_percent(
    store, settings
) -> None:
    database = settings.clickhouse_database
    rng = random.Random(16)
    minutes = int((Q4[1] - Q4[0]).total_seconds() // 60)
    events = [
        {
            "event_id": f"q{i}",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": (Q4[0] + timedelta(minutes=rng.randrange(minutes))).isoformat(),
            "dimensions": {"region": "EU", "channel": "web"},
            "measures": {"amount": round(rng.lognormvariate(5, 1.2), 2)},
        }
        for i in range(100_000)
    ]
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)  # the views take every row landed from then on
    for kpi in QUANTILES.ordered():
        build_rollup(store, database, kpi, settings.dedup_block_window, long_ago)
    for block in range(10):  # ten inserts, so ten parts whose states merge when read and when merged
        land(store, database, events[block * 10_000 : (block + 1) * 10_000], block)
    amounts = [e["measures"]["amount"] for e in events]

    reads = {name: [quarter_value(store, database, name) for _ in range(3)] for name in QUANTILES.kpis}
    for kpi in QUANTILES.ordered():  # merge every part into one: the states merge on disk too
        for table in (rollup_table(kpi), hourly_of(rollup_table(kpi))):
            store.execute(
                Sql(
                    "OPTIMIZE TABLE {database:Identifier}.{table:Identifier} FINAL",
                    database=database,
                    table=table,
                )
            )
        reads[kpi.name].append(quarter_value(store, database, kpi.name))

    assert all(len(set(values)) == 1 for values in reads.values()), reads  # deterministic
    assert reads["p90_exact"][0] == pytest.approx(interpolated(amounts, 0.9), rel=1e-12)
    for name, level in (("p90_approx", 0.9), ("p50_approx", 0.5)):
        exact = interpolated(amounts, level)
        assert abs(reads[name][0] - exact) <= 0.01 * exact, (name, reads[name][0], exact)
