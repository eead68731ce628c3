"""The scorer's read alone: how long `MetricValues` takes for the freshness benchmark's 50 key results.

The 3 KPIs and 50 key-result slices of benchmarks/okr_freshness.py, on a fresh chDB store holding
`--events` order.placed events spread over the quarter to date (half landed before the KPIs were
applied, so the rollups hold both backfilled and live parts). Median, min and max per read
(`to_sql`, the query, `parse`) over `--reads` reads after two warm-up reads, from the rollups and
as of now (from raw_events), on one client.

    .venv/bin/python -m benchmarks.key_result_values [--events 100000] [--reads 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from processors import open_store
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row, fetch
from processors.clickhouse.key_result_values import MetricRequest, MetricValues
from processors.kpi._kpis import apply_kpis, read_catalog
from processors.runtime._runtime import load_registry
from schemas import Settings

from .okr_freshness import CHANNELS, REGIONS, key_result_specs, kpis_yaml


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    quarter = datetime(now.year, 3 * ((now.month - 1) // 3) + 1, 1, tzinfo=UTC)
    catalog = read_catalog(kpis_yaml(), load_registry(Settings()))
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="okrstream-krv-")), clickhouse_database="bench")
    rng = random.Random(1)
    span = int((now - quarter).total_seconds()) - 60
    events = [
        {
            "event_id": f"e{i}",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": (quarter + timedelta(seconds=rng.randint(0, span))).isoformat(),
            "dimensions": {"region": rng.choice(REGIONS), "channel": rng.choice(CHANNELS)},
            "measures": {"amount": rng.randint(5, 900), "items": rng.randint(1, 6)},
        }
        for i in range(args.events)
    ]
    with open_store(settings) as client:
        half = len(events) // 2
        for log, part in (("a", events[:half]), ("b", events[half:])):
            position = BatchPosition(log, 0, 0, len(part) - 1)
            rows = [event_row(e, i, now, position) for i, e in enumerate(part)]
            InsertRawEvents(settings.clickhouse_database, position, rows).run(client)
            if log == "a":
                apply_kpis(client, settings, catalog, "benchmark", progress=lambda *_: None)
        kpis = catalog.kpis
        end = now + timedelta(seconds=1)
        requests = tuple(
            MetricRequest(kr.id, kpis[kr.kpi], quarter, end, kr.filters) for kr in key_result_specs(50)
        )
        print(f"{args.events:,} events, {len(requests)} key results over {len(kpis)} KPIs, quarter to date")
        for label, landed_by in (("rollups", None), ("as of now", datetime.now(UTC))):
            query = MetricValues(settings.clickhouse_database, requests, landed_by)
            branches = query.to_sql()[0].count("UNION ALL") + 1
            for _ in range(2):
                query.parse(fetch(client, query))
            ms = []
            for _ in range(args.reads):
                started = time.perf_counter()
                query.parse(fetch(client, query))
                ms.append((time.perf_counter() - started) * 1000)
            print(
                f"{label}: {branches} UNION branches, median {statistics.median(ms):.1f} ms,"
                f" min {min(ms):.1f}, max {max(ms):.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
