"""Cluster mode (OKRSTREAM_CLICKHOUSE_CLUSTER): the exact SQL of every statement on a cluster,
and that ClickHouse takes it.

chDB cannot run ON CLUSTER nor write a Replicated table (it runs no DDL worker, has no Keeper),
so the SQL is checked exactly here. chDB still parses and analyses it: started with a cluster
definition, macros and an in-memory test Keeper (in a process of its own, since chDB takes one
configuration per process), it refuses each ON CLUSTER statement only as distributed DDL, and
makes every table and view of the statement without the clause, Replicated and Distributed
engines, Keeper paths, settings and bound names included. tests/test_cluster_containers.py runs
it all on a real ClickHouse cluster where a Docker engine answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processors.clickhouse import (
    AddEventIdIndex,
    BatchPosition,
    CreateApiKeysTable,
    CreateCurrentScoreViews,
    CreateDatabase,
    CreateKeyResultScores,
    CreateLatestScores,
    CreateLatestScoresView,
    CreateObjectiveScores,
    CreateOkrDefinitions,
    CreateRawEvents,
    InsertRawEvents,
    LandedBatches,
    LandedIdentities,
    SeenEvents,
)
from processors.clickhouse.kpi_backfill import BackfillKpiRollup, SyncRawEvents
from processors.clickhouse.kpi_rollup_ddl import (
    CreateKpiHourlyView,
    CreateKpiRollup,
    CreateKpiRollupDistributed,
    CreateKpiView,
    DropKpiRollup,
    rollup_table,
)
from processors.clickhouse.kpi_values_view import CreateKpiValuesView
from processors.clickhouse.kpi_versions import CreateKpiDefinitionsView, CreateKpiVersions
from processors.clickhouse.raw_events_ddl import CreateRawEventsDistributed
from schemas import ConfigError, KpiDefinition, Settings
from tests.processors.clickhouse.test_raw_events_ddl import RAW_EVENTS_DDL

CLUSTER = "okr"
ON = " ON CLUSTER `okr`"
CUT = datetime(2026, 11, 1, tzinfo=UTC)
P90 = KpiDefinition.model_validate(
    {
        "name": "p90_order",
        "title": "p90",
        "events": ["order.placed"],
        "aggregation": "quantile",
        "quantile": 0.9,
        "measure": "amount",
        "dimensions": ["region"],
    }
)
P90_TABLE = rollup_table(P90)
P90_COLUMNS = """    bucket DateTime('UTC'),
    d0 String,
    value AggregateFunction(quantileExactInclusive({level:Float64}), Float64)
"""
P90_SELECT = """SELECT
    toStartOfMinute(occurred_at) AS bucket,
    dimensions[{d0_key:String}] AS d0,
    quantileExactInclusiveState({level:Float64})(measures[{measure:String}]) AS value
FROM {database:Identifier}.%s
WHERE type IN {types:Array(String)}
  AND mapContains(measures, {measure:String})
  AND %s
GROUP BY bucket, d0"""
P90_PARAMS = {"level": 0.9, "measure": "amount", "d0_key": "region", "types": ["order.placed"]}
_COLUMNS_END = "    landed_at DateTime64(6, 'UTC') MATERIALIZED now64(6),\n    INDEX"
_RAW_COLUMNS = RAW_EVENTS_DDL[RAW_EVENTS_DDL.index("(\n") : RAW_EVENTS_DDL.index(_COLUMNS_END)]

RAW_EVENTS_LOCAL = (
    "CREATE TABLE IF NOT EXISTS {database:Identifier}.raw_events_local ON CLUSTER `okr` "
    + _RAW_COLUMNS
    + """    landed_at DateTime64(6, 'UTC') MATERIALIZED now64(6),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/raw_events', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (type, occurred_at)
