"""The touch index alone: how long the sink's hook takes to find the key results a block moves.

The freshness benchmark's 50 key results over `order.placed` (benchmarks/okr_freshness.py), and
blocks of events as its producer makes them (one `occurred_at` and `received_at` per block, a
random region and channel each); the median time per event over the blocks, on one core.

    .venv/bin/python -m benchmarks.touch_index [--key-results 50] [--block 500] [--blocks 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import yaml

from processors import load_registry, read_catalog
from schemas import LandedEvent, OkrCatalog, Settings, TouchIndex

from .okr_freshness import CHANNELS, REGIONS, key_result_specs, kpis_yaml, okrs_yaml, run_period


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key-results", type=int, default=50)
    parser.add_argument("--block", type=int, default=500, help="events per landed block")
    parser.add_argument("--blocks", type=int, default=200)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    kpis = read_catalog(kpis_yaml(), load_registry(Settings())).kpis
    okrs = yaml.safe_load(okrs_yaml(key_result_specs(args.key_results), run_period(now.date())))
    index = TouchIndex(OkrCatalog.from_mapping(okrs, kpis).objectives, kpis, ZoneInfo("UTC"))
    rng = random.Random(1)
    blocks = [
        [
            LandedEvent(
                "order.placed", now, {"region": rng.choice(REGIONS), "channel": rng.choice(CHANNELS)}, now
            )
            for _ in range(args.block)
        ]
        for _ in range(args.blocks)
    ]
    per_event, touches = [], 0
    for block in blocks:
        started = time.perf_counter()
        touches += len(index.touched(block))
        per_event.append((time.perf_counter() - started) / len(block))
    median = statistics.median(per_event)
    print(
        f"{args.key_results} key results, {args.blocks} blocks of {args.block} events:"
        f" median {median * 1e6:.1f} us per event ({median * args.block * 1e3:.1f} ms per block),"
        f" {touches / args.blocks:.0f} touches per block"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
