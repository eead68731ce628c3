"""KPI read latency: a quarter by day for one KPI, from its rollup and by scanning raw_events.

    .venv/bin/python -m benchmarks.kpi_queries --sizes 1000000,10000000 --repeats 20

One chDB store (this process owns it) grows to each size in turn. Rows are generated in
ClickHouse (`INSERT ... SELECT FROM numbers`): three quarters orders, a quarter sessions, spread
over 2026, with regions, channels, amounts and 20,000 customers. Once the first size is in, the
KPI `revenue` (sum of amount by region and channel) is applied, so those rows are backfilled; the
rows added for later sizes reach the rollup through its materialized view, as live events do.

At each size, in one run: `KpiSeries` (what `kpi show` and the API run) for Q4 2026 by day in
Europe/Oslo, and the same answer computed from raw_events with the same conditions. Both run
`--repeats` times after one warm-up; the answers are checked to agree.

With `--every-aggregation`, the KPIs of the benchmark catalog that read these events are applied
beside `revenue` (one of every stored aggregation: count, avg, min, max, exact and approximate
quantile and distinct count, latest), and each one's storage is printed at each size too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from processors import Store, apply_kpis, load_registry, read_catalog
from processors.clickhouse import (
    RAW_EVENTS_COLUMN_NAMES,
    KpiSeries,
    kpi_conditions,
    rollup_table,
)
from processors.runtime import filesystem
from schemas import Grain, KpiDefinition, Settings

from ._kpi_catalog import TEMPLATES

KPI = """
kpis:
  revenue:
    title: Revenue
    events: order.placed
    aggregation: sum
    measure: amount
    dimensions: [region, channel]
"""
# the benchmark catalog's KPIs over the event types generated here, `revenue` aside (it is KPI)
GENERATED_TYPES = ("order.placed", "session.started")
EVERY_AGGREGATION = "\n".join(
    f"  {name}:\n    title: {name}\n    events: {kind}\n"
    + "".join(f"    {field}: {json.dumps(value)}\n" for field, value in fields.items())
    for name, kind, fields in TEMPLATES
    if kind in GENERATED_TYPES and name != "revenue"
)
ZONE = "Europe/Oslo"
Q4 = (datetime(2026, 10, 1, tzinfo=ZoneInfo(ZONE)), datetime(2027, 1, 1, tzinfo=ZoneInfo(ZONE)))
CHUNK = 1_000_000  # rows per generating insert


# Each raw_events column's value for generated row `number`, in terms of the columns before it.
GENERATED = {
    "event_id": "concat('gen-', toString(number))",
    "source": "'shop'",
    "type": "if(number % 4 = 3, 'session.started', 'order.placed')",
    "occurred_at": "toDateTime64('2026-01-01 00:00:00', 6, 'UTC')"
    " + toIntervalMicrosecond(cityHash64(number, 1) % (365 * 86400000000))",
    "received_at": "occurred_at",
    "subject": "concat('customer-', toString(cityHash64(number, 2) % 20000))",
    "dimensions": "map('region', ['EU', 'NA', 'APAC'][cityHash64(number, 3) % 3 + 1],"
    " 'channel', ['web', 'app'][number % 2 + 1])",
    "measures": "if(type = 'order.placed', map('amount', toFloat64(cityHash64(number, 4) % 900 + 5)),"
    " CAST(map(), 'Map(String, Float64)'))",
    "payload": "''",
    "kafka_log": "'bench'",
    "kafka_partition": "0",
    "kafka_offset": "number",
    "batch_first_offset": "number",
    "batch_last_offset": "number",
    "batch_epoch": "0",
}


@dataclass(frozen=True)
class GenerateRawEvents:
    """Rows first .. first+count-1 of a deterministic event stream over 2026.

    The columns are okrstream's own list: a column added to raw_events without a value here
    stops this benchmark with its name, rather than leaving a row shape of its own to rot.
    """

    database: str
    first: int
    count: int

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        missing = [c for c in RAW_EVENTS_COLUMN_NAMES if c not in GENERATED]
        unknown = [c for c in GENERATED if c not in RAW_EVENTS_COLUMN_NAMES]
        if missing or unknown:
            raise RuntimeError(f"GENERATED and raw_events differ: missing {missing}, unknown {unknown}")
        sql = (
            "INSERT INTO {database:Identifier}.raw_events ("
            + ", ".join(RAW_EVENTS_COLUMN_NAMES)
            + ")\nSELECT\n    "
            + ",\n    ".join(f"{GENERATED[c]} AS {c}" for c in RAW_EVENTS_COLUMN_NAMES)
            + "\nFROM numbers({first:UInt64}, {count:UInt64})"
        )
        return sql, {"database": self.database, "first": self.first, "count": self.count}


@dataclass(frozen=True)
class ScanRawEvents:
    """The answer KpiSeries gives for a `sum` KPI by day, aggregated from raw_events at query time."""

    database: str
    kpi: KpiDefinition
    start: datetime
    end: datetime
    timezone: str

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = kpi_conditions(self.kpi)
        sql = (
            "SELECT\n"
            "    toUnixTimestamp(toStartOfDay(toTimeZone(occurred_at, {tz:String}))) AS period,\n"
            "    sum(measures[{measure:String}]) AS value\n"
            "FROM {database:Identifier}.raw_events\n"
            f"WHERE {where}\n"
            "  AND occurred_at >= {start:DateTime64(6, 'UTC')} AND occurred_at < {end:DateTime64(6, 'UTC')}\n"
            "GROUP BY period\n"
            "ORDER BY period"
        )
        return sql, {
            **params,
            "database": self.database,
            "tz": self.timezone,
            "start": self.start.astimezone(UTC),
            "end": self.end.astimezone(UTC),
        }


@dataclass(frozen=True)
class TableBytes:
    """Bytes on disk of each table's active parts, compressed, as ClickHouse counts them."""

    database: str
    tables: tuple[str, ...]

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "SELECT table, sum(bytes_on_disk)\n"
            "FROM system.parts\n"
            "WHERE database = {database:String} AND active AND table IN {tables:Array(String)}\n"
            "GROUP BY table"
        )
        return sql, {"database": self.database, "tables": list(self.tables)}


