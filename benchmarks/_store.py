"""Each contestant's ClickHouse store: okrstream's own raw_events table, with its `landed_at` stamp.

`landed_at MATERIALIZED now64(6)` is filled by ClickHouse when an insert block is written (no
client sends it), so the last one tells when the last event became queryable, in every process alike,
without polling the store while a contestant works. Run as a module, it prepares or reports on
a store that a worker subprocess owns while it runs (`prepare` before, `report` after).

The baselines build rows with okrstream's own `event_row` and insert them under okrstream's column
list: a benchmark with a column list of its own broke silently when `batch_epoch` was added.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from clickhouse_connect.driver.client import Client

from processors.clickhouse import RAW_EVENTS_COLUMN_NAMES, connect, ensure_schema
from schemas import Settings


def open_store(data_dir: str | Path, database: str, clickhouse_url: str | None = None) -> Client:
    """The same client okrstream uses (clickhouse-connect on chDB in data_dir/chdb, or over HTTP on
    `clickhouse_url`), schema in place."""
    settings = Settings(data_dir=Path(data_dir), clickhouse_database=database, clickhouse_url=clickhouse_url)
    client = connect(settings)
    ensure_schema(client, settings)
    return client


def landed(client: Client, database: str, since: float = 0.0) -> tuple[int, float, float]:
    """(count(), first landed_at, last landed_at) of the store, times in seconds since the epoch;
    with `since`, of the rows landed from that instant on."""
    rows = client.query(
        "SELECT count(), toUnixTimestamp64Micro(min(landed_at)), toUnixTimestamp64Micro(max(landed_at))"
        " FROM {db:Identifier}.raw_events WHERE landed_at >= fromUnixTimestamp64Micro({since:Int64})",
        parameters={"db": database, "since": int(since * 1e6)},
    ).result_rows
    count, first, last = rows[0]
    return int(count), int(first) / 1e6, int(last) / 1e6


def insert(client: Client, database: str, rows: list[tuple]) -> None:
    """Rows built by okrstream's `event_row`, inserted as they are: no insert token, no dedup."""
    client.insert("raw_events", rows, column_names=RAW_EVENTS_COLUMN_NAMES, database=database)


def main() -> None:
    command, data_dir, database = sys.argv[1:4]
    client = open_store(data_dir, database)
    if command == "report":
        count, first, last = landed(client, database)
        print(json.dumps({"rows": count, "first_landed": first, "last_landed": last}))
    client.close()


if __name__ == "__main__":
    main()
