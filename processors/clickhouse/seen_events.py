"""The identities that already landed for one partition: what the sink's dedup starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._cluster import every_replica
from ._filters import identity_partition


@dataclass(frozen=True)
class SeenEvents:
    """Identities routed to `partition`, received since `since`, except the batches to be replayed.

    Replayed batches (this log, first offset >= `replay_from`) are excluded so that replaying
    them makes the same dedup decisions as the first time. On a cluster it reads every replica
    of every shard (see every_replica).
    """

    database: str
    log: str
    partition: int
    partitions: int
    replay_from: int
    since: datetime
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = identity_partition(self.partition, self.partitions)
        source, source_params = every_replica("raw_events", self.cluster)
        sql = (
            "SELECT source, event_id, toUnixTimestamp64Micro(min(received_at))\n"
            f"FROM {source}\n"
            f"WHERE {where}\n"
            "  AND received_at >= {since:DateTime64(6, 'UTC')}\n"
            "  AND NOT (kafka_log = {log:String} AND batch_first_offset >= {replay_from:UInt64})\n"
            "GROUP BY source, event_id"
        )
        return sql, {
            **params,
            **source_params,
            "database": self.database,
            "log": self.log,
            "replay_from": self.replay_from,
            "since": self.since,
        }

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], int]:
        """identity -> received_at in microseconds since the epoch."""
        return {(source, event_id): int(micros) for source, event_id, micros in rows}
