"""One step of test_lost_tokens on a chDB data dir, in a process of its own (chDB: one path per process).

`python -m tests.processors.clickhouse.lost_tokens_steps DATA_DIR STEP` prints the rows each
table of one insert's chain counts, and where each table keeps its parts, as JSON:
- `land`: raw_events and a KPI's two levels made, one batch inserted under its token;
- `replay`: the same batch inserted twice more, on chDB opened as is;
- `mend`: the same, on chDB opened through okrstream's `connect` (which forgets lost tokens).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import clickhouse_connect

from processors.clickhouse import (
    BatchPosition,
    InsertRawEvents,
    connect,
    ensure_schema,
    event_row,
    execute,
    fetch,
    insert,
)
from processors.clickhouse.kpi_rollup_ddl import (
    CreateKpiHourlyView,
    CreateKpiRollup,
    CreateKpiView,
    hourly_of,
    rollup_table,
)
from schemas import KpiDefinition, Settings
from tests.conftest import Sql

EVENTS = 50
KPI = KpiDefinition(
    title="Deals", name="deals", events=["deal.closed"], aggregation="count", dimensions=["region"]
)
POSITION = BatchPosition("log", 0, 10, 12, epoch=7)


def batch() -> list[tuple]:
    """Three records' events over three days and many hours, as the sink builds its rows."""
    received = datetime(2026, 1, 4, tzinfo=UTC)
    events = [
        {
            "event_id": f"e{i}",
            "source": "crm",
            "type": "deal.closed",
            "occurred_at": f"2026-01-0{1 + i % 3}T{i % 24:02d}:{i % 60:02d}:00+00:00",
            "dimensions": {"region": "EU"},
        }
        for i in range(EVENTS)
    ]
    return [event_row(e, POSITION.first_offset + i // 20, received, POSITION) for i, e in enumerate(events)]


def main(data_dir: Path, step: str) -> dict[str, Any]:
    settings = Settings(data_dir=data_dir, clickhouse_database="lost")
    db = settings.clickhouse_database
    if step == "mend":
        client = connect(settings)
    else:
        client = clickhouse_connect.get_client(interface="chdb", path=str(data_dir / "chdb"))
    if step == "land":
        ensure_schema(client, settings)
        for hourly in (False, True):
            execute(client, CreateKpiRollup(db, KPI, settings.dedup_block_window, hourly=hourly))
        execute(client, CreateKpiHourlyView(db, KPI))
        execute(client, CreateKpiView(db, KPI, datetime(2020, 1, 1, tzinfo=UTC)))
    for _ in range(1 if step == "land" else 2):  # a replay, then its retry: each lands at most once
        insert(client, InsertRawEvents(db, POSITION, batch()))
    tables = {"raw_events": "raw_events", "minute": rollup_table(KPI), "hourly": hourly_of(rollup_table(KPI))}
    count = "SELECT count() FROM {db:Identifier}.{t:Identifier}"
    merged = "SELECT countMerge(value) FROM {db:Identifier}.{t:Identifier}"
    where = "SELECT data_paths[1] FROM system.tables WHERE database = {db:String} AND name = {t:String}"
    result = {
        "counts": {
            level: fetch(client, Sql(count if level == "raw_events" else merged, db=db, t=t))[0][0]
            for level, t in tables.items()
        },
        "paths": {level: fetch(client, Sql(where, db=db, t=t))[0][0] for level, t in tables.items()},
    }
    client.close()
    return result


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2])))
