"""A KPI's rollup tables and the materialized views that feed them from raw_events.

The rollup keeps `-State` values per minute bucket and break-down dimension, so any grain from
minute to year, in any time zone, is merged from it at query time. Its hourly level (`__hour`)
holds the same states merged per hour, fed by a view on the minute rollup (so the backfill and the
live view both reach it); reads by hour and longer that start and end on whole hours of a zone
whose offset is whole hours merge up to 60x fewer rows from it (see kpi_series). Names carry the definition's
fingerprint: a changed definition gets new objects, built beside the old ones, never patched.
The SELECT that feeds the view is the same one a backfill runs (`kpi_select`), below a cutoff.

On a cluster the rollup is sharded like raw_events: the view sits on each shard's
`raw_events_local` (a view on the Distributed `raw_events` would not see the rows inserted on
the shards) and writes that shard's Replicated `<rollup>_local`; `<rollup>` is the Distributed
table over them, which every read goes through (the `-State` values merge at read time, whichever
shard holds them) and the backfill writes into.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import Aggregation, KpiDefinition

from ._cluster import dedup_window_setting, distributed, drop_sync, engine, local_name, on_cluster
from ._filters import kpi_conditions, landed_since

# (the SQL value expression, the quantile level's placeholder) -> the -State expression over it
StateOf = Callable[[str, str], str]

# aggregation -> (state column type, state expression, merge function); `{level}` in a column type
# stands for the quantile level's placeholder (see state_of)
_STATES: dict[Aggregation, tuple[str, StateOf, str]] = {
    Aggregation.COUNT: ("AggregateFunction(count)", lambda v, _: "countState()", "countMerge"),
    Aggregation.SUM: ("AggregateFunction(sum, Float64)", lambda v, _: f"sumState({v})", "sumMerge"),
    Aggregation.AVG: ("AggregateFunction(avg, Float64)", lambda v, _: f"avgState({v})", "avgMerge"),
    Aggregation.MIN: ("AggregateFunction(min, Float64)", lambda v, _: f"minState({v})", "minMerge"),
    Aggregation.MAX: ("AggregateFunction(max, Float64)", lambda v, _: f"maxState({v})", "maxMerge"),
    # the last value by time, ties broken by event id so that every rebuild agrees
    Aggregation.LATEST: (
        "AggregateFunction(argMax, Float64, Tuple(DateTime64(6, 'UTC'), String))",
        lambda v, _: f"argMaxState({v}, (occurred_at, event_id))",
        "argMaxMerge",
    ),
}
_DISTINCT: dict[bool, tuple[str, StateOf, str]] = {
    False: ("AggregateFunction(uniqExact, String)", lambda v, _: f"uniqExactState({v})", "uniqExactMerge"),
    True: ("AggregateFunction(uniq, String)", lambda v, _: f"uniqState({v})", "uniqMerge"),
}
# Quantiles are deterministic, whatever the group's size and however parts merge: exact with
# linear interpolation between ranks (as numpy's default), or, with `approximate: true`, a
# DDSketch whose answer is within 1% of the value at the rank asked for. (ClickHouse's plain
# `quantile` samples 8,192 values at random: a large group read twice could give two answers.)
# The level is a bound parameter, substituted as a literal where ClickHouse needs one; `{level}`
# in a merge function stands for it (see merge_of).
QUANTILE_ACCURACY = 0.01  # the relative accuracy of an approximate quantile
_QUANTILE: dict[bool, tuple[str, StateOf, str]] = {
    False: (
        "AggregateFunction(quantileExactInclusive({level}), Float64)",
        lambda v, level: f"quantileExactInclusiveState({level})({v})",
        "quantileExactInclusiveMerge({level})",
    ),
    True: (
        f"AggregateFunction(quantileDD({QUANTILE_ACCURACY}, {{level}}), Float64)",
        lambda v, level: f"quantileDDState({QUANTILE_ACCURACY}, {level})({v})",
        f"quantileDDMerge({QUANTILE_ACCURACY}, {{level}})",
    ),
}


def merge_of(
    kpi: KpiDefinition, level: str = "level", client_bound: bool = False
) -> tuple[str, dict[str, Any]]:
    """The -Merge function that finalizes a stored KPI's states, and the quantile level bound as `level`.

    Statements merging several KPIs give each its own `level`; views bind it client-side.
    """
    merge = _states(kpi)[2]
    if kpi.aggregation is Aggregation.QUANTILE:
        marker = f"%({level})s" if client_bound else f"{{{level}:Float64}}"
        return merge.format(level=marker), {level: kpi.quantile}
    return merge, {}


def _states(kpi: KpiDefinition) -> tuple[str, StateOf, str]:
    if kpi.aggregation is Aggregation.RATIO:
        raise ValueError(f"KPI {kpi.name!r} is a ratio: computed from its inputs, it has no rollup")
    if kpi.aggregation is Aggregation.COUNT_DISTINCT:
        return _DISTINCT[kpi.approximate]
    if kpi.aggregation is Aggregation.QUANTILE:
        return _QUANTILE[kpi.approximate]
    return _STATES[kpi.aggregation]


def rollup_table(kpi: KpiDefinition) -> str:
    return f"kpi_{kpi.name}__{kpi.fingerprint()[:12]}"


def rollup_view(kpi: KpiDefinition) -> str:
    return view_of(rollup_table(kpi))


def hourly_of(table: str) -> str:
    """The hourly level of a rollup table."""
    return f"{table}__hour"


def view_of(table: str) -> str:
    """The materialized view that feeds a rollup table."""
    return f"{table}__mv"


def dimension_column(kpi: KpiDefinition, key: str) -> str:
    """Rollup columns are named by position (d0, d1, ...), so no name from a definition reaches SQL."""
    return f"d{kpi.dimensions.index(key)}"


def state_of(kpi: KpiDefinition, prefix: str = "") -> tuple[str, str, str, dict[str, Any]]:
    """(column type, state expression, merge function, parameters) for a stored KPI.

    Parameters are named `prefix + name` (`level`, `measure`, `of_key`), as in kpi_conditions.
    """
    column_type, state_over, _ = _states(kpi)
    merge, params = merge_of(kpi, level=f"{prefix}level")
    if kpi.aggregation is Aggregation.COUNT_DISTINCT:
        kind = kpi.of or "subject"
        if kind == "subject":
            value = "subject"
        else:
            value = f"dimensions[{{{prefix}of_key:String}}]"
            params[f"{prefix}of_key"] = kind.partition(".")[2]
    else:
        value = f"measures[{{{prefix}measure:String}}]"
        if kpi.measure is not None:
            params[f"{prefix}measure"] = kpi.measure
    level = f"{{{prefix}level:Float64}}"
    return column_type.format(level=level), state_over(value, level), merge, params


def kpi_select(
    kpi: KpiDefinition,
    database: str,
    landed: tuple[str, dict[str, Any]],
    prefix: str = "",
    source: str = "raw_events",
) -> tuple[str, dict[str, Any]]:
    """The rollup rows of a KPI from the raw_events rows that `landed` selects (see _filters).

    The view and the backfill run this same query, on either side of one cutoff; an as-of read
    (key_result_values) runs it as a subquery, its parameters named `prefix + name`. `source` is
    the table read (a fixed name): a view on a cluster reads the shard's `raw_events_local`.
    """
    _, state, _, params = state_of(kpi, prefix)
    where, filter_params = kpi_conditions(kpi, prefix)
    landed_where, landed_params = landed
    columns = [dimension_column(kpi, key) for key in kpi.dimensions]
    selected = "".join(f"    dimensions[{{{prefix}{c}_key:String}}] AS {c},\n" for c in columns)
    group = "".join(f", {c}" for c in columns)
    sql = (
        "SELECT\n"
        "    toStartOfMinute(occurred_at) AS bucket,\n"
        f"{selected}"
        f"    {state} AS value\n"
        f"FROM {{database:Identifier}}.{source}\n"
        f"WHERE {where}\n"
        f"  AND {landed_where}\n"
        f"GROUP BY bucket{group}"
    )
    for c, key in zip(columns, kpi.dimensions, strict=True):
        params[f"{prefix}{c}_key"] = key
    return sql, {**params, **filter_params, **landed_params, "database": database}


def _rollup_columns(kpi: KpiDefinition) -> tuple[str, str, dict[str, Any]]:
    """(the column declarations, the ORDER BY tail, the state type's parameters) of a rollup."""
    column_type, _, _, params = state_of(kpi)
    dims = [dimension_column(kpi, key) for key in kpi.dimensions]
    columns = "".join(f"    {c} String,\n" for c in dims)
    return (
        f"    bucket DateTime('UTC'),\n{columns}    value {column_type}\n",
        "".join(f", {c}" for c in dims),
        params,
    )


@dataclass(frozen=True)
class CreateKpiRollup:
    """The table that stores a KPI's states: on a cluster, each shard's Replicated `<rollup>_local`."""

    database: str
    kpi: KpiDefinition
    dedup_window: int  # as on raw_events: a retried block is dropped in every table of the chain
    cluster: str | None = None
    # the hourly level: same columns, buckets on the hour, a partition per year (60x fewer rows
    # than the minute rollup's months, so a quarter's read opens one partition's parts, not three)
    hourly: bool = False

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        columns, order, params = _rollup_columns(self.kpi)
        table = rollup_table(self.kpi)
        table_engine = engine("AggregatingMergeTree", self.cluster, sharded=True)
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier}"
            + on_cluster(self.cluster)
            + " (\n"
            f"{columns}"
            f") ENGINE = {table_engine}\n"
            f"PARTITION BY {'toYear' if self.hourly else 'toYYYYMM'}(bucket)\n"
            f"ORDER BY (bucket{order})\n"
            f"SETTINGS {dedup_window_setting(self.cluster)} = {{dedup_window:UInt64}}"
        )
        return sql, {
            **params,
            "database": self.database,
            "table": local_name(hourly_of(table) if self.hourly else table, self.cluster),
            "dedup_window": self.dedup_window,
        }


