"""The freshness benchmark's producer, in a process of its own (its own GIL): events at a steady rate.

    python -m benchmarks._freshness_producer '{"rate": 1000, ...}'   # settings from OKRSTREAM_* env

Every tick (10 ms) it sends what is due by then (so a late tick catches up), validated as
`okrstream ingest` validates them (`validate_event` with the event-type registry), through
`ingest.EventProducer` with the HTTP writer's 2 ms linger, and flushes: a tick's events are
acknowledged by the broker (acks=all) before the next tick is stamped. All events of a tick
carry one `received_at`, stamped just before they are validated: their produced time. It writes
per tick (received_at in microseconds, timed or warm-up, events per (region, channel) slice) to
`out` as JSON.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest import EventProducer
from processors import load_registry
from schemas import Settings, validate_event

TICK_S = 0.01


def produce(spec: dict[str, Any]) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    registry = load_registry(settings)
    regions, channels = spec["regions"], spec["channels"]
    slices = [(r, c) for r in regions for c in channels]
    rng = random.Random(spec["seed"])
    rate, warmup, total_s = spec["rate"], spec["warmup_s"], spec["warmup_s"] + spec["seconds"]
    total = round(rate * total_s)
    ticks: list[list[Any]] = []
    producer = EventProducer(settings.kafka_bootstrap_servers or "", settings, linger_ms=2)
    sent, behind = 0, 0.0
    cpu0 = time.process_time()
    start = time.monotonic()
    try:
        while sent < total:
            elapsed = time.monotonic() - start
            due = min(total, int(rate * elapsed)) - sent
            if due > 0:
                now = datetime.now(UTC)
                counts = [0] * len(slices)
                events = []
                for i in range(sent, sent + due):
                    s = rng.randrange(len(slices))
                    counts[s] += 1
                    data = {
                        "event_id": f"{spec['prefix']}-{i:08d}",
                        "type": "order.placed",
                        "source": "shop",
                        "occurred_at": now,
                        "subject": f"customer-{rng.randrange(20_000)}",
                        "dimensions": {"region": slices[s][0], "channel": slices[s][1]},
                        "measures": {"amount": rng.randint(5, 900), "items": rng.randint(1, 6)},
                    }
                    events.append(validate_event(data, registry, received_at=now))
                producer.send(events)
                producer.flush()
                stamp = int(now.timestamp() * 1_000_000)
                ticks.append([stamp, int(elapsed >= warmup), counts])
                sent += due
            next_tick = start + (int((time.monotonic() - start) / TICK_S) + 1) * TICK_S
            behind = max(behind, time.monotonic() - start - (sent / rate))
            time.sleep(max(0.0, next_tick - time.monotonic()))
    finally:
        producer.close()
    wall = time.monotonic() - start
    return {
        "ticks": ticks,
        "events": sent,
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu0,
        "behind_max_s": behind,
    }


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    result = produce(spec)
    Path(spec["out"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
