"""ApiKeyStore on the real store: keys made, listed, revoked and authenticated; no secret kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors import ApiKeyStore
from schemas import Access, ConfigError, Unauthenticated, parse_token

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def keys(store, settings) -> ApiKeyStore:
    return ApiKeyStore(store, settings.clickhouse_database)


def test_create_list_and_revoke(keys) -> None:
    _, writer = keys.create("shop-backend", "write", ["shop"], ["order.*"], now=NOW)
    _, reader = keys.create("dashboards", Access.READ, now=NOW + timedelta(seconds=1))
    assert keys.list() == [writer, reader]
    assert writer.created_at == NOW and writer.access is Access.WRITE

    revoked = keys.revoke(writer.key_id, now=NOW + timedelta(hours=1))
    assert revoked.revoked_at == NOW + timedelta(hours=1)
    assert revoked.model_dump(exclude={"revoked_at"}) == writer.model_dump(exclude={"revoked_at"})
    assert keys.list() == [revoked, reader]


def test_revoking_twice_keeps_the_first_time(keys) -> None:
    _, key = keys.create("ci", "admin", now=NOW)
    first = keys.revoke(key.key_id, now=NOW + timedelta(minutes=1))
    again = keys.revoke(key.key_id, now=NOW + timedelta(minutes=2))
    assert again == first and keys.list() == [first]


def test_a_revocation_counts_even_with_a_clock_behind_the_creation(keys) -> None:
    _, key = keys.create("ci", "read", now=NOW)
    keys.revoke(key.key_id, now=NOW - timedelta(days=1))
    assert not keys.list()[0].active


def test_revoking_an_unknown_key_names_it(keys) -> None:
    with pytest.raises(KeyError, match="no API key with id 'abcdef012345'"):
        keys.revoke("abcdef012345")


def test_an_invalid_key_is_not_stored(keys) -> None:
    with pytest.raises(ConfigError) as caught:
        keys.create("ci", "write", [], ["order.*"])
    assert [e.path for e in caught.value.errors] == ["sources"]
    assert keys.list() == []


def test_key_ring_authenticates_active_keys_only(keys) -> None:
    writer_token, writer = keys.create("shop", "write", ["shop"], ["order.*"])
    reader_token, reader = keys.create("bi", "read")
    assert keys.key_ring().authenticate(writer_token) == writer
    keys.revoke(writer.key_id)
    ring = keys.key_ring()
    with pytest.raises(Unauthenticated, match=r"^invalid or revoked API key$"):
        ring.authenticate(writer_token)
    assert ring.authenticate(reader_token) == reader


def test_scopes_survive_the_round_trip(keys) -> None:
    token, _ = keys.create("eu", "write", ["eu-*", "shop"], ["order.*", "ticket.answered"])
    key = keys.key_ring().authenticate(token)
    assert key.sources == ("eu-*", "shop") and key.types == ("order.*", "ticket.answered")
    assert key.may_write("eu-web", "ticket.answered") and key.may_write("shop", "order.placed")
    assert not key.may_write("us-web", "order.placed") and not key.may_write("shop", "session.started")
    assert not key.may_read()


def test_the_table_holds_no_plaintext_secret(keys, store, settings) -> None:
    token, key = keys.create("ci", "write", ["shop"], ["*"])
    keys.revoke(key.key_id)
    _, secret = parse_token(token)
    rows = store.fetch(_EveryRow(settings.clickhouse_database))
    assert len(rows) == 2  # the key and its revocation
    text = repr(rows)
    assert secret not in text and token not in text
    assert key.secret_hash in text  # what is stored instead


class _EveryRow:
    def __init__(self, db: str) -> None:
        self.db = db

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return "SELECT * FROM {db:Identifier}.api_keys", {"db": self.db}