@dataclass(frozen=True)
class CreateKpiRollupDistributed:
    """On a cluster, `<rollup>`: the Distributed table over every shard's `<rollup>_local`.

    Reads merge the states of all shards. The backfill inserts through it, so it needs a sharding
    key: any shard may hold any state (`rand()`), since they merge at read time.
    """

    database: str
    kpi: KpiDefinition
    cluster: str
    hourly: bool = False  # over the shards' hourly level

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        columns, _, params = _rollup_columns(self.kpi)
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier}"
            + on_cluster(self.cluster)
            + " (\n"
            f"{columns}"
            f") ENGINE = {distributed('{local:Identifier}', 'rand()')}"
        )
        table = hourly_of(rollup_table(self.kpi)) if self.hourly else rollup_table(self.kpi)
        return sql, {
            **params,
            "database": self.database,
            "table": table,
            "local": local_name(table, self.cluster),
            "cluster": self.cluster,
        }


@dataclass(frozen=True)
class CreateKpiView:
    """The view feeds the rollup with events that land at or after `landed_from`.

    Events that landed earlier are the backfill's (BackfillKpiRollup), so none is counted twice.
    On a cluster each node has the view, on its shard's `raw_events_local`, writing its shard's
    `<rollup>_local`.
    """

    database: str
    kpi: KpiDefinition
    landed_from: datetime
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        source = local_name("raw_events", self.cluster)
        select, params = kpi_select(self.kpi, self.database, landed_since(self.landed_from), source=source)
        sql = (
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.{view:Identifier}"
            + on_cluster(self.cluster)
            + "\n"
            "TO {database:Identifier}.{table:Identifier}\n"
            "AS " + select
        )
        table = rollup_table(self.kpi)
        return sql, {**params, "view": rollup_view(self.kpi), "table": local_name(table, self.cluster)}


