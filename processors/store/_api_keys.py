"""API keys in the store: made, listed and revoked here; the HTTP API authenticates against them."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import UTC, datetime

from schemas import Access, ApiKey, KeyRing, new_api_key

from ..clickhouse import ApiKeys, WriteApiKey
from ._store import Store


class ApiKeyStore:
    """The `api_keys` table of one database. Only hashes of secrets ever reach it."""

    def __init__(self, store: Store, database: str) -> None:
        self._store = store
        self._database = database

    def create(
        self,
        name: str,
        access: Access | str,
        sources: Iterable[str] = (),
        types: Iterable[str] = (),
        *,
        now: datetime | None = None,
    ) -> tuple[str, ApiKey]:
        """A new key: (its token, shown to the caller once; its stored record). Raises ConfigError."""
        token, key = new_api_key(name, access, sources, types, now=now or datetime.now(UTC))
        self._write(key)
        return token, key

    def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        return ApiKeys.parse(self._store.fetch(ApiKeys(self._database)))

    def revoke(self, key_id: str, *, now: datetime | None = None) -> ApiKey:
        """Revoke a key for good; revoking it again keeps the first time. KeyError if there is none."""
        found = ApiKeys.parse(self._store.fetch(ApiKeys(self._database, key_id)))
        if not found:
            raise KeyError(f"no API key with id {key_id!r}")
        key = found[0]
        if not key.active:
            return key
        revoked = key.revoked(now or datetime.now(UTC))
        self._write(revoked)
        return revoked

    def key_ring(self) -> KeyRing:
        """The keys as they stand now, to authenticate requests with."""
        return KeyRing(self.list())

    def _write(self, key: ApiKey) -> None:
        self._store.insert(WriteApiKey(self._database, key))
