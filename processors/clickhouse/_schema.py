"""Create what okrstream needs in ClickHouse; safe to run at every start."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from schemas import Settings

from ._statement import execute, fetch
from .api_keys_ddl import CreateApiKeysTable
from .kpi_versions import CreateKpiVersions
from .okr_ddl import (
    CopyLatestScores,
    CreateCurrentScoreViews,
    CreateKeyResultScores,
    CreateLatestScores,
    CreateLatestScoresView,
    CreateObjectiveScores,
    CreateOkrDefinitions,
    LatestScoresExist,
)
from .raw_events_ddl import AddEventIdIndex, CreateDatabase, CreateRawEvents, CreateRawEventsDistributed


def ensure_schema(client: Client, settings: Settings) -> None:
    """On a cluster (`settings.clickhouse_cluster`) every statement runs ON CLUSTER: see _cluster."""
    database, cluster = settings.clickhouse_database, settings.clickhouse_cluster
    execute(client, CreateDatabase(database, cluster))
    execute(client, CreateRawEvents(database, settings.dedup_block_window, cluster))
    if cluster is not None:
        execute(client, CreateRawEventsDistributed(database, cluster))
    execute(client, AddEventIdIndex(database, cluster))
    execute(client, CreateApiKeysTable(database, cluster))
    execute(client, CreateOkrDefinitions(database, settings.dedup_block_window, cluster))
    execute(client, CreateKeyResultScores(database, cluster))
    execute(client, CreateObjectiveScores(database, cluster))
    for kind in ("key_result", "objective"):
        _ensure_latest_scores(client, database, kind, cluster)
    execute(client, CreateCurrentScoreViews(database, cluster))
    if cluster is not None:  # elsewhere reading KPIs makes it on first use, as it always did
        execute(client, CreateKpiVersions(database, cluster))


def _ensure_latest_scores(client: Client, database: str, kind: str, cluster: str | None) -> None:
    """The latest-score table and its view; a table made now is filled from the history kept so far.

    The copy runs after the view exists, so a row landing meanwhile is in the table once or twice
    (readers take the newest per id), never missing. On a cluster the node asked copies, into a
    table every node replicates.
    """
    existed = LatestScoresExist.parse(fetch(client, LatestScoresExist(database, kind)))
    execute(client, CreateLatestScores(database, kind, cluster))
    execute(client, CreateLatestScoresView(database, kind, cluster))
    if not existed:
        execute(client, CopyLatestScores(database, kind))
