"""API keys: tokens, hashes, scopes, and what authentication tells a caller (as little as it can)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from schemas import (
    Access,
    ApiKey,
    ConfigError,
    KeyRing,
    Unauthenticated,
    api_key_json,
    new_api_key,
    parse_token,
)

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
INVALID = "invalid or revoked API key"


def make(
    access: str = "write", sources=("shop",), types=("order.*",), name: str = "ci"
) -> tuple[str, ApiKey]:
    return new_api_key(name, access, sources, types, now=NOW)


def test_new_key_holds_only_the_hash_of_the_tokens_secret() -> None:
    token, key = make()
    key_id, secret = parse_token(token)
    assert token == f"oks_{key.key_id}_{secret}" and key_id == key.key_id
    assert len(key.key_id) == 12 and int(key.key_id, 16) >= 0 and key.key_id == key.key_id.lower()
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(key) and secret not in key.model_dump_json()
    assert key.secret_hash not in repr(key)
    assert (key.name, key.access, key.sources, key.types) == ("ci", Access.WRITE, ("shop",), ("order.*",))
    assert (key.created_at, key.revoked_at, key.active) == (NOW, None, True)


def test_a_given_token_makes_a_key_that_matches_it() -> None:
    """The processes of one service each rebuild the run's admin key from its token."""
    token, key = make(access="admin", sources=(), types=())
    again_token, again = new_api_key("ci", "admin", (), (), now=NOW, token=token)
    key_id, secret = parse_token(token)
    assert again_token == token and again == key and again.key_id == key_id
    assert again.matches(secret) and not again.matches(secret + "x")


def test_a_given_token_must_be_a_token() -> None:
    with pytest.raises(ValueError, match="not an okrstream API token"):
        new_api_key("ci", "admin", (), (), now=NOW, token="not-a-token")


def test_keys_are_unique() -> None:
    tokens = {make()[0] for _ in range(50)}
    assert len(tokens) == 50 and len({parse_token(t)[0] for t in tokens}) == 50


def test_matches_only_its_own_secret() -> None:
    token, key = make()
    other, _ = make()
    assert key.matches(parse_token(token)[1])
    assert not key.matches(parse_token(other)[1])
    assert not key.matches("")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("oks_abc_" + "x" * 43, id="short-id"),
        pytest.param("oks_ABCDEF012345_" + "x" * 43, id="upper-case-id"),
        pytest.param("okx_abcdef012345_" + "x" * 43, id="wrong-prefix"),
        pytest.param("oks_abcdef012345_", id="no-secret"),
        pytest.param("oks_abcdef012345_" + "x" * 10 + "!", id="bad-character"),
        pytest.param("Bearer oks_abcdef012345_" + "x" * 43, id="with-scheme"),
    ],
)
def test_parse_token_refuses_malformed(token: str) -> None:
    assert parse_token(token) is None


def test_parse_token_splits_at_the_first_underscore_after_the_id() -> None:
    assert parse_token("oks_abcdef012345_a_b-c" + "x" * 40) == ("abcdef012345", "a_b-c" + "x" * 40)


@pytest.mark.parametrize(
    ("source", "type", "allowed"),
    [
        ("shop", "order.placed", True),
        ("shop", "order.refunded", True),
        ("shop", "session.started", False),
        ("shop-eu", "order.placed", False),
        ("Shop", "order.placed", False),  # case-sensitive, as sources are
    ],
)
def test_write_key_writes_only_within_its_scope(source: str, type: str, allowed: bool) -> None:
    _, key = make()
    assert key.may_write(source, type) is allowed
    assert not key.may_read() and not key.is_admin


def test_scope_patterns_are_globs_any_of_which_may_match() -> None:
    _, key = make(sources=("shop", "eu-*"), types=("order.*", "ticket.answered"))
    assert key.may_write("eu-web", "ticket.answered")
    assert not key.may_write("us-web", "ticket.answered")
    _, anything = make(sources=("*",), types=("*",))
    assert anything.may_write("any", "thing.at_all")


def test_read_and_admin_keys() -> None:
    _, reader = make("read", (), ())
    _, admin = make("admin", [], [])
    assert reader.may_read() and not reader.may_write("shop", "order.placed") and not reader.is_admin
    assert admin.may_read() and admin.may_write("shop", "order.placed") and admin.is_admin


def test_a_revoked_key_may_do_nothing_and_keeps_its_first_revocation() -> None:
    _, admin = make("admin", (), ())
    revoked = admin.revoked(NOW + timedelta(hours=1))
    assert revoked.revoked_at == NOW + timedelta(hours=1) and not revoked.active
    assert not (revoked.may_read() or revoked.may_write("shop", "order.placed") or revoked.is_admin)
    assert revoked.revoked(NOW + timedelta(hours=2)).revoked_at == NOW + timedelta(hours=1)
    assert admin.active  # frozen: revoking made a new record


