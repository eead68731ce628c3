"""Writing and reading `okr_definitions`: every version of every objective, as applied."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from typing import Any

import orjson

from schemas import OkrVersion

from ._statement import Rows, stored_utc

OKR_VERSION_FIELDS = tuple(f.name for f in fields(OkrVersion))  # the table's columns, in its order


def versions_token(versions: Sequence[OkrVersion]) -> str:
    """The insert token of a set of versions: the (objective, version) pairs, in any order."""
    pairs = sorted({(v.objective, v.version) for v in versions})
    return "okr_definitions:" + hashlib.sha256(orjson.dumps(pairs)).hexdigest()


@dataclass(frozen=True)
class RecordOkrVersions:
    """Insert versions under a token that names them, so a retried insert lands them once.

    Rows go in (objective, version) order, so a retry sends the very same block.
    """

    database: str
    versions: Sequence[OkrVersion]

    def settings(self) -> dict[str, Any]:
        return {"insert_deduplicate": 1, "insert_deduplication_token": versions_token(self.versions)}

    def to_insert(self) -> Rows:
        ordered = sorted(self.versions, key=lambda v: (v.objective, v.version))
        rows = [astuple(v) for v in ordered]
        return Rows("okr_definitions", self.database, rows, OKR_VERSION_FIELDS, self.settings())


@dataclass(frozen=True)
class OkrVersions:
    """Every version of every objective, by objective and version."""

    database: str

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            f"SELECT {', '.join(OKR_VERSION_FIELDS)}\n"
            "FROM {database:Identifier}.okr_definitions\n"
            "ORDER BY objective, version"
        )
        return sql, {"database": self.database}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[OkrVersion]:
        return [
            OkrVersion(str(o), int(v), str(f), stored_utc(at), bool(removed), str(d), str(by))
            for o, v, f, at, removed, d, by in rows
        ]
