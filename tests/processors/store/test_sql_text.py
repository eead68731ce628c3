"""A request's SQL read as a ClickHouse server reads it before running it; the interface's users."""

from __future__ import annotations

import base64

import pytest

from processors.store import StoreUser, authenticate
from processors.store._sql_text import InsertData, read_request


@pytest.mark.parametrize(
    ("text", "kind", "result_format"),
    [
        (b"SELECT 1", "SELECT", None),
        (b"  (SELECT 1) FORMAT JSON", "SELECT", "JSON"),
        (b"select 1 format JSONEachRow settings max_threads = 1", "SELECT", "JSONEachRow"),
        (b'SELECT {x:UInt8} FORMAT "Native";\n', "SELECT", "Native"),
        (b"SELECT 1 AS format", "SELECT", None),
        (b"SELECT format FROM t", "SELECT", None),
        (b"SELECT t.format FROM t", "SELECT", None),
        (b"/* a /* nested */ comment */ -- and a line\nSHOW TABLES", "SHOW", None),
        (b"# a comment\nDESCRIBE TABLE t", "DESCRIBE", None),
        (b"WITH 1 AS x SELECT x", "WITH", None),
        (b"CREATE TABLE t (a UInt8) ENGINE = Memory", "CREATE", None),
        (b"", "", None),
        (b"  -- nothing but a comment\n", "", None),
    ],
)
def test_kind_and_format(text: bytes, kind: str, result_format: str | None) -> None:
    request = read_request(text)
    assert (request.kind, request.result_format, request.several_statements) == (kind, result_format, False)


@pytest.mark.parametrize(
    "text",
    [b"SELECT 1; SELECT 2", b"SELECT 1;DROP TABLE t", b"INSERT INTO t SELECT 1; DROP TABLE t", b"SELECT 1;;"],
)
def test_several_statements(text: bytes) -> None:
    assert read_request(text).several_statements


@pytest.mark.parametrize(
    "text",
    [
        b"SELECT 1;",
        b"SELECT 1;  -- done\n",
        b"SELECT 'a;b', \"c;d\", `e;f`, $$g;h$$, $x$i;j$x$",
        b"SELECT '\\';'",
    ],
)
def test_one_statement(text: bytes) -> None:
    assert not read_request(text).several_statements


@pytest.mark.parametrize(
    ("text", "statement", "fmt", "data"),
    [
        (
            b"INSERT INTO db.t (a, b) FORMAT Native\n\t\x00\x01",
            "INSERT INTO db.t (a, b)",
            "Native",
            b"\t\x00\x01",
        ),
        (b"INSERT INTO t FORMAT CSV \t\r\n1,2\n", "INSERT INTO t", "CSV", b"1,2\n"),
        (b"INSERT INTO t FORMAT CSV 1,2", "INSERT INTO t", "CSV", b"1,2"),
        (
            b"insert into t settings a = 1 values (1), (2)",
            "insert into t settings a = 1",
            "Values",
            b" (1), (2)",
        ),
        (b"INSERT INTO format VALUES (1)", "INSERT INTO format", "Values", b" (1)"),
        (
            b"INSERT INTO t (values, format) FORMAT TSV\n1\t2",
            "INSERT INTO t (values, format)",
            "TSV",
            b"1\t2",
        ),
        (
            b"INSERT INTO FUNCTION null('a UInt8') FORMAT TSV\n1",
            "INSERT INTO FUNCTION null('a UInt8')",
            "TSV",
            b"1",
        ),
        (b'INSERT INTO t FORMAT "JSONEachRow"\n{}', "INSERT INTO t", "JSONEachRow", b"{}"),
    ],
)
def test_insert_data(text: bytes, statement: str, fmt: str, data: bytes) -> None:
    request = read_request(text)
    assert request.kind == "INSERT" and request.insert is not None
    assert request.insert == InsertData(statement, fmt, request.insert.data_start)
    assert text[request.insert.data_start :] == data


def test_insert_without_data_and_refused_clauses() -> None:
    assert read_request(b"INSERT INTO t SELECT * FROM s").insert is None
    assert read_request(b"INSERT INTO t FROM INFILE 'x.csv' FORMAT CSV").from_infile
    assert read_request(b"SELECT 1 INTO OUTFILE '/tmp/x'").into_outfile
    assert not read_request(b"SELECT 'INTO OUTFILE'").into_outfile


def test_users_and_their_passwords() -> None:
    users = {"default": StoreUser("default", None), "bi": StoreUser("bi", "pw", readonly=1)}
    basic = {"authorization": "Basic " + base64.b64encode(b"bi:pw").decode()}
    assert authenticate(users, basic, {}, "10.1.2.3").name == "bi"
    assert (
        authenticate(users, {"x-clickhouse-user": "bi", "x-clickhouse-key": "pw"}, {}, "10.1.2.3").readonly
        == 1
    )
    assert authenticate(users, {}, {"user": "bi", "password": "pw"}, None).name == "bi"
    # `default` without a password answers this machine only
    assert authenticate(users, {}, {}, "127.0.0.1").name == "default"
    assert authenticate(users, {}, {}, "::1").name == "default"
    for headers, params, client in (
        ({}, {}, "10.1.2.3"),
        ({}, {"password": "guess"}, "127.0.0.1"),
        ({}, {"user": "bi", "password": "nope"}, "127.0.0.1"),
        ({}, {"user": "root"}, "127.0.0.1"),
        ({"authorization": "Basic !!"}, {}, "127.0.0.1"),
        (basic, {"user": "bi"}, "127.0.0.1"),  # two ways at once
    ):
        with pytest.raises(Exception) as raised:
            authenticate(users, headers, params, client)
        assert getattr(raised.value, "code", None) == 516
