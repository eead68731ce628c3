"""DDL of OKR scoring: every version of every objective, the score history, and its latest rows.

Scores are history: a recomputation is a new row (with when it was computed and why), never an
update, so "what did the score say at that instant" is a query, not a reconstruction. The tables
are plain columns, for BI tools; `key_result_current` and `objective_current` show the latest
row of each key result and objective.

On a cluster every node holds all of it: each table is Replicated without `{shard}` (every node
a replica), so any node reads it locally, and every view is made `ON CLUSTER`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._cluster import dedup_window_setting, engine, on_cluster
from ._statement import Identifier

_TIME = "DateTime64(6, 'UTC')"

OKR_DEFINITIONS_COLUMNS = (
    ("objective", "String"),
    ("version", "UInt32"),  # 1, 2, ... per objective
    ("fingerprint", "String"),
    ("effective_from", _TIME),
    ("removed", "Bool"),
    ("definition", "String"),  # the objective as JSON; '' when removed
    ("applied_by", "String"),
)
KEY_RESULT_SCORES_COLUMNS = (
    ("key_result", "String"),
    ("objective", "String"),
    ("version", "UInt32"),  # the objective definition's version that was scored
    ("as_of", _TIME),  # the instant the score describes
    ("scored_at", _TIME),  # when it was computed
    ("value", "Nullable(Float64)"),
    ("start", "Nullable(Float64)"),
    ("target", "Nullable(Float64)"),
    ("progress", "Float64"),
    ("attainment", "Nullable(Float64)"),
    ("expected", "Float64"),
    ("status", "LowCardinality(String)"),
    ("grade", "LowCardinality(String)"),
    ("falls_short", "Bool"),
    ("cause", "LowCardinality(String)"),  # why it was recomputed
    ("period_start", _TIME),
    ("period_end", _TIME),
)
OBJECTIVE_SCORES_COLUMNS = (
    ("objective", "String"),
    ("version", "UInt32"),
    ("as_of", _TIME),
    ("scored_at", _TIME),
    ("score", "Float64"),
    ("expected", "Float64"),
    ("status", "LowCardinality(String)"),
    ("grade", "LowCardinality(String)"),
    ("falls_short", "Bool"),
    ("cause", "LowCardinality(String)"),
)


def _everywhere(name: str, cluster: str | None, *args: str) -> str:
    """The engine; on a cluster its Replicated form with every node a replica."""
    return engine(name, cluster, *args, sharded=False)


def _columns(columns: tuple[tuple[str, str], ...]) -> str:
    return ",\n    ".join(f"{name} {kind}" for name, kind in columns)


@dataclass(frozen=True)
class CreateOkrDefinitions:
    """A version is written once; `non_replicated_deduplication_window` keeps the last N insert
    tokens, so a retried insert of the same versions (the same token) is dropped."""

    database: str
    dedup_window: int
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}.okr_definitions"
            + on_cluster(self.cluster)
            + " (\n    "
            + _columns(OKR_DEFINITIONS_COLUMNS)
            + f"\n) ENGINE = {_everywhere('MergeTree', self.cluster)}\nORDER BY (objective, version)\n"
            f"SETTINGS {dedup_window_setting(self.cluster)} = {{dedup_window:UInt64}}"
        )
        return sql, {"database": self.database, "dedup_window": self.dedup_window}


@dataclass(frozen=True)
class CreateKeyResultScores:
    database: str
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}.key_result_scores"
            + on_cluster(self.cluster)
            + " (\n    "
            + _columns(KEY_RESULT_SCORES_COLUMNS)
            + f"\n) ENGINE = {_everywhere('MergeTree', self.cluster)}\n"
            "ORDER BY (key_result, as_of, scored_at)"
        )
        return sql, {"database": self.database}


@dataclass(frozen=True)
class CreateObjectiveScores:
    database: str
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}.objective_scores"
            + on_cluster(self.cluster)
            + " (\n    "
            + _columns(OBJECTIVE_SCORES_COLUMNS)
            + f"\n) ENGINE = {_everywhere('MergeTree', self.cluster)}\n"
            "ORDER BY (objective, as_of, scored_at)"
        )
        return sql, {"database": self.database}


# the columns of each kind of score; kind K has history `K_scores`, latest `K_latest`, view `K_current`,
# and its id in column K
_SCORES = {"key_result": KEY_RESULT_SCORES_COLUMNS, "objective": OBJECTIVE_SCORES_COLUMNS}


@dataclass(frozen=True)
class CreateLatestScores:
    """`key_result_latest` or `objective_latest`: the history's newest rows, kept by a materialized view.

    Taking the latest row of each id from the history sorts every row the id ever had, which
    grows without end (50 key results with 4 million history rows: 0.7 s a read on chDB). These
    tables hold the rows as the history gets them, and ReplacingMergeTree keeps about one per id
    (the newest `as_of`) as parts merge, so the current views read them instead; a reader still
    takes the newest row per id, since merging happens when it happens.
    """

    database: str
    kind: str  # "key_result" or "objective"
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            f"CREATE TABLE IF NOT EXISTS {{database:Identifier}}.{self.kind}_latest"
            + on_cluster(self.cluster)
            + " (\n    "
            + _columns(_SCORES[self.kind])
            + f"\n) ENGINE = {_everywhere('ReplacingMergeTree', self.cluster, 'as_of')}\nORDER BY {self.kind}"
        )
        return sql, {"database": self.database}


@dataclass(frozen=True)
class CreateLatestScoresView:
    """The materialized view that hands every new history row to its latest-score table.

    On a cluster each node has one: it runs for the rows inserted on that node, and its table
    replicates them to the others (a row fetched by replication does not pass through a view).
    """

    database: str
    kind: str
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        table = f"{self.kind}_latest"
        sql = (
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{database:Identifier}}.{table}_mv"
            + on_cluster(self.cluster)
            + f" TO {{database:Identifier}}.{table} AS\n"
            f"SELECT {', '.join(name for name, _ in _SCORES[self.kind])}\n"
            f"FROM {{database:Identifier}}.{self.kind}_scores"
        )
        return sql, {"database": self.database}


@dataclass(frozen=True)
class LatestScoresExist:
    """Whether a kind's latest-score table exists yet: one made now is filled from the history."""

    database: str
    kind: str

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = "EXISTS TABLE {database:Identifier}.{table:Identifier}"
        return sql, {"database": self.database, "table": f"{self.kind}_latest"}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> bool:
        return bool(rows[0][0])


