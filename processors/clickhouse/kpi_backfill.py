"""Fill a new KPI rollup with the events that landed before its view's cutoff, one month at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import KpiDefinition

from ._cluster import local_name, on_cluster
from ._filters import landed_before
from .kpi_rollup_ddl import kpi_select, rollup_table


@dataclass(frozen=True)
class BackfillMonths:
    """The months (YYYYMM of occurred_at) holding events a backfill must read."""

    database: str
    kpi: KpiDefinition
    cutoff: datetime

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = landed_before(self.cutoff)
        sql = (
            "SELECT toYYYYMM(occurred_at) AS month, count()\n"
            "FROM {database:Identifier}.raw_events\n"
            f"WHERE type IN {{types:Array(String)}} AND {where}\n"
            "GROUP BY month\n"
            "ORDER BY month"
        )
        return sql, {**params, "database": self.database, "types": list(self.kpi.events)}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[tuple[int, int]]:
        """(month, raw events of the KPI's types) pairs, oldest first."""
        return [(int(month), int(events)) for month, events in rows]


@dataclass(frozen=True)
class BackfillKpiRollup:
    """INSERT the rollup rows of one month of events that landed before the cutoff.

    The view takes every row that lands at or after the cutoff, so the two never overlap.

    On a cluster it reads the Distributed `raw_events` (every shard; SyncRawEvents first) and
    writes the Distributed rollup, synchronously: when the statement returns, the shards hold
    the states. The insert is not retried: an apply that fails here records no version, and the
    next apply drops the rollup and builds it again, so no month is ever counted twice.
    """

    database: str
    kpi: KpiDefinition
    cutoff: datetime
    month: int
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = landed_before(self.cutoff)
        landed = (f"{where} AND toYYYYMM(occurred_at) = {{month:UInt32}}", {**params, "month": self.month})
        select, params = kpi_select(self.kpi, self.database, landed)
        sql = "INSERT INTO {database:Identifier}.{table:Identifier}\n"
        if self.cluster is not None:
            sql += "SETTINGS insert_distributed_sync = 1\n"
        return sql + select, {**params, "table": rollup_table(self.kpi)}


@dataclass(frozen=True)
class SyncRawEvents:
    """On a cluster, before a backfill: every replica of every shard fetches what landed so far.

    A row is acknowledged once one replica of its shard holds it; the others fetch it soon after.
    A backfill reads one replica per shard, so without this it could read one that has not yet
    fetched a row landed before the cutoff, and that row would be counted by neither the view
    nor the backfill. A replica that does not answer makes this fail (after the cluster's
    `distributed_ddl_task_timeout`), and with it the apply, which then records nothing.
    """

    database: str
    cluster: str

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        table = local_name("raw_events", self.cluster)
        sql = f"SYSTEM SYNC REPLICA{on_cluster(self.cluster)} {{database:Identifier}}.{table}"
        return sql, {"database": self.database}
