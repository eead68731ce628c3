"""Which sink batches of a partition landed at or after an offset: the ones a restart must replay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._cluster import every_replica
from ._filters import log_partition


@dataclass(frozen=True)
class LandedBatch:
    first_offset: int
    last_offset: int
    epoch: int = 0


@dataclass(frozen=True)
class LandedBatches:
    """On a cluster it reads every replica (see every_replica)."""

    database: str
    log: str
    partition: int
    from_offset: int
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = log_partition(self.log, self.partition)
        source, source_params = every_replica("raw_events", self.cluster)
        sql = (
            "SELECT DISTINCT batch_first_offset, batch_last_offset, batch_epoch\n"
            f"FROM {source}\n"
            f"WHERE {where} AND batch_last_offset >= {{from_offset:UInt64}}\n"
            "ORDER BY batch_first_offset"
        )
        return sql, {**params, **source_params, "database": self.database, "from_offset": self.from_offset}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[LandedBatch]:
        return [LandedBatch(int(first), int(last), int(epoch)) for first, last, epoch in rows]


@dataclass(frozen=True)
class LandedIdentities:
    """The identities one landed batch holds: what a replay checks its rows against.

    On a cluster it reads every replica (see every_replica).
    """

    database: str
    log: str
    partition: int
    first_offset: int
    last_offset: int
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = log_partition(self.log, self.partition)
        source, source_params = every_replica("raw_events", self.cluster)
        sql = (
            "SELECT source, event_id\n"
            f"FROM {source}\n"
            f"WHERE {where}\n"
            "  AND batch_first_offset = {first_offset:UInt64} AND batch_last_offset = {last_offset:UInt64}"
        )
        return sql, {
            **params,
            **source_params,
            "database": self.database,
            "first_offset": self.first_offset,
            "last_offset": self.last_offset,
        }

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> set[tuple[str, str]]:
        return {(source, event_id) for source, event_id in rows}