def timed(store, statement, repeats: int) -> tuple[list[float], list[tuple]]:
    """Latencies in ms (after one warm-up) and the rows of the last run."""
    rows = store.fetch(statement)
    latencies = []
    for _ in range(repeats):
        started = time.perf_counter()
        rows = store.fetch(statement)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.kpi_queries", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default="1000000,10000000", help="raw_events sizes, ascending")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs of each query per size")
    parser.add_argument("--work-dir", help="where the store goes (default: a fresh temporary dir)")
    parser.add_argument(
        "--every-aggregation", action="store_true", help="also apply and size a KPI of every aggregation"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    data_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="okrstream-kpi-bench-"))
    try:
        settings = Settings(data_dir=data_dir, clickhouse_database="bench", timezone=ZONE)
        _measure(settings, sizes, args.repeats, args.every_aggregation)
    finally:
        if not args.work_dir:  # a store asked for is kept; a temporary one is not
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _measure(settings: Settings, sizes: list[int], repeats: int, every_aggregation: bool) -> None:
    """Grow the store to each size in turn; time both reads at each."""
    store = Store.connect(settings)
    store.ensure_schema(settings)
    catalog = read_catalog(KPI + (EVERY_AGGREGATION if every_aggregation else ""), load_registry(settings))
    kpi = catalog.kpis["revenue"]
    print(
        f"store {settings.data_dir} ({filesystem(settings.data_dir)});"
        f" KPI revenue (sum of amount by region, channel); Q4 2026 by day, {ZONE}"
    )
    print(f"{'events':>12}  {'fill s':>7}  {'rollup ms p50/p95':>18}  {'raw scan ms p50/p95':>20}  speed-up")
    filled = 0
    for size in sizes:
        started = time.perf_counter()
        while filled < size:
            count = min(CHUNK, size - filled)
            store.execute(GenerateRawEvents(settings.clickhouse_database, filled, count))
            filled += count
        if size == sizes[0]:  # the first size's rows are backfilled; later rows go through the view
            apply_started = time.perf_counter()
            apply_kpis(store, settings, catalog, "benchmark", progress=lambda *_: None)
            applied_s = time.perf_counter() - apply_started
            names = ", ".join(catalog.kpis)
            print(f"  applied {names} over {size:,} events (backfill included) in {applied_s:.1f}s")
        fill_s = time.perf_counter() - started
        series = KpiSeries(settings.clickhouse_database, kpi, *Q4, Grain.DAY, ZONE)
        scan = ScanRawEvents(settings.clickhouse_database, kpi, *Q4, ZONE)
        rollup_ms, rollup_rows = timed(store, series, repeats)
        scan_ms, scan_rows = timed(store, scan, repeats)
        assert len(rollup_rows) == len(scan_rows) == 92, (len(rollup_rows), len(scan_rows))
        for (p1, v1), (p2, v2) in zip(rollup_rows, scan_rows, strict=True):
            assert p1 == p2 and abs(v1 - v2) <= 1e-9 * abs(v2), (p1, v1, p2, v2)
        r50, s50 = statistics.median(rollup_ms), statistics.median(scan_ms)
        rollup, scanned = f"{r50:>8.1f} / {_p95(rollup_ms):>7.1f}", f"{s50:>9.1f} / {_p95(scan_ms):>8.1f}"
        print(f"{size:>12,}  {fill_s:>7.1f}  {rollup}  {scanned}  {s50 / r50:>6.1f}x", flush=True)
        minute = rollup_table(kpi)
        tables = ("raw_events", minute, f"{minute}__hour")
        sizes_on_disk = dict(store.fetch(TableBytes(settings.clickhouse_database, tables)))
        per_million = {t: int(sizes_on_disk.get(t, 0)) / (size / 1e6) for t in tables}
        print(
            f"{'':>12}  bytes per million events: raw_events {per_million['raw_events']:,.0f},"
            f" revenue's minute rollup {per_million[minute]:,.0f},"
            f" its hourly level {per_million[f'{minute}__hour']:,.0f}"
            f" (read from the {'hourly level' if series.reads_hours() else 'minute rollup'})",
            flush=True,
        )
        for other in catalog.kpis.values():
            if other.name != "revenue":
                _print_storage(store, settings.clickhouse_database, other, size)
    store.close()


def _print_storage(store: Store, database: str, kpi: KpiDefinition, size: int) -> None:
    minute = rollup_table(kpi)
    on_disk = dict(store.fetch(TableBytes(database, (minute, f"{minute}__hour"))))
    kind = kpi.aggregation.value + (", approximate" if kpi.approximate else "")
    print(
        f"{'':>12}  bytes per million events: {kpi.name} ({kind}) minute rollup"
        f" {int(on_disk.get(minute, 0)) / (size / 1e6):,.0f},"
        f" hourly level {int(on_disk.get(f'{minute}__hour', 0)) / (size / 1e6):,.0f}",
        flush=True,
    )


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


if __name__ == "__main__":
    raise SystemExit(main())
