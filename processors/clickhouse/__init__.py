"""ClickHouse access: one module per query or DDL concern, each an object with `to_sql()`."""

from ._client import chdb_path, connect, describe
from ._filters import identity_partition, kpi_conditions, log_partition
from ._schema import ensure_schema
from ._statement import Identifier, Insert, Rows, Script, Statement, execute, fetch, insert
from .api_keys import API_KEY_COLUMN_NAMES, ApiKeys, WriteApiKey, api_key_row, key_version
from .api_keys_ddl import API_KEYS_COLUMNS, CreateApiKeysTable
from .event_counts import EventCounts, TypeCount
from .first_landed import FirstLanded
from .key_result_values import MetricRequest, MetricValues, MilestonesReached
from .known_identities import KnownIdentities
from .kpi_backfill import BackfillKpiRollup, BackfillMonths
from .kpi_rollup_ddl import CreateKpiRollup, CreateKpiView, rollup_table, rollup_view
from .kpi_series import KpiPoint, KpiSeries
from .landed_batches import LandedBatch, LandedBatches, LandedIdentities
from .okr_ddl import (
    KEY_RESULT_SCORES_COLUMNS,
    OBJECTIVE_SCORES_COLUMNS,
    OKR_DEFINITIONS_COLUMNS,
    CopyLatestScores,
    CreateCurrentScoreViews,
    CreateKeyResultScores,
    CreateLatestScores,
    CreateLatestScoresView,
    CreateObjectiveScores,
    CreateOkrDefinitions,
)
from .okr_definitions import OkrVersions, RecordOkrVersions
from .okr_scores import (
    CurrentKeyResultScores,
    CurrentObjectiveScores,
    InsertKeyResultScores,
    InsertObjectiveScores,
    KeyResultHistory,
    ObjectiveHistory,
    ObjectiveScoresAt,
    Scored,
    ScoresAt,
)
from .raw_events_ddl import (
    RAW_EVENTS_COLUMN_NAMES,
    RAW_EVENTS_COLUMNS,
    AddEventIdIndex,
    CreateDatabase,
    CreateRawEvents,
)
from .raw_events_insert import BatchPosition, InsertRawEvents, event_row, parse_time
from .seen_events import SeenEvents

__all__ = [
    "API_KEYS_COLUMNS",
    "API_KEY_COLUMN_NAMES",
    "KEY_RESULT_SCORES_COLUMNS",
    "OBJECTIVE_SCORES_COLUMNS",
    "OKR_DEFINITIONS_COLUMNS",
    "RAW_EVENTS_COLUMNS",
    "RAW_EVENTS_COLUMN_NAMES",
    "AddEventIdIndex",
    "ApiKeys",
    "BackfillKpiRollup",
    "BackfillMonths",
    "BatchPosition",
    "CopyLatestScores",
    "CreateApiKeysTable",
    "CreateCurrentScoreViews",
    "CreateDatabase",
    "CreateKeyResultScores",
    "CreateKpiRollup",
    "CreateKpiView",
    "CreateLatestScores",
    "CreateLatestScoresView",
    "CreateObjectiveScores",
    "CreateOkrDefinitions",
    "CreateRawEvents",
    "CurrentKeyResultScores",
    "CurrentObjectiveScores",
    "EventCounts",
    "FirstLanded",
    "Identifier",
    "Insert",
    "InsertKeyResultScores",
    "InsertObjectiveScores",
    "InsertRawEvents",
    "KeyResultHistory",
    "KnownIdentities",
    "KpiPoint",
    "KpiSeries",
    "LandedBatch",
    "LandedBatches",
    "LandedIdentities",
    "MetricRequest",
    "MetricValues",
    "MilestonesReached",
    "ObjectiveHistory",
    "ObjectiveScoresAt",
    "OkrVersions",
    "RecordOkrVersions",
    "Rows",
    "Scored",
    "ScoresAt",
    "Script",
    "SeenEvents",
    "Statement",
    "TypeCount",
    "WriteApiKey",
    "api_key_row",
    "chdb_path",
    "connect",
    "describe",
    "ensure_schema",
    "event_row",
    "execute",
    "fetch",
    "identity_partition",
    "insert",
    "key_version",
    "kpi_conditions",
    "log_partition",
    "parse_time",
    "rollup_table",
    "rollup_view",
]
