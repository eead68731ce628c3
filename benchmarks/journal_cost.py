"""What the journal costs an acknowledgement on the embedded broker: append latency with and without it.

    .venv/bin/python -m benchmarks.journal_cost --batches 1,100,1000 --requests 2000 --concurrency 8

One run, one process, one fresh embedded broker: the HTTP API's log writer (`KafkaLogWriter`,
acks=all) appends the same validated events in requests of `--batches` events, `--concurrency`
at a time, once without a journal (the floor: the broker alone) and once journaling every record
first, as `okrstream run` does on the embedded broker. Per batch size the two alternate as
floor, journal, journal, floor, so that a broker slowing as its memory fills weighs on both
alike; the report gives each one's p50/p99 latency per request and events/s over its two runs,
and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ingest import Journal, KafkaLogWriter, ensure_topics, start_embedded_broker
from processors.runtime import filesystem
from schemas import RawEvent, Settings, encode_record, event_to_json_dict, partition_for, validate_event

from ._events import make_events
from ._machine import machine

RECEIVED_AT = datetime(2026, 12, 1, tzinfo=UTC)  # fixed: the benchmark's events need not be recent


async def _append_all(
    writer: KafkaLogWriter, requests: list[list[RawEvent]], concurrency: int
) -> list[float]:
    latencies: list[float] = []
    queue = list(reversed(requests))

    async def connection() -> None:
        while queue:
            events = queue.pop()
            began = time.perf_counter()
            await writer.append(events)
            latencies.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies


def _measure(
    bootstrap: str,
    settings: Settings,
    journal: Journal | None,
    requests: list[list[RawEvent]],
    concurrency: int,
) -> tuple[list[float], float]:
    """Every request's latency in ms, and the seconds all took."""
    writer = KafkaLogWriter(bootstrap, settings, 30.0, journal)
    try:
        asyncio.run(_append_all(writer, requests[: max(1, len(requests) // 10)], concurrency))  # warm-up
        began = time.perf_counter()
        latencies = asyncio.run(_append_all(writer, requests, concurrency))
        return latencies, time.perf_counter() - began
    finally:
        writer.close()


def _summary(runs: list[tuple[list[float], float]], events: int) -> tuple[float, float, float]:
    """p50 ms, p99 ms, events/s over the runs."""
    latencies = [ms for run, _ in runs for ms in run]
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return quantiles[49], quantiles[98], events * len(runs) / sum(seconds for _, seconds in runs)


def _journal_alone_us(directory: Path, settings: Settings, requests: list[list[RawEvent]]) -> float:
    """Microseconds per request for the journal's own work (frame, write, done), records encoded before."""
    encoded = []
    for events in requests:
        by_partition: dict[int, list[dict]] = {}
        for e in events:
            partition = partition_for(e.source, e.event_id, settings.topic_partitions)
            by_partition.setdefault(partition, []).append(event_to_json_dict(e))
        encoded.append([(p, encode_record(dicts)) for p, dicts in by_partition.items()])
    journal = Journal(directory, "bench-alone")
    began = time.perf_counter()
    for records in encoded:
        journal.done(journal.write(records))
    seconds = time.perf_counter() - began
    journal.close()
    return seconds / len(encoded) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.journal_cost", description=__doc__)
    parser.add_argument("--batches", default="1,100,1000", help="events per request, comma-separated")
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    args = parser.parse_args(argv)
    print(f"journal cost: requests {args.requests}, concurrency {args.concurrency}, embedded broker")
    with tempfile.TemporaryDirectory() as work, start_embedded_broker() as broker:
        print(f"machine: {machine()}, journal on {filesystem(Path(work))}")
        columns = f"{'batch':>6} {'path':>10} {'p50 ms':>8} {'p99 ms':>8} {'events/s':>10}"
        print(f"{columns}  ratio (journal/floor)")
        settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, data_dir=Path(work))
        ensure_topics(broker.bootstrap_servers, settings)
        for batch in (int(b) for b in args.batches.split(",")):
            raw = make_events(batch * args.requests, seed=batch)
            events = [validate_event(e, received_at=RECEIVED_AT) for e in raw]
            requests = [events[i : i + batch] for i in range(0, len(events), batch)]
            runs: dict[str, list[tuple[list[float], float]]] = {"floor": [], "journal": []}
            for name in ("floor", "journal", "journal", "floor"):
                journal = Journal(Path(work) / f"journal-{batch}", "bench") if name == "journal" else None
                runs[name].append(
                    _measure(broker.bootstrap_servers, settings, journal, requests, args.concurrency)
                )
            floor, journaled = (_summary(runs[name], len(events)) for name in ("floor", "journal"))
            for name, (p50, p99, rate) in (("floor", floor), ("journal", journaled)):
                print(f"{batch:>6} {name:>10} {p50:>8.2f} {p99:>8.2f} {rate:>10,.0f}")
            print(f"{'':>6} {'':>10} {'':>8} {'':>8} {'':>10}  {journaled[2] / floor[2]:.2f}x events/s")
            alone = _journal_alone_us(Path(work) / f"alone-{batch}", settings, requests)
            print(f"{'':>6} {'':>10}  the journal's own work: {alone:,.0f} us per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
