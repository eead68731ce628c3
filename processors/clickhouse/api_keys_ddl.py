"""DDL of `api_keys`: every version of every API key, the newest one in force."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._cluster import engine, on_cluster

API_KEYS_COLUMNS = (
    ("key_id", "String"),
    ("name", "String"),
    ("access", "LowCardinality(String)"),
    ("sources", "Array(String)"),
    ("types", "Array(String)"),
    ("secret_hash", "String"),  # sha256 of the secret; the secret itself is never stored
    ("created_at", "DateTime64(6, 'UTC')"),
    ("revoked_at", "Nullable(DateTime64(6, 'UTC'))"),
    ("version", "UInt64"),  # microseconds of the change: the highest wins
)


@dataclass(frozen=True)
class CreateApiKeysTable:
    """A change (a revocation) is a new row with a higher version, so no row is ever updated in place.

    On a cluster every node holds every key (a Replicated table without `{shard}`).
    """

    database: str
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        columns = ",\n    ".join(f"{name} {kind}" for name, kind in API_KEYS_COLUMNS)
        table_engine = engine("ReplacingMergeTree", self.cluster, "version", sharded=False)
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}.api_keys"
            + on_cluster(self.cluster)
            + " (\n    "
            + columns
            + f"\n) ENGINE = {table_engine}\nORDER BY key_id"
        )
        return sql, {"database": self.database}