SETTINGS replicated_deduplication_window = {dedup_window:UInt64}"""
)
RAW_EVENTS_DISTRIBUTED = (
    "CREATE TABLE IF NOT EXISTS {database:Identifier}.raw_events ON CLUSTER `okr` "
    + _RAW_COLUMNS
    + """    landed_at DateTime64(6, 'UTC') MATERIALIZED now64(6)
) ENGINE = Distributed({cluster:Identifier}, {database:Identifier}, raw_events_local, kafka_partition)"""
)
EVERY_REPLICA = "FROM clusterAllReplicas({cluster:Identifier}, {database:Identifier}.raw_events_local)\n"


def _everywhere(table: str, columns: str, engine: str, order: str, settings: str = "") -> str:
    """The DDL of a table on every node: Replicated, its Keeper path without {shard}."""
    return (
        f"CREATE TABLE IF NOT EXISTS {{database:Identifier}}.{table} ON CLUSTER `okr` (\n    {columns}\n)"
        f" ENGINE = {engine}\nORDER BY {order}{settings}"
    )


_PATH = "'/clickhouse/tables/{database}/{table}', '{replica}'"
_DEDUP = "\nSETTINGS replicated_deduplication_window = {dedup_window:UInt64}"
_SCORE_COLUMNS = (
    "objective String,\n    version UInt32,\n    as_of DateTime64(6, 'UTC'),\n"
    "    scored_at DateTime64(6, 'UTC'),\n    score Float64,\n    expected Float64,\n"
    "    status LowCardinality(String),\n    grade LowCardinality(String),\n    falls_short Bool,\n"
    "    cause LowCardinality(String)"
)

CASES = [
    pytest.param(
        CreateDatabase("okrstream", CLUSTER),
        "CREATE DATABASE IF NOT EXISTS {database:Identifier} ON CLUSTER `okr`",
        {"database": "okrstream"},
        id="database",
    ),
    pytest.param(
        CreateRawEvents("okrstream", 1000, CLUSTER),
        RAW_EVENTS_LOCAL,
        {"database": "okrstream", "dedup_window": 1000},
        id="raw-events-local",
    ),
    pytest.param(
        CreateRawEventsDistributed("okrstream", CLUSTER),
        RAW_EVENTS_DISTRIBUTED,
        {"database": "okrstream", "cluster": "okr"},
        id="raw-events-distributed",
    ),
    pytest.param(
        AddEventIdIndex("okrstream", CLUSTER),
        "ALTER TABLE {database:Identifier}.raw_events_local ON CLUSTER `okr` ADD INDEX IF NOT EXISTS"
        " event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4",
        {"database": "okrstream"},
        id="event-id-index",
    ),
    pytest.param(
        CreateApiKeysTable("okrstream", CLUSTER),
        _everywhere(
            "api_keys",
            "key_id String,\n    name String,\n    access LowCardinality(String),\n"
            "    sources Array(String),\n    types Array(String),\n    secret_hash String,\n"
            "    created_at DateTime64(6, 'UTC'),\n"
            "    revoked_at Nullable(DateTime64(6, 'UTC')),\n    version UInt64",
            f"ReplicatedReplacingMergeTree({_PATH}, version)",
            "key_id",
        ),
        {"database": "okrstream"},
        id="api-keys",
    ),
    pytest.param(
        CreateOkrDefinitions("okrstream", 100, CLUSTER),
        _everywhere(
            "okr_definitions",
            "objective String,\n    version UInt32,\n    fingerprint String,\n"
            "    effective_from DateTime64(6, 'UTC'),\n    removed Bool,\n    definition String,\n"
            "    applied_by String",
            f"ReplicatedMergeTree({_PATH})",
            "(objective, version)",
            _DEDUP,
        ),
        {"database": "okrstream", "dedup_window": 100},
        id="okr-definitions",
    ),
    pytest.param(
        CreateObjectiveScores("okrstream", CLUSTER),
        _everywhere(
            "objective_scores",
            _SCORE_COLUMNS,
            f"ReplicatedMergeTree({_PATH})",
            "(objective, as_of, scored_at)",
        ),
        {"database": "okrstream"},
        id="objective-scores",
    ),
    pytest.param(
        CreateLatestScores("okrstream", "objective", CLUSTER),
        _everywhere(
            "objective_latest", _SCORE_COLUMNS, f"ReplicatedReplacingMergeTree({_PATH}, as_of)", "objective"
        ),
        {"database": "okrstream"},
        id="objective-latest",
    ),
    pytest.param(
        CreateLatestScoresView("okrstream", "objective", CLUSTER),
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.objective_latest_mv ON CLUSTER `okr`"
        " TO {database:Identifier}.objective_latest AS\n"
        "SELECT objective, version, as_of, scored_at, score, expected, status, grade, falls_short, cause\n"
        "FROM {database:Identifier}.objective_scores",
        {"database": "okrstream"},
        id="objective-latest-view",
    ),
    pytest.param(
        CreateKpiVersions("okrstream", CLUSTER),
        _everywhere(
            "kpi_versions",
            "name String,\n    change LowCardinality(String),\n    fingerprint String,\n    rollup String,\n"
            "    definition String,\n    applied_at DateTime64(6, 'UTC'),\n    applied_by String",
            f"ReplicatedMergeTree({_PATH})",
            "(name, applied_at)",
        ),
        {"database": "okrstream"},
        id="kpi-versions",
    ),
    pytest.param(
        CreateKpiRollup("db", P90, 1000, CLUSTER),
        "CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier} ON CLUSTER `okr` (\n"
        + P90_COLUMNS
        + ") ENGINE = ReplicatedAggregatingMergeTree("
        "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\n"
        "PARTITION BY toYYYYMM(bucket)\n"
        "ORDER BY (bucket, d0)\n"
        "SETTINGS replicated_deduplication_window = {dedup_window:UInt64}",
        {
            "level": 0.9,
            "measure": "amount",
            "database": "db",
            "table": f"{P90_TABLE}_local",
            "dedup_window": 1000,
        },
        id="kpi-rollup-local",
    ),
    pytest.param(
        CreateKpiRollup("db", P90, 1000, CLUSTER, hourly=True),
        "CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier} ON CLUSTER `okr` (\n"
        + P90_COLUMNS
        + ") ENGINE = ReplicatedAggregatingMergeTree("
        "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\n"
        "PARTITION BY toYear(bucket)\n"
        "ORDER BY (bucket, d0)\n"
        "SETTINGS replicated_deduplication_window = {dedup_window:UInt64}",
        {
            "level": 0.9,
            "measure": "amount",
            "database": "db",
            "table": f"{P90_TABLE}__hour_local",
            "dedup_window": 1000,
        },
        id="kpi-hourly-rollup-local",
    ),
    pytest.param(
        CreateKpiRollupDistributed("db", P90, CLUSTER, hourly=True),
        "CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier} ON CLUSTER `okr` (\n"
        + P90_COLUMNS
        + ") ENGINE = Distributed({cluster:Identifier}, {database:Identifier}, {local:Identifier}, rand())",
        {
            "level": 0.9,
            "measure": "amount",
            "database": "db",
            "table": f"{P90_TABLE}__hour",
            "local": f"{P90_TABLE}__hour_local",
            "cluster": "okr",
        },
        id="kpi-hourly-rollup-distributed",
    ),
    pytest.param(
        CreateKpiHourlyView("db", P90, CLUSTER),
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.{view:Identifier} ON CLUSTER `okr`\n"
        "TO {database:Identifier}.{table:Identifier}\n"
        "AS SELECT\n"
        "    toStartOfHour(bucket) AS bucket,\n"
        "    d0,\n"
        "    quantileExactInclusiveMergeState({level:Float64})(value) AS value\n"
        "FROM {database:Identifier}.{source:Identifier}\n"
        "GROUP BY bucket, d0",
        {
            "level": 0.9,
            "database": "db",
            "view": f"{P90_TABLE}__hour__mv",
            "table": f"{P90_TABLE}__hour_local",
            "source": f"{P90_TABLE}_local",
        },
        id="kpi-hourly-view-on-the-local-rollup",
    ),
    pytest.param(
        CreateKpiRollupDistributed("db", P90, CLUSTER),
        "CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier} ON CLUSTER `okr` (\n"
        + P90_COLUMNS
        + ") ENGINE = Distributed({cluster:Identifier}, {database:Identifier}, {local:Identifier}, rand())",
        {
            "level": 0.9,
            "measure": "amount",
            "database": "db",
            "table": P90_TABLE,
            "local": f"{P90_TABLE}_local",
            "cluster": "okr",
        },
        id="kpi-rollup-distributed",
    ),
    pytest.param(
        CreateKpiView("db", P90, CUT, CLUSTER),
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.{view:Identifier} ON CLUSTER `okr`\n"
        "TO {database:Identifier}.{table:Identifier}\n"
        "AS " + P90_SELECT % ("raw_events_local", "landed_at >= {landed_cutoff:DateTime64(6, 'UTC')}"),
        {
            **P90_PARAMS,
            "landed_cutoff": CUT,
            "database": "db",
            "view": f"{P90_TABLE}__mv",
            "table": f"{P90_TABLE}_local",
        },
        id="kpi-view-on-the-local-raw-events",
    ),
    pytest.param(
        BackfillKpiRollup("db", P90, CUT, 202610, CLUSTER),
        "INSERT INTO {database:Identifier}.{table:Identifier}\n"
        "SETTINGS insert_distributed_sync = 1\n"
        + P90_SELECT
        % (
            "raw_events",
            "landed_at < {landed_cutoff:DateTime64(6, 'UTC')} AND toYYYYMM(occurred_at) = {month:UInt32}",
        ),
        {**P90_PARAMS, "landed_cutoff": CUT, "month": 202610, "database": "db", "table": P90_TABLE},
        id="kpi-backfill-through-the-distributed-tables",
    ),
    pytest.param(
        SyncRawEvents("db", CLUSTER),
        "SYSTEM SYNC REPLICA ON CLUSTER `okr` {database:Identifier}.raw_events_local",
        {"database": "db"},
        id="sync-raw-events",
    ),
    pytest.param(
        LandedBatches("db", "log-a", 2, 40, CLUSTER),
        "SELECT DISTINCT batch_first_offset, batch_last_offset, batch_epoch\n"
        + EVERY_REPLICA
        + "WHERE kafka_log = {log:String} AND kafka_partition = {partition:UInt32}"
        " AND batch_last_offset >= {from_offset:UInt64}\n"
        "ORDER BY batch_first_offset",
        {"log": "log-a", "partition": 2, "cluster": "okr", "database": "db", "from_offset": 40},
        id="landed-batches-on-every-replica",
    ),
    pytest.param(
        LandedIdentities("db", "log-a", 2, 40, 49, CLUSTER),
        "SELECT source, event_id\n"
        + EVERY_REPLICA
        + "WHERE kafka_log = {log:String} AND kafka_partition = {partition:UInt32}\n"
        "  AND batch_first_offset = {first_offset:UInt64} AND batch_last_offset = {last_offset:UInt64}",
        {
            "log": "log-a",
            "partition": 2,
            "cluster": "okr",
            "database": "db",
            "first_offset": 40,
            "last_offset": 49,
        },
        id="landed-identities-on-every-replica",
    ),
    pytest.param(
        SeenEvents("db", "log-a", 2, 4, 40, CUT, CLUSTER),
        "SELECT source, event_id, toUnixTimestamp64Micro(min(received_at))\n"
        + EVERY_REPLICA
        + "WHERE CRC32(concat(source, '\\0', event_id)) % {partitions:UInt32} = {partition:UInt32}\n"
        "  AND received_at >= {since:DateTime64(6, 'UTC')}\n"
        "  AND NOT (kafka_log = {log:String} AND batch_first_offset >= {replay_from:UInt64})\n"
        "GROUP BY source, event_id",
        {
            "partition": 2,
            "partitions": 4,
            "cluster": "okr",
            "database": "db",
            "log": "log-a",
            "replay_from": 40,
            "since": CUT,
        },
        id="seen-events-on-every-replica",
    ),
]


@pytest.mark.parametrize(("statement", "sql", "params"), CASES)
def test_to_sql_on_a_cluster(statement, sql: str, params: dict[str, Any]) -> None:
    assert statement.to_sql() == (sql, params)


def test_key_result_scores_are_on_every_node() -> None:
    sql, _ = CreateKeyResultScores("db", CLUSTER).to_sql()
    assert sql.startswith(
        "CREATE TABLE IF NOT EXISTS {database:Identifier}.key_result_scores ON CLUSTER `okr` (\n"
    )
    assert sql.endswith(f"\n) ENGINE = ReplicatedMergeTree({_PATH})\nORDER BY (key_result, as_of, scored_at)")


def test_views_are_made_on_every_node() -> None:
    current = CreateCurrentScoreViews("db", CLUSTER).statements()
    assert [sql.split("\n")[0] for sql, _ in current] == [
        "CREATE OR REPLACE VIEW %(database)s.key_result_current ON CLUSTER `okr` AS",
        "CREATE OR REPLACE VIEW %(database)s.objective_current ON CLUSTER `okr` AS",
    ]
    for statement, plain in (
        (CreateKpiDefinitionsView("db", CLUSTER), CreateKpiDefinitionsView("db")),
        (CreateKpiValuesView("db", {"p90_order": P90}, "UTC", CLUSTER), CreateKpiValuesView("db", {}, "UTC")),
    ):
        sql, _ = statement.to_sql()
        name = plain.to_sql()[0].split("\n")[0].removesuffix(" AS")
        assert sql.split("\n")[0] == f"{name} ON CLUSTER `okr` AS"
    # the BI view reads the Distributed rollup, the name every read uses
    _, params = CreateKpiValuesView("db", {"p90_order": P90}, "UTC", CLUSTER).to_sql()
    assert params["k0_table"].name == P90_TABLE


def test_a_rollup_is_dropped_with_its_local_tables_at_once() -> None:
    view = "DROP VIEW IF EXISTS {database:Identifier}.{view:Identifier} ON CLUSTER `okr` SYNC"
    table = "DROP TABLE IF EXISTS {database:Identifier}.{table:Identifier} ON CLUSTER `okr` SYNC"
    assert DropKpiRollup("db", "kpi_x__abc", CLUSTER).statements() == [
        (view, {"database": "db", "view": "kpi_x__abc__mv"}),
        (view, {"database": "db", "view": "kpi_x__abc__hour__mv"}),
        (table, {"database": "db", "table": "kpi_x__abc"}),
        (table, {"database": "db", "table": "kpi_x__abc_local"}),
        (table, {"database": "db", "table": "kpi_x__abc__hour"}),
        (table, {"database": "db", "table": "kpi_x__abc__hour_local"}),
    ]


def test_the_sink_inserts_through_the_distributed_table_synchronously_with_its_token() -> None:
    position = BatchPosition("log-a", 2, 40, 49, 7)
    insert = InsertRawEvents("db", position, [()] * 3, cluster=CLUSTER)
    rows = insert.to_insert()
    assert (rows.table, rows.database) == ("raw_events", "db")
    assert rows.settings == {
        "insert_deduplicate": 1,
        "insert_deduplication_token": "log-a:2:40-49:7",
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        "max_insert_block_size": 3,
        "min_insert_block_size_rows": 0,
        "min_insert_block_size_bytes": 0,
        "insert_distributed_sync": 1,
    }
    assert "insert_distributed_sync" not in InsertRawEvents("db", position, [()]).settings()


def test_the_cluster_setting_is_an_identifier_of_servers_named_by_url() -> None:
    server = {"CLICKHOUSE_URL": "http://clickhouse-1:8123"}
    assert (
        Settings.from_env({**server, "OKRSTREAM_CLICKHOUSE_CLUSTER": "okr_2s"}).clickhouse_cluster == "okr_2s"
    )
    assert Settings().clickhouse_cluster is None
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**server, "OKRSTREAM_CLICKHOUSE_CLUSTER": "okr`; DROP"})
    assert caught.value.errors[0].path == "OKRSTREAM_CLICKHOUSE_CLUSTER"
    with pytest.raises(ConfigError) as caught:  # embedded chDB has no cluster to run ON CLUSTER on
        Settings.from_env({"OKRSTREAM_CLICKHOUSE_CLUSTER": "okr_2s"})
    [error] = caught.value.errors
    assert (error.path, error.message) == (
        "OKRSTREAM_CLICKHOUSE_CLUSTER",
        "a cluster needs CLICKHOUSE_URL, one of its servers: embedded chDB is one node",
    )
    with pytest.raises(ValueError, match="identifier"):
        CreateDatabase("db", "okr`; DROP").to_sql()


# -- ClickHouse takes it: chDB with a cluster, macros and a test Keeper, in a process of its own ---

_CONFIG = """<clickhouse>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <macros><shard>01</shard><replica>node-1</replica></macros>
  <remote_servers><okr><shard><internal_replication>true</internal_replication>
    <replica><host>127.0.0.1</host><port>1</port></replica>
  </shard></okr></remote_servers>
