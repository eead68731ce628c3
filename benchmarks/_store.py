"""Each contestant's ClickHouse store: okrstream's own raw_events table, with its `landed_at` stamp.

`landed_at MATERIALIZED now64(6)` is filled by ClickHouse when an insert block is written (no
client sends it), so the last one tells when the last event became queryable, in every process alike,
without polling the store while a contestant works. Run as a module, it prepares or reports on
a store that a worker subprocess owns while it runs (`prepare` before, `report` after).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from processors.clickhouse import RAW_EVENTS_COLUMNS, connect, ensure_schema
from schemas import Settings

COLUMN_NAMES = tuple(name for name, _ in RAW_EVENTS_COLUMNS)


def open_store(data_dir: str | Path, database: str) -> Client:
    """The same client okrstream uses (clickhouse-connect on chDB in data_dir/chdb), schema in place."""
    settings = Settings(data_dir=Path(data_dir), clickhouse_database=database)
    client = connect(settings)
    ensure_schema(client, settings)
    return client


def landed(client: Client, database: str) -> tuple[int, float, float]:
    """(count(), first landed_at, last landed_at) of the store, times in seconds since the epoch."""
    rows = client.query(
        "SELECT count(), toUnixTimestamp64Micro(min(landed_at)), toUnixTimestamp64Micro(max(landed_at))"
        " FROM {db:Identifier}.raw_events",
        parameters={"db": database},
    ).result_rows
    count, first, last = rows[0]
    return int(count), int(first) / 1e6, int(last) / 1e6


def bare_row(event: dict[str, Any], topic: str, partition: int, offset: int, timestamp_ms: int) -> tuple:
    """A raw_events row from an event dict as it comes, no validation: what the baselines insert."""
    received = event.get("received_at")
    return (
        event["event_id"],
        event["source"],
        event["type"],
        datetime.fromisoformat(event["occurred_at"]),
        datetime.fromisoformat(received) if received else datetime.fromtimestamp(timestamp_ms / 1000, UTC),
        event.get("subject") or "",
        event.get("dimensions") or {},
        event.get("measures") or {},
        "",
        topic,
        partition,
        offset,
        offset,
        offset,
    )


def main() -> None:
    command, data_dir, database = sys.argv[1:4]
    client = open_store(data_dir, database)
    if command == "report":
        count, first, last = landed(client, database)
        print(json.dumps({"rows": count, "first_landed": first, "last_landed": last}))
    client.close()


if __name__ == "__main__":
    main()
