"""CLI start-up: how long an `okrstream` command takes, against starting the interpreter alone.

    .venv/bin/python -m benchmarks.cli_startup --repeats 10

Each command runs as a fresh process, `--repeats` times after one warm-up, in turn with the
floor (`python -c pass`, the same interpreter), so both see the same machine; the median wall
time of each, and its ratio to the floor's. The commands:
- `okrstream --help`;
- `okrstream kpi list` answered by the running process: run.json names this benchmark's process
  and a stand-in for its API on a loopback port (`GET /v1/kpis`), so only the command's own
  start-up and one local request are timed;
- `okrstream kpi list` with nothing running: the command opens the embedded store itself (a
  fresh one in a temporary directory: chDB starts and the schema is checked).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from processors.runtime import write_run_file
from schemas import Settings

from ._machine import REPO, commit, machine

FLOOR = [sys.executable, "-c", "pass"]
OKRSTREAM = [sys.executable, "-m", "processors.cli"]
KPI = {"name": "revenue", "aggregation": "sum", "title": "Revenue", "unit": "EUR", "dimensions": []}
# what the stand-in answers, as far as `okrstream kpi list` and `okrstream status` read it
ANSWERS = {
    "/v1/kpis": {"kpis": [KPI]},
    "/v1/counts": {"total_events": 3, "types": [{"type": "order.placed", "events": 3, "measures": {}}]},
}


class _StandIn(BaseHTTPRequestHandler):
    """The running process's API, as far as ANSWERS go; 404 for any other path."""

    def do_GET(self) -> None:
        answer = ANSWERS.get(self.path)
        body = json.dumps(answer or {"error": "not found"}).encode()
        self.send_response(200 if answer else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def running_stand_in(data_dir: Path) -> Iterator[dict[str, Any]]:
    """run.json in `data_dir`, naming this process and a stand-in for its API; yields its contents.

    A command on that data dir takes it for a running `okrstream run` and asks the stand-in.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    running = {"pid": os.getpid(), "api_url": f"http://127.0.0.1:{server.server_address[1]}"}
    write_run_file(Settings(data_dir=data_dir), running, admin_token=None)  # held while this process lives
    try:
        yield running
    finally:
        (data_dir / "run.json").unlink(missing_ok=True)
        server.shutdown()
        server.server_close()


def timed(command: list[str], env: dict[str, str]) -> float:
    """Seconds from start to exit; a failed command stops the benchmark with its output."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cli_startup", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=10, help="timed runs of each command (default 10)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="okrstream-cli-bench-"))
    running, alone = work / "running", work / "alone"
    running.mkdir()
    ours = ("OKRSTREAM_", "KAFKA_", "CLICKHOUSE_")  # the benchmark's settings only
    base = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    commands = {
        "okrstream --help": (["--help"], running),
        "okrstream kpi list, answered by the running process": (["kpi", "list"], running),
        "okrstream kpi list, opening the store itself": (["kpi", "list"], alone),
    }
    print(f"okrstream CLI start-up benchmark, commit {commit()}, {machine()}; {args.repeats} runs each")
    print()
    print("| command | median ms | min ms | floor median ms | ratio to the floor |")
    print("| --- | ---: | ---: | ---: | ---: |")
    try:
        with running_stand_in(running):
            for name, (words, data_dir) in commands.items():
                env = base | {"OKRSTREAM_DATA_DIR": str(data_dir)}
                timed(OKRSTREAM + words, env)  # warm-up: the page cache, and a fresh store's creation
                floor, command = [], []
                for _ in range(args.repeats):
                    floor.append(timed(FLOOR, env))
                    command.append(timed(OKRSTREAM + words, env))
                f50, c50 = statistics.median(floor) * 1000, statistics.median(command) * 1000
                best = min(command) * 1000
                print(f"| {name} | {c50:,.0f} | {best:,.0f} | {f50:,.0f} | {c50 / f50:,.1f}x |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
