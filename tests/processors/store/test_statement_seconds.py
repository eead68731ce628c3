"""The store facade times every statement under its class's name, so /metrics shows where store time goes."""

from __future__ import annotations

from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from prometheus_client import REGISTRY

from processors import Store

METRIC = "okrstream_store_statement_seconds"


class ProbeRead:
    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return "SELECT number FROM numbers({n:UInt8})", {"n": 3}


class ProbeDdl:
    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return "CREATE TABLE IF NOT EXISTS {db:Identifier}.probe (n UInt8) ENGINE = Memory", {"db": "default"}


class ProbeBroken:
    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return "SELECT no_such_column FROM numbers(1)", {}


def observed(statement: str) -> float:
    return REGISTRY.get_sample_value(f"{METRIC}_count", {"statement": statement}) or 0.0


def total_seconds(statement: str) -> float:
    return REGISTRY.get_sample_value(f"{METRIC}_sum", {"statement": statement}) or 0.0


def test_each_statement_is_observed_once_under_its_class(store: Store) -> None:
    before = {name: observed(name) for name in ("ProbeRead", "ProbeDdl")}
    seconds_before = total_seconds("ProbeRead")

    assert store.fetch(ProbeRead()) == [(0,), (1,), (2,)]
    assert store.fetch(ProbeRead()) == [(0,), (1,), (2,)]
    store.execute(ProbeDdl())

    assert observed("ProbeRead") == before["ProbeRead"] + 2
    assert observed("ProbeDdl") == before["ProbeDdl"] + 1
    assert total_seconds("ProbeRead") > seconds_before


def test_a_failed_statement_is_observed_too(store: Store) -> None:
    before = observed("ProbeBroken")

    with pytest.raises(DatabaseError, match="no_such_column"):
        store.fetch(ProbeBroken())

    assert observed("ProbeBroken") == before + 1


def test_the_help_says_what_is_timed() -> None:
    described = [m for m in REGISTRY.collect() if m.name == METRIC]
    assert len(described) == 1
    assert "class" in described[0].documentation
