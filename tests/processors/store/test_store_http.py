"""The embedded store answers clickhouse-connect's real HTTP client as a ClickHouse server would."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import lz4.frame
import pytest
from backports import zstd
from clickhouse_connect.driver.exceptions import DatabaseError

from .conftest import BI_PASSWORD, PASSWORD

TABLE = """CREATE TABLE db.t (id UInt64, name String, at DateTime('UTC'), price Decimal(10, 2),
           tags Array(String), note Nullable(String)) ENGINE = MergeTree ORDER BY id"""
ROWS = [
    [1, "one", datetime(2026, 1, 2, 3, 4, 5), Decimal("1.50"), ["a", "b"], None],
    [2, "tab\there 'quoted'", datetime(2026, 2, 3, 4, 5, 6), Decimal("20.25"), [], "note"],
]
COLUMNS = ["id", "name", "at", "price", "tags", "note"]


@pytest.fixture
def client(store_http):
    client = store_http.client()
    client.command("CREATE DATABASE IF NOT EXISTS db")
    client.command(TABLE)
    return client


def post(store_http, query: str | None = None, body: bytes = b"", password: str = PASSWORD, **kwargs):
    params = dict(kwargs.pop("params", {}))
    if query is not None:
        params["query"] = query
    return httpx.post(
        store_http.url, params=params, content=body, auth=("default", password), timeout=30, **kwargs
    )


def test_connect_runs_the_version_handshake(store_http, client) -> None:
    assert client.server_version == store_http.http.engine.version
    assert client.command("SELECT 1 + 1") == 2
    assert store_http.client(compress=False).ping()
    assert httpx.get(f"{store_http.url}/ping").text == "Ok.\n"
    assert httpx.get(store_http.url).text == "Ok.\n"


def test_insert_and_query_in_native(client) -> None:
    summary = client.insert("db.t", ROWS, column_names=COLUMNS)  # Native, lz4-compressed by default
    assert summary.written_rows == 2
    result = client.query("SELECT * FROM db.t ORDER BY id")
    assert result.column_names == tuple(COLUMNS)
    rows = [[*row[:2], row[2].replace(tzinfo=None), *row[3:]] for row in result.result_rows]
    assert rows == ROWS
    assert client.query("SELECT count() FROM db.t WHERE id > 5").result_rows == [(0,)]  # empty Native body


def test_uncompressed_and_gzip_clients(store_http, client) -> None:
    for compress in (False, "gzip", "zstd", "lz4"):
        other = store_http.client(compress=compress)
        other.insert(
            "db.t",
            [[10, f"via {compress}", datetime(2026, 1, 1), Decimal(1), [], None]],
            column_names=COLUMNS,
        )
        assert other.query("SELECT name FROM db.t WHERE id = 10").result_rows == [(f"via {compress}",)]
        other.command("TRUNCATE TABLE db.t")


def test_raw_formats_pass_through(client) -> None:
    client.insert("db.t", ROWS, column_names=COLUMNS)
    sql = "SELECT id, name FROM db.t ORDER BY id"
    assert client.raw_query(sql, fmt="JSONEachRow").splitlines() == [
        b'{"id":1,"name":"one"}',
        b'{"id":2,"name":"tab\\there \'quoted\'"}',
    ]
    assert json.loads(client.raw_query(sql, fmt="JSONCompact"))["data"] == [
        [1, "one"],
        [2, "tab\there 'quoted'"],
    ]
    assert json.loads(client.raw_query(sql, fmt="JSON"))["meta"] == [
        {"name": "id", "type": "UInt64"},
        {"name": "name", "type": "String"},
    ]
    assert client.raw_query(sql, fmt="TabSeparated") == b"1\tone\n2\ttab\\there \\'quoted\\'\n"
    assert client.raw_query(f"{sql} LIMIT 1", fmt="RowBinary") == (1).to_bytes(8, "little") + b"\x03one"
    own_format = client.raw_query(f"{sql} LIMIT 1 FORMAT CSVWithNames")  # the query's FORMAT wins
    assert own_format == b'"id","name"\n1,"one"\n'


def test_raw_inserts_in_text_formats(client) -> None:
    client.raw_insert(
        "db.t", ["id", "name"], '{"id": 7, "name": "json"}\n{"id": 8, "name": "rows"}\n', fmt="JSONEachRow"
    )
    client.raw_insert("db.t", ["id", "name"], b"9,csv\n", fmt="CSV")
    client.command("INSERT INTO db.t (id, name) VALUES (10, 'values'), (11, 'more')")
    assert client.query("SELECT id, name FROM db.t ORDER BY id").result_rows == [
        (7, "json"),
        (8, "rows"),
        (9, "csv"),
        (10, "values"),
        (11, "more"),
    ]


def test_insert_data_in_the_query_parameter_and_body(store_http, client) -> None:
    # the statement in the URL, the data in the body, as `curl --data-binary` sends it
    answer = post(store_http, "INSERT INTO db.t (id, name) FORMAT TabSeparated", b"21\tsplit\n22\tbody\n")
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.headers["X-ClickHouse-Summary"])["written_rows"] == "2"
    # the start of the data in the URL, the rest in the body
    assert post(store_http, "INSERT INTO db.t (id, name) VALUES (23, 'a')", b",(24, 'b')").status_code == 200
    # everything in the body, binary data starting with a tab byte (9 columns would start so)
    assert (
        post(
            store_http,
            body=b"INSERT INTO db.t (id, name) FORMAT RowBinary\n" + (25).to_bytes(8, "little") + b"\x01x",
        ).status_code
        == 200
    )
    assert client.query("SELECT id, name FROM db.t WHERE id > 20 ORDER BY id").result_rows == [
        (21, "split"),
        (22, "body"),
        (23, "a"),
        (24, "b"),
        (25, "x"),
    ]


def test_dataframes_and_arrow(client) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    client.insert("db.t", ROWS, column_names=COLUMNS)
    frame = client.query_df("SELECT id, name FROM db.t ORDER BY id")
    assert frame["name"].tolist() == ["one", "tab\there 'quoted'"]
    table = client.query_arrow("SELECT id, name FROM db.t ORDER BY id")
    assert table.column("id").to_pylist() == [1, 2]
    client.insert_df("db.t", frame.assign(id=frame["id"] + 100))
    assert client.command("SELECT count() FROM db.t WHERE id > 100") == 2


def test_query_parameters(client) -> None:
    params = {
        "n": 41,
        "s": "it's a \t tab\nand a line",
        "when": datetime(2026, 5, 6, 7, 8, 9),
        "xs": ["a", "b'"],
    }
    row = client.query(
        "SELECT {n:UInt64} + 1, {s:String}, {when:DateTime}, {xs:Array(String)}, {none:Nullable(String)}",
        parameters={**params, "none": None},
    ).result_rows[0]
    assert row[:2] == (42, params["s"]) and row[2].replace(tzinfo=None) == params["when"]
    assert row[3:] == (["a", "b'"], None)
    # so many values that the client sends them as a multipart form, not in the URL
    many = [f"value-{i}" for i in range(2000)]
    assert client.query("SELECT length({xs:Array(String)})", parameters={"xs": many}).result_rows == [(2000,)]


def test_parameters_in_a_form(store_http) -> None:
    form = store_http.client(form_encode_query_params=True)
    assert (
        form.command("SELECT concat({a:String}, {b:String})", parameters={"a": "x=1&", "b": "y"}) == "x=1&y"
    )


def test_settings_apply_to_their_query_only(store_http, client) -> None:
    assert client.command("SELECT getSetting('max_threads')", settings={"max_threads": 3}) == 3
    assert client.command("SELECT getSetting('max_threads')") != 3  # the client's session is back as it was
    sessionless = store_http.client(autogenerate_session_id=False)
    assert sessionless.command("SELECT getSetting('max_threads')", settings={"max_threads": 3}) == 3
    assert sessionless.command("SELECT getSetting('max_threads')") != 3
    with pytest.raises(DatabaseError) as raised:
        client.query("SELECT 1", settings={"no_such_setting_here": 1})
    assert raised.value.code == 115  # UNKNOWN_SETTING


def test_sessions_keep_their_state(store_http, client) -> None:
    first = store_http.client(session_id="first")
    first.command("CREATE TEMPORARY TABLE scratch (x UInt8)")
    first.command("INSERT INTO scratch VALUES (1), (2)")
    first.command("SET max_threads = 1")
    assert first.command("SELECT sum(x) FROM scratch") == 3
    assert first.command("SELECT getSetting('max_threads')") == 1
    other = store_http.client(session_id="second")
    with pytest.raises(DatabaseError) as raised:
        other.command("SELECT sum(x) FROM scratch")
    assert raised.value.code == 60  # UNKNOWN_TABLE: another session's temporary table
    answer = post(store_http, "SELECT 1", params={"session_id": "never-opened", "session_check": "1"})
    assert answer.headers["X-ClickHouse-Exception-Code"] == "372"  # SESSION_NOT_FOUND
    assert (
        post(store_http, "SELECT 1", params={"session_id": "first", "close_session": "1"}).status_code == 200
    )
    gone = post(store_http, "SELECT 1", params={"session_id": "first", "session_check": "1"})
    assert gone.headers["X-ClickHouse-Exception-Code"] == "372"


def test_errors_carry_clickhouse_codes(store_http, client) -> None:
    with pytest.raises(DatabaseError) as raised:
        client.query("SELECT nope FROM db.t")
    assert raised.value.code == 47 and "UNKNOWN_IDENTIFIER" in str(raised.value)
    answer = post(store_http, "SELECT * FROM db.missing")
    assert answer.status_code == 404
    assert answer.headers["X-ClickHouse-Exception-Code"] == "60"
    assert answer.text.startswith("Code: 60. DB::Exception: ") and answer.text.endswith(
        f"(UNKNOWN_TABLE) (version {store_http.http.engine.version})\n"
    )
    syntax = post(store_http, "SELEC 1")
    assert (syntax.status_code, syntax.headers["X-ClickHouse-Exception-Code"]) == (400, "62")
    assert post(store_http, "SELECT 1; SELECT 2").headers["X-ClickHouse-Exception-Code"] == "62"
    assert post(store_http, "").headers["X-ClickHouse-Exception-Code"] == "62"  # empty query


def test_what_a_server_refuses_over_http(store_http, tmp_path: Path) -> None:
    target = tmp_path / "out.tsv"
    answer = post(store_http, f"SELECT 1 INTO OUTFILE '{target}'")
    assert answer.headers["X-ClickHouse-Exception-Code"] == "358" and not target.exists()
    source = tmp_path / "in.csv"
    source.write_text("1,x\n")
    infile = post(store_http, f"INSERT INTO db.t (id, name) FROM INFILE '{source}' FORMAT CSV")
    assert infile.headers["X-ClickHouse-Exception-Code"] == "78"


def test_wrong_password_or_user_is_refused(store_http) -> None:
    for username, password in (("default", "wrong"), ("nobody", PASSWORD), ("bi", PASSWORD), ("default", "")):
        with pytest.raises(DatabaseError) as raised:
            store_http.client(username=username, password=password)
        assert raised.value.code == 516
    answer = post(store_http, "SELECT 1", password="wrong")
    assert (answer.status_code, answer.headers["X-ClickHouse-Exception-Code"]) == (403, "516")
    assert "default: Authentication failed" in answer.text
    # the other ways of naming a user: X-ClickHouse-User/Key headers, user/password parameters
    headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": PASSWORD}
    assert httpx.post(store_http.url, content=b"SELECT 1", headers=headers).text == "1\n"
    assert (
        httpx.post(store_http.url, params={"user": "bi", "password": BI_PASSWORD}, content=b"SELECT 2").text
        == "2\n"
    )
    both = httpx.post(store_http.url, params={"user": "bi"}, content=b"SELECT 1", auth=("default", PASSWORD))
    assert both.headers["X-ClickHouse-Exception-Code"] == "516"


def test_read_only_user_reads_and_is_refused_writes(store_http, client) -> None:
    client.insert("db.t", ROWS, column_names=COLUMNS)
    bi = store_http.client(username="bi", password=BI_PASSWORD)
    assert bi.query("SELECT count() FROM db.t").result_rows == [(2,)]
    assert bi.command("SHOW TABLES FROM db") == "t"
    assert bi.command("EXISTS TABLE db.t") == 1
    assert bi.query("DESCRIBE TABLE db.t").result_rows[0][:2] == ("id", "UInt64")
    assert "ReadFromMergeTree" in str(bi.query("EXPLAIN SELECT * FROM db.t").result_rows)
    for write in (
        lambda: bi.insert("db.t", ROWS, column_names=COLUMNS),
        lambda: bi.command("INSERT INTO db.t (id, name) VALUES (3, 'x')"),
        lambda: bi.command("CREATE TABLE db.u (x UInt8) ENGINE = Memory"),
        lambda: bi.command("DROP TABLE db.t"),
        lambda: bi.command("SET readonly = 0"),
        lambda: bi.command("SET max_threads = 1"),
        lambda: bi.query("SELECT * FROM file('/etc/hostname', 'RawBLOB')"),
    ):
        with pytest.raises(DatabaseError) as raised:
            write()
        assert raised.value.code == 164  # READONLY
    assert client.command("SELECT count() FROM db.t") == 2
    insert = httpx.post(
        store_http.url,
        params={"query": "INSERT INTO db.t (id) FORMAT CSV"},
        content=b"3\n",
        auth=("bi", BI_PASSWORD),
    )
    assert (insert.status_code, insert.headers["X-ClickHouse-Exception-Code"]) == (500, "164")
    setting = httpx.post(
        store_http.url, params={"max_threads": "1"}, content=b"SELECT 1", auth=("bi", BI_PASSWORD)
    )
    assert setting.headers["X-ClickHouse-Exception-Code"] == "164"  # readonly=1: no settings changed


def test_get_reads_only(store_http, client) -> None:
    auth = ("default", PASSWORD)
    assert httpx.get(store_http.url, params={"query": "SELECT 40 + 2"}, auth=auth).text == "42\n"
    refused = httpx.get(
        store_http.url, params={"query": "CREATE TABLE db.g (x UInt8) ENGINE = Memory"}, auth=auth
    )
    assert refused.headers["X-ClickHouse-Exception-Code"] == "164"
    in_session = {"query": "DROP TABLE db.t", "session_id": "s"}
    assert (
        httpx.get(store_http.url, params=in_session, auth=auth).headers["X-ClickHouse-Exception-Code"]
        == "164"
    )
    assert client.command("EXISTS TABLE db.t") == 1


def test_headers_a_client_reads(store_http, client) -> None:
    answer = post(store_http, "SELECT 1 AS x FORMAT JSONEachRow", params={"query_id": "q-1"})
    assert answer.headers["X-ClickHouse-Query-Id"] == "q-1"
    assert answer.headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert answer.headers["X-ClickHouse-Timezone"] == client.command("SELECT timezone()")
    assert answer.headers["X-ClickHouse-Server-Display-Name"] == store_http.http.display_name
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert json.loads(answer.headers["X-ClickHouse-Summary"])["result_rows"] == "1"
    assert answer.text == '{"x":1}\n'
    tz = post(
        store_http,
        "SELECT now()",
        params={"session_timezone": "Europe/Oslo", "default_format": "JSONCompact"},
    )
    assert (
        tz.headers["X-ClickHouse-Timezone"] == "Europe/Oslo"
        and tz.headers["X-ClickHouse-Format"] == "JSONCompact"
    )
    ddl = post(store_http, "CREATE TABLE db.h (x UInt8) ENGINE = Memory")
    assert ddl.status_code == 200 and "X-ClickHouse-Format" not in ddl.headers


def test_http_compression_both_ways(store_http, client) -> None:
    decoders = {
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,
        "zstd": zstd.decompress,
        "lz4": lz4.frame.decompress,
    }
    sql = "SELECT number FROM numbers(1000) FORMAT TSV"
    expected = "".join(f"{i}\n" for i in range(1000)).encode()
    for encoding, decode in decoders.items():
        with httpx.stream(
            "POST",
            store_http.url,
            params={"enable_http_compression": "1"},
            content=sql.encode(),
            headers={"Accept-Encoding": encoding},
            auth=("default", PASSWORD),
        ) as answer:
            assert answer.headers["content-encoding"] == encoding
            assert decode(b"".join(answer.iter_raw())) == expected
    plain = httpx.post(
        store_http.url, content=sql.encode(), headers={"Accept-Encoding": "gzip"}, auth=("default", PASSWORD)
    )
    assert "content-encoding" not in plain.headers  # only with enable_http_compression=1
    body = b"31\tgzipped\n"
    for encoding, encode in (
        ("gzip", gzip.compress),
        ("zstd", zstd.compress),
        ("lz4", lz4.frame.compress),
        ("deflate", zlib.compress),
    ):
        answer = post(
            store_http,
            "INSERT INTO db.t (id, name) FORMAT TSV",
            encode(body),
            headers={"Content-Encoding": encoding},
        )
        assert answer.status_code == 200, answer.text
    assert client.command("SELECT count() FROM db.t WHERE id = 31") == 4
    brotli = post(store_http, "SELECT 1", b"", headers={"Content-Encoding": "br"})
    assert (brotli.status_code, brotli.headers["X-ClickHouse-Exception-Code"]) == (501, "48")
    native_blocks = post(store_http, "SELECT 1", params={"compress": "1"})
    assert native_blocks.headers["X-ClickHouse-Exception-Code"] == "48"
