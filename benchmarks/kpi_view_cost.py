"""What N KPIs cost an insert into raw_events: a view per KPI and level, or one shared long-format view.

    .venv/bin/python -m benchmarks.kpi_view_cost --kpis 50 --rows 50 --inserts 40

A design measurement for the KPI ingest target (the end-to-end benchmark measures okrstream as it
ships). One chDB store in this process holds four databases, each with okrstream's own raw_events:

- none:  no KPIs, the floor;
- views: okrstream's layout, per KPI a minute rollup and an hourly level, each an
         AggregatingMergeTree fed by its own materialized view (2 views and 2 parts per KPI);
- long:  the same KPIs in one minute table keyed by KPI, fed by one view whose rows are an
         ARRAY JOIN of every KPI's condition, and one hourly level (2 views and 2 parts in all);
         each KPI brings its own value and break-down into the join, as KPIs in general would;
- long_index: as long, for KPIs that share one value and one break-down (one event type and
         state type), which join only the indexes of the conditions that hold.

The KPIs are all alike: the sum of `amount` of `order.placed` by region, each with its own
threshold (`amount >= i`), so that no two are the same. Every insert is one sink block as the sink
writes it (`InsertRawEvents`: its token, dedup in every table of the chain), the same rows into
each database, the databases taking turns; the first `--warmup` inserts are not timed. At the end
both long layouts' states, merged per KPI, minute (hour) and region, are checked against the views'.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from processors import Store
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from schemas import Settings

from ._events import make_events
from ._machine import commit, machine, versions

LAYOUTS = ("none", "views", "long", "long_index")
DEDUP_WINDOW = 1000  # as okrstream's rollups: each table keeps the last tokens
RECEIVED = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Sql:
    """A statement with its parameters bound by ClickHouse, as okrstream's own statements are."""

    sql: str
    params: dict[str, Any]

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return self.sql, self.params


def _rollup(table: str, keyed: bool) -> str:
    """A rollup as okrstream makes its minute rollup; `keyed` adds the KPI's name in front of its key.

    okrstream partitions its hourly level by year, not month: the same parts here, where every
    event falls in one month.
    """
    return (
        f"CREATE TABLE {{db:Identifier}}.{table} (\n"
        f"    {'kpi String, ' if keyed else ''}bucket DateTime('UTC'),\n"
        "    d0 String,\n"
        "    value AggregateFunction(sum, Float64)\n"
        ") ENGINE = AggregatingMergeTree\n"
        "PARTITION BY toYYYYMM(bucket)\n"
        f"ORDER BY ({'kpi, ' if keyed else ''}bucket, d0)\n"
        "SETTINGS non_replicated_deduplication_window = {window:UInt64}"
    )


def _hourly_view(view: str, table: str, source: str, key: str) -> str:
    return (
        f"CREATE MATERIALIZED VIEW {{db:Identifier}}.{view} TO {{db:Identifier}}.{table} AS\n"
        f"SELECT {key}toStartOfHour(bucket) AS bucket, d0, sumMergeState(value) AS value\n"
        f"FROM {{db:Identifier}}.{source}\n"
        f"GROUP BY {key}bucket, d0"
    )


def views_layout(kpis: int) -> list[str]:
    """okrstream's layout for these KPIs: per KPI a minute rollup, an hourly level, and their views."""
    statements = []
    for i in range(kpis):
        statements += [
            _rollup(f"k{i}", keyed=False),
            _rollup(f"k{i}__hour", keyed=False),
            f"CREATE MATERIALIZED VIEW {{db:Identifier}}.k{i}__mv TO {{db:Identifier}}.k{i} AS\n"
            "SELECT toStartOfMinute(occurred_at) AS bucket, dimensions['region'] AS d0,\n"
            "    sumState(measures['amount']) AS value\n"
            "FROM {db:Identifier}.raw_events\n"
            f"WHERE type = 'order.placed' AND measures['amount'] >= {i}\n"
            "GROUP BY bucket, d0",
            _hourly_view(f"k{i}__hour__mv", f"k{i}__hour", f"k{i}", ""),
        ]
    return statements


def long_layout(kpis: int) -> list[str]:
    """The same KPIs in one table keyed by KPI, one view writing all of them, and one hourly level."""
    items = ",\n        ".join(
        f"if(type = 'order.placed' AND measures['amount'] >= {i},"
        f" ('k{i}', dimensions['region'], measures['amount']), ('', '', 0.))"
        for i in range(kpis)
    )
    return [
        _rollup("kpis", keyed=True),
        _rollup("kpis__hour", keyed=True),
        "CREATE MATERIALIZED VIEW {db:Identifier}.kpis__mv TO {db:Identifier}.kpis AS\n"
        "SELECT x.1 AS kpi, toStartOfMinute(occurred_at) AS bucket, x.2 AS d0, sumState(x.3) AS value\n"
        "FROM {db:Identifier}.raw_events\n"
        f"ARRAY JOIN arrayFilter(y -> y.1 != '', [\n        {items}\n    ]) AS x\n"
        "GROUP BY kpi, bucket, d0",
        _hourly_view("kpis__hour__mv", "kpis__hour", "kpis", "kpi, "),
    ]