@dataclass(frozen=True)
class CreateKpiHourlyView:
    """The view that merges each block written to the minute rollup into the hourly level.

    It reads whatever the minute rollup is given, live view and backfill alike, so the two levels
    never disagree. A retried raw_events block dropped as a duplicate in the minute rollup is
    dropped here too: the chain shares the insert's token (deduplicate_blocks_in_dependent_
    materialized_views). On a cluster each node's view reads its shard's `<rollup>_local`.
    """

    database: str
    kpi: KpiDefinition
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        _, _, merge, params = state_of(self.kpi)
        dims = [dimension_column(self.kpi, key) for key in self.kpi.dimensions]
        selected = "".join(f"    {c},\n" for c in dims)
        merge_state = merge.replace("Merge", "MergeState", 1)
        table = rollup_table(self.kpi)
        sql = (
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.{view:Identifier}"
            + on_cluster(self.cluster)
            + "\n"
            "TO {database:Identifier}.{table:Identifier}\n"
            "AS SELECT\n"
            "    toStartOfHour(bucket) AS bucket,\n"
            f"{selected}"
            f"    {merge_state}(value) AS value\n"
            "FROM {database:Identifier}.{source:Identifier}\n"
            "GROUP BY bucket" + "".join(f", {c}" for c in dims)
        )
        params.pop("measure", None)
        params.pop("of_key", None)
        return sql, {
            **params,
            "database": self.database,
            "view": view_of(hourly_of(table)),
            "table": local_name(hourly_of(table), self.cluster),
            "source": local_name(table, self.cluster),
        }


@dataclass(frozen=True)
class ExistingTables:
    """Which of these tables exist: a KPI applied before the hourly level has only its minute rollup."""

    database: str
    tables: tuple[str, ...]

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "SELECT name\n"
            "FROM system.tables\n"
            "WHERE database = {database:String} AND name IN {tables:Array(String)}"
        )
        return sql, {"database": self.database, "tables": list(self.tables)}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> set[str]:
        return {str(name) for (name,) in rows}


@dataclass(frozen=True)
class DropKpiRollup:
    """Drop a rollup's tables and views: the views first, so nothing writes into a dropped table.

    Both levels: the minute rollup and its view, the hourly level and its view. On a cluster also
    the Distributed tables and the shards' local tables, each ON CLUSTER and SYNC (see drop_sync).
    """

    database: str
    table: str
    cluster: str | None = None

    def statements(self) -> list[tuple[str, dict[str, Any]]]:
        tail = on_cluster(self.cluster) + drop_sync(self.cluster)
        drop_view = "DROP VIEW IF EXISTS {database:Identifier}.{view:Identifier}" + tail
        drop_table = "DROP TABLE IF EXISTS {database:Identifier}.{table:Identifier}" + tail
        levels = (self.table, hourly_of(self.table))
        statements = [(drop_view, {"database": self.database, "view": view_of(t)}) for t in levels]
        for table in levels:
            params = {"database": self.database, "table": table}
            statements.append((drop_table, params))
            if self.cluster is not None:
                statements.append((drop_table, {**params, "table": local_name(table, self.cluster)}))
        return statements
