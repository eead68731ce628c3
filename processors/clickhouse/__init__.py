"""ClickHouse access: one module per query or DDL concern, each an object with `to_sql()`."""

from ._client import chdb_path, connect, describe
from ._schema import ensure_schema
from ._statement import Statement, execute, fetch
from .api_keys import API_KEY_COLUMN_NAMES, ApiKeys, api_key_row, key_version
from .api_keys_ddl import API_KEYS_COLUMNS, CreateApiKeysTable
from .event_counts import EventCounts, TypeCount
from .known_identities import KnownIdentities
from .kpi_backfill import BackfillKpiRollup, BackfillMonths
from .kpi_rollup_ddl import CreateKpiRollup, CreateKpiView, rollup_table, rollup_view
from .kpi_series import KpiPoint, KpiSeries
from .landed_batches import LandedBatch, LandedBatches, LandedIdentities
from .raw_events_ddl import RAW_EVENTS_COLUMNS, AddEventIdIndex, CreateDatabase, CreateRawEvents
from .raw_events_insert import BatchPosition, InsertRawEvents, event_row, parse_time
from .seen_events import SeenEvents

__all__ = [
    "API_KEYS_COLUMNS",
    "API_KEY_COLUMN_NAMES",
    "RAW_EVENTS_COLUMNS",
    "AddEventIdIndex",
    "ApiKeys",
    "BackfillKpiRollup",
    "BackfillMonths",
    "BatchPosition",
    "CreateApiKeysTable",
    "CreateDatabase",
    "CreateKpiRollup",
    "CreateKpiView",
    "CreateRawEvents",
    "EventCounts",
    "InsertRawEvents",
    "KnownIdentities",
    "KpiPoint",
    "KpiSeries",
    "LandedBatch",
    "LandedBatches",
    "LandedIdentities",
    "SeenEvents",
    "Statement",
    "TypeCount",
    "api_key_row",
    "chdb_path",
    "connect",
    "describe",
    "ensure_schema",
    "event_row",
    "execute",
    "fetch",
    "key_version",
    "parse_time",
    "rollup_table",
    "rollup_view",
]
