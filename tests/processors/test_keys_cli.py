"""`okrstream keys create|list|revoke` on the store directly (nothing running), as a user types them."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta

import pytest

from processors import ApiKeyStore, open_store
from processors.cli._keys_cli import add_commands, run  # white-box: the keys commands on the test's settings
from schemas import parse_token


@pytest.fixture
def cli(settings, capsys):
    """Run `okrstream keys ...` in-process on the test's store; returns (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="okrstream")
    add_commands(parser.add_subparsers(dest="command", required=True))

    def call(*argv: str) -> tuple[int, str, str]:
        code = run(settings, parser.parse_args(["keys", *argv]))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_create_prints_the_token_once_and_stores_its_hash(cli, settings) -> None:
    code, out, err = cli(
        "create", "--name", "shop", "--access", "write", "--source", "shop", "--type", "order.*"
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    token = lines[1].strip()
    key_id, secret = parse_token(token)
    assert lines[0] == f"created write API key {key_id} (shop) for sources shop and types order.*:"
    assert (
        lines[2] == "This is the only time the key is shown: okrstream stores only its hash. Keep it secret."
    )
    with open_store(settings) as store:
        keys = ApiKeyStore(store, settings.clickhouse_database)
        [key] = keys.list()
        assert key.key_id == key_id and key.matches(secret)
        assert keys.key_ring().authenticate(token) == key


def test_quiet_prints_only_the_token(cli) -> None:
    code, out, _ = cli("create", "--name", "bi", "--access", "read", "--quiet")
    assert code == 0 and parse_token(out.removesuffix("\n")) is not None and out.count("\n") == 1


def test_list_shows_scopes_and_never_a_secret(cli) -> None:
    assert cli("list")[:2] == (0, "no API keys; make one with `okrstream keys create`\n")
    token = cli(
        "create",
        "--name",
        "eu",
        "--access",
        "write",
        "--source",
        "eu-*",
        "--source",
        "shop",
        "--type",
        "*",
        "-q",
    )[1].strip()
    cli("create", "--name", "dashboards", "--access", "read", "--quiet")
    key_id, secret = parse_token(token)

    code, out, _ = cli("list")
    header, writer, reader = out.splitlines()
    assert code == 0 and header.split() == ["id", "name", "access", "sources", "types", "created", "revoked"]
    assert writer.split()[:5] == [key_id, "eu", "write", "eu-*,shop", "*"] and writer.endswith("-")
    assert reader.split()[1:5] == ["dashboards", "read", "-", "-"]

    code, out, _ = cli("list", "--format", "json")
    shown = json.loads(out)["keys"]
    assert [k["name"] for k in shown] == ["eu", "dashboards"]
    assert set(shown[0]) == {"id", "name", "access", "sources", "types", "created_at", "revoked_at"}
    assert shown[0]["sources"] == ["eu-*", "shop"] and shown[0]["revoked_at"] is None
    assert secret not in out and "hash" not in out


def test_revoke(cli) -> None:
    token = cli("create", "--name", "ci", "--access", "admin", "--quiet")[1].strip()
    key_id, _ = parse_token(token)
    code, out, _ = cli("revoke", key_id)
    [shown] = json.loads(cli("list", "--format", "json")[1])["keys"]
    # the time printed is the one stored, in UTC, whatever year it is
    assert code == 0 and out == f"revoked API key {key_id} (ci) at {shown['revoked_at']}\n"
    assert datetime.fromisoformat(shown["revoked_at"]).utcoffset() == timedelta(0)
    assert shown["revoked_at"].endswith("Z")


def test_revoking_an_unknown_key_exits_2(cli) -> None:
    assert cli("revoke", "abcdef012345") == (2, "", "okrstream keys: no API key with id 'abcdef012345'\n")


def test_invalid_keys_exit_2_listing_every_error(cli) -> None:
    code, out, err = cli(
        "create", "--name", "reader", "--access", "read", "--source", "shop", "--type", "x.*"
    )
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "okrstream keys: invalid key:",
        "  sources: must be empty for a read key: only write keys are scoped",
        "  types: must be empty for a read key: only write keys are scoped",
    ]
    code, _, err = cli("create", "--name", "w", "--access", "write")
    assert code == 2 and "sources: a write key needs at least one pattern" in err
    assert cli("list")[1].startswith("no API keys")


def test_access_must_be_named(cli) -> None:
    with pytest.raises(SystemExit):
        cli("create", "--name", "x")


def test_with_okrstream_running_it_asks_the_process(cli, monkeypatch) -> None:
    """The requests follow the HTTP contract: POST /v1/keys, GET /v1/keys, POST /v1/keys/{id}/revoke."""
    running = {"pid": 1, "api_url": "http://127.0.0.1:1", "admin_token": "t"}
    key = {
        "id": "abcdef012345",
        "name": "bi",
        "access": "read",
        "sources": [],
        "types": [],
        "created_at": "2026-10-01T12:00:00Z",
        "revoked_at": None,
    }
    answers = {
        "/v1/keys": {"token": "oks_abcdef012345_" + "s" * 43, "key": key},
        "/v1/keys/abcdef012345/revoke": {"key": key | {"revoked_at": "2026-10-01T13:00:00Z"}},
    }
    calls = []

    def call_running(run_info, path, body=None, headers=None, method=None):
        assert run_info is running
        calls.append((path, json.loads(body) if body else None, method))
        return {"keys": [key]} if body is None else answers[path]

    monkeypatch.setattr("processors.cli._backend.read_run_file", lambda settings: running)
    monkeypatch.setattr("processors.cli._backend.call_running", call_running)
    assert cli("create", "--name", "bi", "--access", "read", "-q") == (
        0,
        answers["/v1/keys"]["token"] + "\n",
        "",
    )
    assert cli("list")[1].splitlines()[1].split()[:5] == ["abcdef012345", "bi", "read", "-", "-"]
    out = cli("revoke", "abcdef012345")[1]
    assert out == "revoked API key abcdef012345 (bi) at 2026-10-01T13:00:00Z\n"
    assert calls == [
        ("/v1/keys", {"name": "bi", "access": "read", "sources": [], "types": []}, None),
        ("/v1/keys", None, None),
        ("/v1/keys/abcdef012345/revoke", {}, "POST"),
    ]
