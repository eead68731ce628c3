"""Reading and writing `api_keys`: the newest version of each key, and the row of a new version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import ApiKey

from ._statement import Rows, stored_utc
from .api_keys_ddl import API_KEYS_COLUMNS

API_KEY_COLUMN_NAMES = tuple(name for name, _ in API_KEYS_COLUMNS)
_FIELDS = API_KEY_COLUMN_NAMES[:-1]  # every column but version, in ApiKey's field names
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def key_version(key: ApiKey) -> int:
    """The version a key's row is written with: a revocation always outranks the creation."""
    created = _micros(key.created_at)
    return created if key.revoked_at is None else max(_micros(key.revoked_at), created + 1)


def api_key_row(key: ApiKey, version: int) -> tuple[Any, ...]:
    """The row of one version of a key, in API_KEY_COLUMN_NAMES order."""
    return (*(getattr(key, field) for field in _FIELDS), version)


@dataclass(frozen=True)
class ApiKeys:
    """Every key as it stands now, oldest first; `key_id` narrows it to one.

    FINAL merges the versions at read time, so the answer is right before ClickHouse has merged
    the parts a revocation added; the table stays small, so that costs little.
    """

    database: str
    key_id: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where = "WHERE key_id = {key_id:String}\n" if self.key_id is not None else ""
        sql = (
            f"SELECT {', '.join(_FIELDS)}\n"
            "FROM {database:Identifier}.api_keys FINAL\n"
            f"{where}"
            "ORDER BY created_at, key_id"
        )
        params: dict[str, Any] = {"database": self.database}
        return sql, params | ({"key_id": self.key_id} if self.key_id is not None else {})

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[ApiKey]:
        return [ApiKey.model_validate(dict(zip(_FIELDS, map(_utc, row), strict=True))) for row in rows]


def _utc(value: Any) -> Any:
    return stored_utc(value) if isinstance(value, datetime) else value


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class WriteApiKey:
    """One version of one key: the table keeps the highest version of each id (see ApiKeys)."""

    database: str
    key: ApiKey

    def to_insert(self) -> Rows:
        return Rows(
            "api_keys", self.database, [api_key_row(self.key, key_version(self.key))], API_KEY_COLUMN_NAMES
        )
