"""Cluster mode (`OKRSTREAM_CLICKHOUSE_CLUSTER`): the clauses that put a DDL statement on a cluster.

Without a cluster every helper gives what the statements always had ('' or the plain engine), so
their SQL is unchanged. With one:

- every DDL runs `ON CLUSTER`. ClickHouse reads the name there as a bare name or a string, never
  as a query parameter (`ON CLUSTER {cluster:Identifier}` is a syntax error), so there, and only
  there, the name is written into the text: it must be an identifier (Settings admits nothing
  else, and `on_cluster` checks again) and is quoted as one. Everywhere else (a Distributed
  table's arguments, `clusterAllReplicas`) it is bound as `{cluster:Identifier}`;
- `raw_events` and the KPI rollups are sharded: a Replicated table per shard (its Keeper path
  holds `{shard}`) under a Distributed table of the plain name, which reads and writes go
  through;
- the small tables (API keys, OKR definitions and scores, KPI versions) are on every node: a
  Replicated table whose path has no `{shard}`, so every node of the cluster is a replica.
"""

from __future__ import annotations

import re
from typing import Any

from clickhouse_connect.driver.binding import quote_identifier

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# The table under a Distributed table, on each shard: `raw_events_local` under `raw_events`.
LOCAL_SUFFIX = "_local"


def on_cluster(cluster: str | None) -> str:
    """' ON CLUSTER `name`', or '' without a cluster."""
    if cluster is None:
        return ""
    if not _NAME.fullmatch(cluster):
        raise ValueError(f"a cluster name must be an identifier (letters, digits, _), got {cluster!r}")
    return f" ON CLUSTER {quote_identifier(cluster)}"


def drop_sync(cluster: str | None) -> str:
    """' SYNC' on a cluster: a dropped Replicated table frees its Keeper path at once (not minutes
    later, as an Atomic database would), so a table made again under its name can take it."""
    return "" if cluster is None else " SYNC"


def local_name(table: str, cluster: str | None) -> str:
    """Where a sharded table's rows are stored: the table itself, or its local table on a cluster."""
    return table if cluster is None else table + LOCAL_SUFFIX


def engine(name: str, cluster: str | None, *args: str, sharded: bool, path: str = "{table}") -> str:
    """`name(args)` (`name` alone without arguments), or its Replicated form on a cluster.

    A sharded table's Keeper path is `/clickhouse/tables/{shard}/{database}/<path>` (the replicas
    of one shard share it); a table on every node has `/clickhouse/tables/{database}/<path>`
    (every node a replica). `{shard}`, `{replica}`, `{database}` and `{table}` are macros each
    node fills in: `{shard}` and `{replica}` from its configuration.
    """
    if cluster is None:
        return f"{name}({', '.join(args)})" if args else name
    shard = "{shard}/" if sharded else ""
    keeper = ["'/clickhouse/tables/" + shard + "{database}/" + path + "'", "'{replica}'"]
    return f"Replicated{name}({', '.join([*keeper, *args])})"


def dedup_window_setting(cluster: str | None) -> str:
    """The table setting that keeps the last N insert tokens, as each engine names it."""
    return "non_replicated_deduplication_window" if cluster is None else "replicated_deduplication_window"


def distributed(local: str, sharding_key: str) -> str:
    """The Distributed engine over `local` (SQL: a bound name or a fixed one) on every shard."""
    return f"Distributed({{cluster:Identifier}}, {{database:Identifier}}, {local}, {sharding_key})"


def every_replica(table: str, cluster: str | None) -> tuple[str, dict[str, Any]]:
    """(FROM source, its parameters) reading a sharded `table`: on a cluster every replica of
    every shard, each shard's local table (rows repeat once per replica: read them as a set).

    The sink's exactly-once decisions read this way. An insert is acknowledged once one replica
    of its shard holds the block, and the others fetch it later; a Distributed read takes one
    replica per shard, which may not have fetched yet. A worker that took over a partition would
    then miss a batch the previous owner landed, and land its events again under a new token.
    Reading every replica finds it on the replica that took it; if that replica is down, the
    read fails and the worker retries, rather than deciding on partial data. It reads every
    shard too, so batches and identities are found wherever they were sharded (the identity rule
    does not name a shard).
    """
    if cluster is None:
        return "{database:Identifier}." + table, {}
    source = "clusterAllReplicas({cluster:Identifier}, {database:Identifier}." + local_name(table, cluster)
    return source + ")", {"cluster": cluster}