def long_index_layout(kpis: int) -> list[str]:
    """As long, for KPIs that share one value and one break-down: the row's KPIs as indexes of the
    conditions that hold, so no value is copied per KPI (the name is made from the index)."""
    conditions = ", ".join(f"type = 'order.placed' AND measures['amount'] >= {i}" for i in range(kpis))
    return [
        _rollup("kpis", keyed=True),
        _rollup("kpis__hour", keyed=True),
        "CREATE MATERIALIZED VIEW {db:Identifier}.kpis__mv TO {db:Identifier}.kpis AS\n"
        "SELECT concat('k', toString(i)) AS kpi, toStartOfMinute(occurred_at) AS bucket,\n"
        "    dimensions['region'] AS d0, sumState(measures['amount']) AS value\n"
        "FROM {db:Identifier}.raw_events\n"
        f"ARRAY JOIN arrayFilter((i, holds) -> holds, range({kpis}), [{conditions}]) AS i\n"
        "GROUP BY kpi, bucket, d0",
        _hourly_view("kpis__hour__mv", "kpis__hour", "kpis", "kpi, "),
    ]


def rows_of(kpi: int, level: str, store: Store, layout: str) -> list[tuple[Any, ...]]:
    """A KPI's merged states per bucket and region, at `level` ("" minute, "__hour" hourly)."""
    if layout == "views":
        table, where, params = f"k{kpi}{level}", "", {}
    else:
        table, where, params = f"kpis{level}", "WHERE kpi = {kpi:String}", {"kpi": f"k{kpi}"}
    sql = (
        f"SELECT bucket, d0, sumMerge(value) FROM {{db:Identifier}}.{table} {where}"
        " GROUP BY bucket, d0 ORDER BY bucket, d0"
    )
    return store.fetch(Sql(sql, {**params, "db": layout}))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    work = Path(tempfile.mkdtemp(prefix="kpi-view-cost-", dir=args.work_dir))
    store = Store.connect(Settings(data_dir=work))
    try:
        for layout in LAYOUTS:
            store.ensure_schema(Settings(data_dir=work, clickhouse_database=layout))
        layouts = {
            "views": views_layout(args.kpis),
            "long": long_layout(args.kpis),
            "long_index": long_index_layout(args.kpis),
        }
        for layout, statements in layouts.items():
            for sql in statements:
                store.execute(Sql(sql, {"db": layout, "window": DEDUP_WINDOW}))
        print(f"okrstream KPI view cost benchmark, {date.today()}, commit {commit()}")
        print(f"machine: {machine(work)}, {versions(['chdb-core', 'clickhouse-connect'])}")
        print(
            f"{args.kpis} KPIs (sum of amount by region, each with its own threshold), blocks of {args.rows}"
            f" rows, {args.inserts} timed inserts per layout after {args.warmup}, the layouts taking turns"
        )
        seconds = _time_inserts(store, args.rows, args.inserts + args.warmup)
        floor = statistics.median(seconds["none"][args.warmup :])
        for layout in LAYOUTS:
            timed = seconds[layout][args.warmup :]
            p50 = statistics.median(timed)
            print(
                f"  {layout:<10} p50 {p50 * 1e3:7.1f} ms  mean {statistics.mean(timed) * 1e3:7.1f} ms"
                f"  floor/this {floor / p50:5.2f}x"
            )
        compared = 0
        for level in ("", "__hour"):
            for kpi in range(args.kpis):
                views = rows_of(kpi, level, store, "views")
                for layout in ("long", "long_index"):
                    if rows_of(kpi, level, store, layout) != views:
                        raise SystemExit(f"k{kpi}{level}: the {layout} layout disagrees with the views")
                compared += len(views)
        if compared == 0:
            raise SystemExit("no KPI has a row: nothing was compared")
        print(
            f"  answers: views, long and long_index agree on all {compared:,} rows"
            " (KPI, minute or hour, region)"
        )
    finally:
        store.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _time_inserts(store: Store, rows: int, inserts: int) -> dict[str, list[float]]:
    events = make_events(rows * inserts)
    seconds: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
    for i in range(inserts):
        first = i * rows
        position = BatchPosition("bench", i % 4, first, first + rows - 1)
        block = [
            event_row(e, first + j, RECEIVED, position) for j, e in enumerate(events[first : first + rows])
        ]
        for layout in LAYOUTS[i % len(LAYOUTS) :] + LAYOUTS[: i % len(LAYOUTS)]:  # each first in turn
            started = time.perf_counter()
            store.insert(InsertRawEvents(layout, position, block))
            seconds[layout].append(time.perf_counter() - started)
    return seconds


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kpis", type=int, default=50)
    parser.add_argument("--rows", type=int, default=50, help="rows per insert (one sink block)")
    parser.add_argument("--inserts", type=int, default=40, help="timed inserts per layout")
    parser.add_argument("--warmup", type=int, default=10, help="inserts per layout before timing")
    parser.add_argument(
        "--work-dir", default=None, help="where the chDB store is made (default: the temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the store")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
