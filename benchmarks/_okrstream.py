"""okrstream as shipped: `okrstream ingest` fills the raw topic, `okrstream run` lands it.

The worker is the real `python -m processors.cli run` subprocess (faust worker, RawEventsSink,
HTTP API) on its own chDB data dir. The trial's clock starts when GET /ready first answers 200,
which it does once the consumer group gave the worker its partitions, so the group-join wait
(about half the session timeout on Tansu) is left out, as it is for the other contestants.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from processors.runtime import read_store_file
from schemas import Settings

from ._kpi_catalog import kpi_catalog
from ._trial import Timing

READY_POLL_S = 0.02  # how finely the start of the clock is found
COUNTS_POLL_S = 1.0  # only to know when to stop the worker; the result comes from the stamps


def settings_for(
    bootstrap_servers: str,
    data_dir: Path,
    tag: str,
    partitions: int,
    record_events: int,
    session_timeout_s: float,
) -> Settings:
    return Settings(
        kafka_bootstrap_servers=bootstrap_servers,
        data_dir=data_dir,
        raw_topic=f"bench.{tag}.raw",
        dead_letter_topic=f"bench.{tag}.deadletter",
        topic_partitions=partitions,
        clickhouse_database="bench",
        worker_id=f"bench-sink-{tag}",
        http_port=0,
        consumer_session_timeout_s=session_timeout_s,
        record_max_events=record_events,
    )


def with_kpis(settings: Settings, contestant: str, run_dir: Path) -> Settings:
    """`okrstream+50kpis`: its own store and consumer group, and a file of 50 KPIs applied at start."""
    count = int(contestant.removeprefix("okrstream+").removesuffix("kpis"))
    kpis_file = run_dir / f"kpis-{count}.yaml"
    kpis_file.write_text(kpi_catalog(count), encoding="utf-8")
    return settings.model_copy(
        update={
            "data_dir": run_dir / contestant,
            "worker_id": f"{settings.worker_id}-{count}kpis",
            "kpis_file": str(kpis_file),
        }
    )


def environment(settings: Settings) -> dict[str, str]:
    """The environment of an okrstream command on `settings` (secrets as themselves, not masked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSTREAM_")}
    return env | settings.as_environment()


def ingest(settings: Settings, ndjson: Path, log_path: Path) -> float:
    """Run `okrstream ingest` on the file; returns its wall time (process start included)."""
    started = time.monotonic()
    with log_path.open("ab") as log:
        subprocess.run(
            [sys.executable, "-m", "processors.cli", "ingest", str(ndjson)],
            env=environment(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.monotonic() - started


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, {}


def run_worker(
    settings: Settings, events: int, log_path: Path, timeout_s: float, wrap: list[str] | None = None
) -> Timing:
    """Start the worker, wait until `events` landed, stop it, and read the store's landed_at stamps.

    `wrap` prefixes the worker's command line (a profiler such as `py-spy record ... --`).
    """
    data_dir = str(settings.data_dir)
    db = settings.clickhouse_database
    store = [sys.executable, "-m", "benchmarks._store"]
    subprocess.run([*store, "prepare", data_dir, db], check=True)
    run_json = Path(settings.data_dir) / "run.json"
    run_json.unlink(missing_ok=True)
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [*(wrap or []), sys.executable, "-m", "processors.cli", "run"],
            env=environment(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout_s
        info = None
        while info is None:  # the worker writes run.json in place: it may be seen half written
            _check(worker, deadline, log_path)
            try:
                info = json.loads(run_json.read_text())
            except (OSError, ValueError):
                time.sleep(0.05)
        api = info["api_url"]
        while _get(f"{api}/ready")[0] != 200:
            _check(worker, deadline, log_path)
            time.sleep(READY_POLL_S)
        assigned = time.time()
        while (written := _sink_metrics(api))[0] < events:
            _check(worker, deadline, log_path)
            time.sleep(COUNTS_POLL_S)
        if written[1] is None:  # without it the clock would stop at 0, a negative time
            raise RuntimeError(f"the worker's /metrics has no {LAST_INSERT}: its sink cannot be timed")
    finally:
        # under a profiler, stop the worker itself: the profiler then writes its output and exits
        for pid in _children(worker.pid) if wrap else [worker.pid]:
            os.kill(pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    report = subprocess.run([*store, "report", data_dir, db], check=True, capture_output=True, text=True)
    stats = json.loads(report.stdout.splitlines()[-1])
    return Timing(assigned, stats["first_landed"], stats["last_landed"], stats["rows"], written[1])


LAST_INSERT = "okrstream_sink_last_insert_timestamp_seconds"


def metric_samples(metrics_url: str) -> list[Sample]:
    """Every sample an okrstream process serves at its /metrics, parsed as Prometheus reads them."""
    with urllib.request.urlopen(metrics_url, timeout=30) as response:
        text = response.read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def _sink_metrics(api: str) -> tuple[float, float | None]:
    """(events landed, when the last insert returned) from the worker's /metrics.

    The sink counts a block's events after its insert returned and set the gauge, so once the
    count is every event, the gauge holds the last insert's end, its KPI views written.
    """
    samples = {s.name: s.value for s in metric_samples(f"{api}/metrics")}
    return (
        samples.get("okrstream_events_landed_total", 0.0),
        samples.get(LAST_INSERT),
    )


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _check(worker: subprocess.Popen[bytes], deadline: float, log_path: Path) -> None:
    if worker.poll() is not None:
        raise RuntimeError(f"okrstream worker exited with {worker.returncode}; see {log_path}")
    if time.monotonic() > deadline:
        raise RuntimeError(f"okrstream worker did not land every event in time; see {log_path}")


def stop(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM to each okrstream process, then wait for all (30 s each, then SIGKILL)."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_store(settings: Settings, run_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`okrstream store` on a free port, its /metrics on another; its URL once it answers."""
    log_path = run_dir / "store.log"
    free_ports = {"store_http_port": 0, "metrics_port": 0}  # never a fixed one another process holds
    store_settings = settings.model_copy(update={"data_dir": run_dir / "store", **free_ports})
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "store"],
            env=environment(store_settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while (served := read_store_file(store_settings)) is None or served["pid"] != process.pid:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"okrstream store did not start; see {log_path}")
        time.sleep(0.1)
    return process, served["store_http_url"]
