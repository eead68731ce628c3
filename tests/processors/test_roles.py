"""The roles a deployment runs apart: what each needs before it starts."""

from __future__ import annotations

import pytest

from processors.cli import main


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
