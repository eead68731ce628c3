"""The HTTP ingest benchmark at a tiny size, so that it cannot rot unseen (its numbers are not judged).

The benchmark exits 1 when any request is not a 200 with every event accepted.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

N, F, MS = r"[\d,]+", r"[\d.]+", r"([\d.]+|-)"
PATHS = ("HTTP, 2 connections", "producer, one flush at the end", "producer, flush per batch")


def test_the_http_ingest_benchmark_reports_every_row(run_benchmark, tmp_path: Path) -> None:
    done = run_benchmark(
        "http_ingest",
        *("--batches", "1,10", "--events", "40,200", "--warmup", "2", "--concurrency", "2"),
        *("--work-dir", str(tmp_path)),
    )
    assert re.search(r"^machine: .+, store on \S", done.stdout, re.M), done.stdout
    for batch, events in ((1, 40), (10, 200)):
        for path in PATHS:
            # requests, events/s, p50 ms, p99 ms, CPU cores (server / client / broker), failures
            row = (
                rf"^\| {batch} \| {re.escape(path)} \| {events} \| {N} \| {N} \| {MS} \| {MS}"
                rf" \| {MS} / {F} / {F} \| none \|$"
            )
            assert re.search(row, done.stdout, re.M), done.stdout
    assert re.search(r"^validation alone .*: [\d,]+ events/s$", done.stdout, re.M), done.stdout
    for batch in (1, 10):
        ratio = rf"^batch {batch}: HTTP / producer flushing per batch = {F}$"
        assert re.search(ratio, done.stdout, re.M), done.stdout


def test_the_http_ingest_benchmark_runs_several_api_processes_on_one_store(
    run_benchmark, tmp_path: Path
) -> None:
    done = run_benchmark(
        "http_ingest",
        *("--batches", "1", "--events", "40", "--warmup", "2", "--concurrency", "2"),
        *("--api-processes", "2", "--work-dir", str(tmp_path)),
    )
    row = (
        rf"^\| 1 \| HTTP, 2 connections, 2 API processes \| 40 \| 40 \| {N} \| {MS} \| {MS}"
        rf" \| {F} / {F} / {F} \| none \|$"
    )
    assert re.search(row, done.stdout, re.M), done.stdout
    assert done.stdout.count("okrstream serve stopped") == 2, done.stdout


def test_the_http_ingest_benchmark_runs_one_service_of_several_processes_on_one_port(
    run_benchmark, tmp_path: Path
) -> None:
    done = run_benchmark(
        "http_ingest",
        *("--batches", "10", "--events", "200", "--warmup", "2", "--concurrency", "4"),
        *("--serve-processes", "2", "--work-dir", str(tmp_path)),
    )
    row = (
        rf"^\| 10 \| HTTP, 4 connections, 2 processes on one port \| 200 \| 20 \| {N} \| {MS} \| {MS}"
        rf" \| {F} / {F} / {F} \| none \|$"
    )
    assert re.search(row, done.stdout, re.M), done.stdout
    assert done.stdout.count("okrstream serve stopped") == 1, done.stdout


def test_the_http_ingest_benchmark_times_wrk_as_the_client(run_benchmark, tmp_path: Path) -> None:
    """wrk sends for two seconds per size; every answer is checked (exit code 1 otherwise, and when
    nothing was answered at all, as for a hung service)."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian package wrk; .ci/run installs it)")
    done = run_benchmark(
        "http_ingest",
        *("--batches", "1,10", "--events", "40,200", "--warmup", "2", "--concurrency", "2"),
        *("--client", "wrk", "--seconds", "2", "--work-dir", str(tmp_path)),
    )
    assert "client wrk" in done.stdout, done.stdout
    for batch in (1, 10):
        # events accepted and requests answered while wrk ran, however many; the CPU it took
        row = (
            rf"^\| {batch} \| HTTP, 2 connections, wrk \| ({N}) \| ({N}) \| {N} \| {F} \| {F}"
            rf" \| {F} / {F} / {F} \| none \|$"
        )
        found = re.search(row, done.stdout, re.M)
        assert found, done.stdout
        events, requests = (int(g.replace(",", "")) for g in found.groups())
        assert events == batch * requests, found.group(0)  # wrk's script counted every event