@pytest.mark.parametrize(
    ("args", "errors"),
    [
        pytest.param(
            ("", "write", ["shop"], ["*"]), [("name", "must not be empty", "min_length")], id="empty-name"
        ),
        pytest.param(("  ", "read", [], []), [("name", "must not be empty", "min_length")], id="blank-name"),
        pytest.param(
            ("x" * 201, "read", [], []),
            [("name", "must be at most 200 characters", "max_length")],
            id="long-name",
        ),
        pytest.param(
            ("ci", "root", [], []),
            [("access", "must be 'write', 'read' or 'admin', got 'root'", "enum")],
            id="unknown-access",
        ),
        pytest.param(
            ("ci", "write", [], ["order.*"]),
            [
                (
                    "sources",
                    "a write key needs at least one pattern, e.g. shop, order.* or *",
                    "scope_required",
                )
            ],
            id="write-without-sources",
        ),
        pytest.param(
            ("ci", "write", [], []),
            [
                (
                    "sources",
                    "a write key needs at least one pattern, e.g. shop, order.* or *",
                    "scope_required",
                ),
                (
                    "types",
                    "a write key needs at least one pattern, e.g. shop, order.* or *",
                    "scope_required",
                ),
            ],
            id="write-without-scope",
        ),
        pytest.param(
            ("ci", "read", ["shop"], []),
            [("sources", "must be empty for a read key: only write keys are scoped", "scope_not_allowed")],
            id="read-with-sources",
        ),
        pytest.param(
            ("ci", "admin", [], ["*"]),
            [("types", "must be empty for a admin key: only write keys are scoped", "scope_not_allowed")],
            id="admin-with-types",
        ),
        pytest.param(
            ("ci", "write", ["shop floor"], ["*"]),
            [("sources[0]", r"must match ^[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$", "pattern")],
            id="space-in-pattern",
        ),
        pytest.param(
            ("ci", "write", "shop", ["*"]),
            [("sources", "must be an array, got string 'shop'", "type")],
            id="string-not-list",
        ),
    ],
)
def test_bad_keys_raise_config_errors_naming_the_field(
    args: tuple, errors: list[tuple[str, str, str]]
) -> None:
    with pytest.raises(ConfigError) as caught:
        new_api_key(*args, now=NOW)
    assert [(e.path, e.message, e.rule) for e in caught.value.errors] == errors


def test_repeated_patterns_are_kept_once_in_order() -> None:
    _, key = make(sources=["b", "a", "b"], types=["*"])
    assert key.sources == ("b", "a")


def test_created_at_must_be_aware() -> None:
    with pytest.raises(ConfigError) as caught:
        new_api_key("ci", "read", [], [], now=datetime(2026, 10, 1))
    assert [e.path for e in caught.value.errors] == ["created_at"]


def test_api_key_json_shows_no_secret_or_hash() -> None:
    token, key = make()
    shown = api_key_json(key.revoked(NOW + timedelta(seconds=1)))
    assert shown == {
        "id": key.key_id,
        "name": "ci",
        "access": "write",
        "sources": ["shop"],
        "types": ["order.*"],
        "created_at": "2026-10-01T12:00:00Z",
        "revoked_at": "2026-10-01T12:00:01Z",
    }
    assert api_key_json(key)["revoked_at"] is None
    assert parse_token(token)[1] not in str(shown) and key.secret_hash not in str(shown)


class TestKeyRing:
    @pytest.fixture
    def keys(self) -> dict[str, tuple[str, ApiKey]]:
        return {"writer": make(), "reader": make("read", (), ()), "gone": make("admin", (), ())}

    @pytest.fixture
    def ring(self, keys) -> KeyRing:
        writer, reader, gone = keys["writer"][1], keys["reader"][1], keys["gone"][1]
        return KeyRing([writer, reader, gone.revoked(NOW)])

    def test_authenticates_each_active_key(self, ring, keys) -> None:
        assert ring.authenticate(keys["writer"][0]) == keys["writer"][1]
        assert ring.authenticate(keys["reader"][0]) == keys["reader"][1]

    @pytest.mark.parametrize(
        ("token", "reason"),
        [
            (None, "an API key is required: Authorization: Bearer <key> or X-API-Key"),
            ("", "an API key is required: Authorization: Bearer <key> or X-API-Key"),
            ("letmein", "malformed API key: okrstream keys look like oks_<12 hex digits>_<secret>"),
        ],
    )
    def test_missing_or_malformed(self, ring, token, reason) -> None:
        with pytest.raises(Unauthenticated) as caught:
            ring.authenticate(token)
        assert caught.value.reason == reason == str(caught.value)

    def test_unknown_wrong_and_revoked_look_the_same(self, ring, keys) -> None:
        writer_id, _ = parse_token(keys["writer"][0])
        _, reader_secret = parse_token(keys["reader"][0])
        unknown = make()[0]
        wrong = f"oks_{writer_id}_{reader_secret}"  # another key's secret under this id
        for token in (unknown, wrong, keys["gone"][0]):
            with pytest.raises(Unauthenticated) as caught:
                ring.authenticate(token)
            assert caught.value.reason == INVALID

    def test_latest_record_of_a_key_wins(self, keys) -> None:
        token, key = keys["writer"]
        with pytest.raises(Unauthenticated):
            KeyRing([key, key.revoked(NOW)]).authenticate(token)