</clickhouse>
"""

# ensure_schema and a KPI's objects as apply_kpis makes them, through a client that runs each
# statement as it is, then without its ON CLUSTER; reads go through unchanged
_CHILD = textwrap.dedent(
    r"""
    import json, os, re, sys
    from datetime import UTC, datetime
    import clickhouse_connect
    from processors.clickhouse import ensure_schema, execute, fetch
    from processors.clickhouse import LandedBatches, LandedIdentities, SeenEvents
    from processors.clickhouse.kpi_backfill import BackfillKpiRollup, BackfillMonths, SyncRawEvents
    from processors.clickhouse.kpi_rollup_ddl import (
        CreateKpiHourlyView, CreateKpiRollup, CreateKpiRollupDistributed, CreateKpiView, DropKpiRollup,
        rollup_table)
    from processors.clickhouse.kpi_values_view import CreateKpiValuesView
    from processors.clickhouse.kpi_versions import CreateKpiDefinitionsView, KpiHistory
    from schemas import KpiDefinition, Settings

    client = clickhouse_connect.get_client(
        interface="chdb", path=sys.argv[1], chdb_options={"config-file": sys.argv[2]})
    ON = " ON CLUSTER `okr`"
    results = []

    def code(run):
        try:
            run()
            return 0
        except Exception as e:
            found = re.search(r"Code: (\d+)", str(e))
            return int(found.group(1)) if found else str(e)[:300]

    class Twice:
        def command(self, sql, parameters=None, settings=None):
            run = lambda: client.command(sql, parameters=parameters)  # noqa: E731
            entry = {"sql": sql.split("\n")[0], "as_is": code(run)}
            if ON in sql:
                plain = sql.replace(ON, "")
                entry["without"] = code(lambda: client.command(plain, parameters=parameters))
            results.append(entry)

        def query(self, sql, parameters=None, settings=None):
            return client.query(sql, parameters=parameters)

    twice = Twice()
    # the URL is never dialled: the statements run on this process's chDB, ON CLUSTER stripped
    settings = Settings(
        clickhouse_url="http://unused:8123", clickhouse_database="okr_db", clickhouse_cluster="okr"
    )
    ensure_schema(twice, settings)
    kpi = KpiDefinition.model_validate_json(sys.argv[3])
    cut = datetime(2026, 11, 1, tzinfo=UTC)
    execute(twice, DropKpiRollup("okr_db", rollup_table(kpi), "okr"))
    for hourly in (False, True):
        execute(twice, CreateKpiRollup("okr_db", kpi, 1000, "okr", hourly))
        execute(twice, CreateKpiRollupDistributed("okr_db", kpi, "okr", hourly))
    execute(twice, CreateKpiHourlyView("okr_db", kpi, "okr"))
    execute(twice, CreateKpiView("okr_db", kpi, cut, "okr"))
    execute(twice, SyncRawEvents("okr_db", "okr"))
    execute(twice, BackfillKpiRollup("okr_db", kpi, cut, 202610, "okr"))
    execute(twice, CreateKpiDefinitionsView("okr_db", "okr"))
    execute(twice, CreateKpiValuesView("okr_db", {kpi.name: kpi}, "UTC", "okr"))
    for query in (
        LandedBatches("okr_db", "log-a", 2, 40, "okr"),
        LandedIdentities("okr_db", "log-a", 2, 40, 49, "okr"),
        SeenEvents("okr_db", "log-a", 2, 4, 40, cut, "okr"),
        BackfillMonths("okr_db", kpi, cut),
        KpiHistory("okr_db"),
    ):
        results.append({"sql": type(query).__name__, "as_is": code(lambda: fetch(client, query))})
    tables = fetch(client, type("Q", (), {"to_sql": lambda self: (
        "SELECT name, engine FROM system.tables WHERE database = 'okr_db' ORDER BY name", {})})())
    print(json.dumps({"results": results, "tables": [list(t) for t in tables]}), flush=True)
    os._exit(0)  # chDB with a test Keeper may abort while shutting down; the answer is out
    """
)

QUERY_IS_PROHIBITED = 392  # chDB refuses distributed DDL: the statement parsed and was understood
NO_DISTRIBUTED_DDL = 139  # SYSTEM ... ON CLUSTER: no distributed_ddl section in chDB's configuration
TABLE_IS_READ_ONLY = 242  # a Replicated table whose Keeper has no metadata for it: no writes, no sync
NETWORK = {210, 279, 519}  # the cluster's one node does not answer: the read was built and sent


def test_clickhouse_takes_every_cluster_statement(infra, tmp_path: Path) -> None:
    """`infra` only places this in the services tier, with the other tests that run chDB."""
    config = tmp_path / "cluster.xml"
    config.write_text(_CONFIG)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "chdb"), str(config), P90.model_dump_json()],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=Path(__file__).parents[3],
    )
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    assert lines, child.stderr[-3000:]
    answer = json.loads(lines[-1])
    outcomes = {entry["sql"]: entry for entry in answer["results"]}
    for sql, entry in outcomes.items():
        if ON in sql:
            expected = NO_DISTRIBUTED_DDL if sql.startswith("SYSTEM") else QUERY_IS_PROHIBITED
            assert entry["as_is"] == expected, entry
            if sql.startswith(("ALTER", "SYSTEM")):
                assert entry["without"] in (0, TABLE_IS_READ_ONLY), entry
            else:
                assert entry["without"] == 0, entry
        elif sql.startswith("INSERT INTO {database:Identifier}.{table:Identifier}"):  # the backfill
            assert entry["as_is"] in NETWORK, entry
        elif sql.startswith("INSERT"):  # filling a new latest-score table from the history: local
            assert entry["as_is"] in (0, TABLE_IS_READ_ONLY), entry
    for read in ("LandedBatches", "LandedIdentities", "SeenEvents", "BackfillMonths"):
        assert outcomes[read]["as_is"] in NETWORK, outcomes[read]
    assert outcomes["KpiHistory"]["as_is"] == 0  # kpi_versions is local on every node
    engines = dict(answer["tables"])
    assert engines == {
        "api_keys": "ReplicatedReplacingMergeTree",
        "key_result_current": "View",
        "key_result_latest": "ReplicatedReplacingMergeTree",
        "key_result_latest_mv": "MaterializedView",
        "key_result_scores": "ReplicatedMergeTree",
        "kpi_definitions": "View",
        "kpi_values": "View",
        "kpi_versions": "ReplicatedMergeTree",
        P90_TABLE: "Distributed",
        f"{P90_TABLE}__mv": "MaterializedView",
        f"{P90_TABLE}_local": "ReplicatedAggregatingMergeTree",
        f"{P90_TABLE}__hour": "Distributed",
        f"{P90_TABLE}__hour__mv": "MaterializedView",
        f"{P90_TABLE}__hour_local": "ReplicatedAggregatingMergeTree",
        "objective_current": "View",
        "objective_latest": "ReplicatedReplacingMergeTree",
        "objective_latest_mv": "MaterializedView",
        "objective_scores": "ReplicatedMergeTree",
        "okr_definitions": "ReplicatedMergeTree",
        "raw_events": "Distributed",
        "raw_events_local": "ReplicatedMergeTree",
    }
