"""Insert one sink batch into raw_events as one block, under a token that names the batch.

The token is the batch's place in the log (log id, partition, first and last offset), so a batch
retried after a crash carries the same token and ClickHouse keeps it once, in the table and in
every materialized view fed from it (`deduplicate_blocks_in_dependent_materialized_views`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from .raw_events_ddl import RAW_EVENTS_COLUMNS

COLUMN_NAMES = tuple(name for name, _ in RAW_EVENTS_COLUMNS)


@dataclass(frozen=True)
class BatchPosition:
    log: str
    partition: int
    first_offset: int
    last_offset: int

    @property
    def token(self) -> str:
        return f"{self.log}:{self.partition}:{self.first_offset}-{self.last_offset}"


def parse_time(value: Any) -> datetime:
    """ISO 8601 with an offset, as the producer writes it, to an aware UTC datetime."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def event_row(event: dict[str, Any], offset: int, received_at: datetime, position: BatchPosition) -> tuple:
    """One raw_events row from a canonical event dict; raises KeyError/TypeError/ValueError if malformed."""
    payload = event.get("payload")
    received = event.get("received_at")
    return (
        str(event["event_id"]),
        str(event["source"]),
        str(event["type"]),
        parse_time(event["occurred_at"]),
        parse_time(received) if received else received_at,
        event.get("subject") or "",
        {str(k): str(v) for k, v in (event.get("dimensions") or {}).items()},
        {str(k): float(v) for k, v in (event.get("measures") or {}).items()},
        orjson.dumps(payload).decode() if payload is not None else "",
        position.log,
        position.partition,
        offset,
        position.first_offset,
        position.last_offset,
    )


@dataclass(frozen=True)
class InsertRawEvents:
    database: str
    position: BatchPosition
    rows: list[tuple]

    def settings(self) -> dict[str, Any]:
        return {
            "insert_deduplicate": 1,
            "insert_deduplication_token": self.position.token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            # one block per insert, however large, so the token covers all of it
            "max_insert_block_size": max(len(self.rows), 1),
            "min_insert_block_size_rows": 0,
            "min_insert_block_size_bytes": 0,
        }

    def run(self, client: Client) -> None:
        client.insert(
            "raw_events",
            self.rows,
            column_names=COLUMN_NAMES,
            database=self.database,
            settings=self.settings(),
        )