@dataclass(frozen=True)
class CopyLatestScores:
    """Fill a new latest-score table from a history kept before it existed: each id's newest row."""

    database: str
    kind: str

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        names = [name for name, _ in _SCORES[self.kind]]
        sql = f"INSERT INTO {{database:Identifier}}.{self.kind}_latest\n" + latest_rows(
            names, self.kind, f"{{database:Identifier}}.{self.kind}_scores"
        )
        return sql, {"database": self.database}


def latest_rows(names: Sequence[str], id_column: str, source: str, where: str = "") -> str:
    """The latest row per id by (as_of, scored_at), ordered by id: the current views' query.

    `where` (a fixed fragment ending in a newline) narrows the rows before the latest is taken.
    """
    return (
        f"SELECT {', '.join(names)}\nFROM {source}\n{where}"
        f"ORDER BY {id_column}, as_of DESC, scored_at DESC\nLIMIT 1 BY {id_column}"
    )


@dataclass(frozen=True)
class CreateCurrentScoreViews:
    """`key_result_current` and `objective_current`: the latest score of each, replaced at every start.

    They read the latest-score tables (CreateLatestScores), not the whole history.

    Plain views cannot hold server-side parameters, so the database is bound client-side.
    """

    database: str
    cluster: str | None = None

    def statements(self) -> list[tuple[str, dict[str, Any]]]:
        params = {"database": Identifier(self.database)}
        return [
            (
                f"CREATE OR REPLACE VIEW %(database)s.{kind}_current{on_cluster(self.cluster)} AS\n"
                + latest_rows([name for name, _ in columns], kind, f"%(database)s.{kind}_latest"),
                params,
            )
            for kind, columns in _SCORES.items()
        ]
