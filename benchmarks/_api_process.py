"""`okrstream serve` as a separate process for the HTTP benchmark, so client and server don't share a GIL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ._machine import REPO


@dataclass
class ApiProcess:
    """The running service: its URL, the run's admin token (from run.json) and the process."""

    process: subprocess.Popen[bytes]
    url: str
    admin_token: str
    log_path: Path

    def create_write_key(self) -> str:
        """A write key for every source and type, made through the API as a client would get one."""
        body = {"name": "http benchmark", "access": "write", "sources": ["*"], "types": ["*"]}
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        answer = httpx.post(f"{self.url}/v1/keys", json=body, headers=headers, timeout=30)
        if answer.status_code != 201:
            raise RuntimeError(f"POST /v1/keys answered {answer.status_code}: {answer.text}")
        return answer.json()["token"]

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """Ctrl-C, as a person stops it (uvicorn drains, the producer closes); killed if it hangs."""
        return stop_process(self.process, timeout_s)


def start_api(
    bootstrap: str, data_dir: Path, env_extra: dict[str, str], timeout_s: float = 90.0
) -> ApiProcess:
    """`python -m processors.cli serve` on a free port; returns once it answers GET /health."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "serve.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OKRSTREAM_") and k not in ("KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL")
    }
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "OKRSTREAM_DATA_DIR": str(data_dir),
        "OKRSTREAM_HTTP_PORT": "0",
    } | env_extra
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "serve"], cwd=REPO, env=env, stdout=log, stderr=log
        )
    try:
        url, token = _wait_for_run_file(process, data_dir / "run.json", log_path, timeout_s)
        _wait_for_health(process, url, log_path, timeout_s)
    except BaseException:
        stop_process(process, 10)
        raise
    return ApiProcess(process, url, token, log_path)


def _wait_for_run_file(
    process: subprocess.Popen[bytes], path: Path, log_path: Path, timeout_s: float
) -> tuple[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _check_alive(process, log_path)
        try:
            info = json.loads(path.read_text())
            return info["api_url"], info["admin_token"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise RuntimeError(f"okrstream serve wrote no run.json within {timeout_s:g} s; see {log_path}")


def _wait_for_health(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout_s: float) -> None:
    """run.json is written once the socket is bound, a moment before uvicorn listens on it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _check_alive(process, log_path)
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"okrstream serve did not answer /health within {timeout_s:g} s; see {log_path}")


def _check_alive(process: subprocess.Popen[bytes], log_path: Path) -> None:
    if process.poll() is not None:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"okrstream serve exited with {process.returncode}:\n{tail}")


def stop_process(process: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
