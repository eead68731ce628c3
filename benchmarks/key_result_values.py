"""The scorer's read alone: how long `MetricValues` takes for the freshness benchmark's 50 key results.

The 3 KPIs and 50 key-result slices of benchmarks/okr_freshness.py, on a fresh chDB store holding
`--events` order.placed events spread over a quarter's length (92 days) up to now (half landed
before the KPIs were applied, so the rollups hold both backfilled and live parts). A fixed length,
not the calendar quarter to date, so the work does not depend on the day it runs (and the first
minute of a quarter has room for events). Median, min and max per read (`to_sql`, the query,
`parse`) over `--reads` reads after two warm-up reads, from the rollups and as of now (from
raw_events), on one connection to the store. The store is removed afterwards.

    .venv/bin/python -m benchmarks.key_result_values [--events 100000] [--reads 30]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from processors import apply_kpis, load_registry, open_store, read_catalog
from processors.clickhouse import (
    BatchPosition,
    InsertRawEvents,
    MetricRequest,
    MetricValues,
    event_row,
)
from schemas import Settings

from ._machine import machine
from .okr_freshness import CHANNELS, REGIONS, key_result_specs, kpis_yaml

WINDOW = timedelta(days=92)  # the key results' window, ending now: a quarter's length


def window_events(count: int, now: datetime) -> tuple[datetime, list[dict[str, Any]]]:
    """The window's start (a whole minute, as rollups store them) and `count` events inside it, before now."""
    start = (now - WINDOW).replace(second=0, microsecond=0)
    span = int((WINDOW - timedelta(minutes=1)).total_seconds())  # every event a minute or more before now
    rng = random.Random(1)
    events = [
        {
            "event_id": f"e{i}",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": (start + timedelta(seconds=rng.randint(0, span))).isoformat(),
            "dimensions": {"region": rng.choice(REGIONS), "channel": rng.choice(CHANNELS)},
            "measures": {"amount": rng.randint(5, 900), "items": rng.randint(1, 6)},
        }
        for i in range(count)
    ]
    return start, events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    start, events = window_events(args.events, now)
    catalog = read_catalog(kpis_yaml(), load_registry(Settings()))
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="okrstream-krv-")), clickhouse_database="bench")
    print(f"machine: {machine(settings.data_dir)}")
    try:
        with open_store(settings) as store:
            half = len(events) // 2
            for log, part in (("a", events[:half]), ("b", events[half:])):
                position = BatchPosition(log, 0, 0, len(part) - 1)
                rows = [event_row(e, i, now, position) for i, e in enumerate(part)]
                store.insert(InsertRawEvents(settings.clickhouse_database, position, rows))
                if log == "a":
                    apply_kpis(store, settings, catalog, "benchmark", progress=lambda *_: None)
            kpis = catalog.kpis
            end = now + timedelta(seconds=1)
            requests = tuple(
                MetricRequest(kr.id, kpis[kr.kpi], start, end, kr.filters) for kr in key_result_specs(50)
            )
            print(f"{args.events:,} events, {len(requests)} key results over {len(kpis)} KPIs, last 92 days")
            for label, landed_by in (("rollups", None), ("as of now", datetime.now(UTC))):
                query = MetricValues(settings.clickhouse_database, requests, landed_by)
                # the branches, not the two levels inside one: those are indented
                branches = query.to_sql()[0].count("\nUNION ALL\n") + 1
                for _ in range(2):
                    query.parse(store.fetch(query))
                ms = []
                for _ in range(args.reads):
                    started = time.perf_counter()
                    query.parse(store.fetch(query))
                    ms.append((time.perf_counter() - started) * 1000)
                print(
                    f"{label}: {branches} UNION branches, median {statistics.median(ms):.1f} ms,"
                    f" min {min(ms):.1f}, max {max(ms):.1f}"
                )
    finally:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
