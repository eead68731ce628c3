"""The roles a deployment runs apart: what each needs before it starts."""

from __future__ import annotations

import os

import pytest

from processors.cli import main
from processors.runtime import read_run_file, write_run_file

SUPERVISED = "OKRSTREAM_SUPERVISED"  # set only in the pipeline that `run`'s supervisor starts


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="nothing-named"),
        pytest.param({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, id="no-store"),
        pytest.param({"CLICKHOUSE_URL": "http://127.0.0.1:1"}, id="no-broker"),
    ],
)
def test_a_worker_needs_a_shared_broker_and_store(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["worker"]) == 2
    assert "okrstream worker: set KAFKA_BOOTSTRAP_SERVERS and CLICKHOUSE_URL" in capsys.readouterr().err


def test_several_api_processes_need_a_store_none_owns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("OKRSTREAM_DATA_DIR", str(tmp_path))
    assert main(["serve", "--processes", "2"]) == 2
    assert "2 processes share one store, which none of them can own: set CLICKHOUSE_URL" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("processes", ["0", "65"])
def test_processes_out_of_range_are_refused(
    processes: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--processes", processes]) == 2
    bound = "greater than or equal to 1" if processes == "0" else "less than or equal to 64"
    assert f"okrstream serve: --processes {processes}: Input should be {bound}" in capsys.readouterr().err


def test_a_second_run_on_a_data_dir_is_refused_and_leaves_the_first_ones_run_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    from schemas import Settings

    running = {"pid": os.getpid(), "api_url": "http://127.0.0.1:8181"}
    write_run_file(Settings(data_dir=tmp_path), running, admin_token=None)  # held: this process runs
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    monkeypatch.delenv(SUPERVISED, raising=False)
    monkeypatch.setenv("OKRSTREAM_DATA_DIR", str(tmp_path))
    for command in ("run", "demo"):
        assert main([command]) == 2  # before any broker or pipeline starts
        assert f"okrstream {command}: okrstream runs (pid {os.getpid()}) on this data dir" in (
            capsys.readouterr().err
        )
    assert read_run_file(Settings(data_dir=tmp_path)) == running
