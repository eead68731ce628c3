"""ClickHouse access: one module per query or DDL concern, each an object with `to_sql()`."""

from ._client import chdb_path, connect, describe
from ._schema import ensure_schema
from ._statement import Statement, execute, fetch
from .event_counts import EventCounts, TypeCount
from .kpi_backfill import BackfillKpiRollup, BackfillMonths
from .kpi_rollup_ddl import CreateKpiRollup, CreateKpiView, rollup_table, rollup_view
from .kpi_series import KpiPoint, KpiSeries
from .landed_batches import LandedBatch, LandedBatches, LandedIdentities
from .raw_events_ddl import RAW_EVENTS_COLUMNS, CreateDatabase, CreateRawEvents
from .raw_events_insert import BatchPosition, InsertRawEvents, event_row, parse_time
from .seen_events import SeenEvents

__all__ = [
    "RAW_EVENTS_COLUMNS",
    "BackfillKpiRollup",
    "BackfillMonths",
    "BatchPosition",
    "CreateDatabase",
    "CreateKpiRollup",
    "CreateKpiView",
    "CreateRawEvents",
    "EventCounts",
    "InsertRawEvents",
    "KpiPoint",
    "KpiSeries",
    "LandedBatch",
    "LandedBatches",
    "LandedIdentities",
    "SeenEvents",
    "Statement",
    "TypeCount",
    "chdb_path",
    "connect",
    "describe",
    "ensure_schema",
    "event_row",
    "execute",
    "fetch",
    "parse_time",
    "rollup_table",
    "rollup_view",
]
