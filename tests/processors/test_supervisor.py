"""The supervisor's restart loop: a stop asked for while it pauses before a restart ends it there."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from processors.runtime._supervisor import Supervisor  # white-box: the loop without its signals
from schemas import Settings

pytestmark = pytest.mark.pure


def test_a_stop_during_the_pause_before_a_restart_starts_no_pipeline(tmp_path) -> None:
    crashed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    crashed.wait()
    settings = Settings(data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:9")  # no broker to mind
    with socket.socket() as sock:
        supervisor = Supervisor(settings, ["run"], sock, pipeline=crashed, restarts=6)
        supervisor.started_at = time.monotonic()  # it died young, for the 7th time: a 30 s pause
        started: list[str] = []
        supervisor._start_pipeline = lambda: started.append("pipeline")
        asked = iter([False])  # the loop's first look; then a signal arrives

        assert supervisor.loop(lambda: next(asked, True)) == 0
    assert started == []  # the pause ended at the stop, with nothing started after it
    assert supervisor.pipeline is None
