"""The official JS client, @clickhouse/client from npm, on this machine's Node.js, against the store."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import BI_PASSWORD, PASSWORD

CLIENT = "@clickhouse/client@1"

SCRIPT = r"""
const { createClient } = require('@clickhouse/client');

async function main() {
  const [url, password, biPassword, db] = process.argv.slice(2);
  const out = {};
  for (const compressed of [false, true]) {
    const client = createClient({
      url, username: 'default', password,
      compression: { request: compressed, response: compressed },
    });
    const table = `${db}.js_${compressed ? 'gzip' : 'plain'}`;
    const result = {};
    result.ping = (await client.ping()).success;
    await client.command({
      query: `CREATE TABLE ${table} (id UInt32, name String) ENGINE = MergeTree ORDER BY id`,
    });
    await client.insert({
      table, format: 'JSONEachRow',
      values: [{ id: 1, name: 'one' }, { id: 2, name: "it's two" }],
    });
    result.rows = await (await client.query({
      query: `SELECT id, name FROM ${table} ORDER BY id`, format: 'JSONEachRow',
    })).json();
    result.compact = (await (await client.query({
      query: `SELECT count() AS c FROM ${table}`, format: 'JSONCompact',
    })).json()).data;
    result.params = await (await client.query({
      query: 'SELECT {n:UInt32} + 1 AS n, {s:String} AS s',
      query_params: { n: 41, s: "a 'quoted' tab\there" }, format: 'JSONEachRow',
    })).json();
    result.text = await (await client.query({ query: 'SELECT 1', format: 'TabSeparated' })).text();
    try {
      await client.query({ query: `SELECT nope FROM ${table}`, format: 'JSONEachRow' });
    } catch (e) {
      result.error = { code: e.code, type: e.type };
    }
    await client.close();
    out[compressed ? 'gzip' : 'plain'] = result;
  }
  const bi = createClient({ url, username: 'bi', password: biPassword });
  const counted = await bi.query({ query: `SELECT count() AS c FROM ${db}.js_plain`, format: 'JSONEachRow' });
  out.bi = { rows: await counted.json() };
  try {
    await bi.insert({ table: `${db}.js_plain`, values: [{ id: 3, name: 'no' }], format: 'JSONEachRow' });
  } catch (e) {
    out.bi.insertError = { code: e.code, type: e.type };
  }
  await bi.close();
  const stranger = createClient({ url, username: 'default', password: 'wrong' });
  try {
    await stranger.query({ query: 'SELECT 1', format: 'JSONEachRow' });
  } catch (e) {
    out.wrongPassword = { code: e.code, type: e.type };
  }
  await stranger.close();
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="session")
def js_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with @clickhouse/client from npm; where it cannot be had, the test skips saying why."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip(f"Node.js and npm are needed for the JS client's test (node: {node}, npm: {npm})")
    directory = tmp_path_factory.mktemp("clickhouse-js")
    try:
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(directory), CLIENT],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {CLIENT} did not finish within 300 s")
    if installed.returncode != 0:
        pytest.skip(f"npm install {CLIENT} failed: {installed.stderr.strip()[-500:]}")
    (directory / "check.cjs").write_text(SCRIPT)
    return directory


def test_the_js_client_queries_inserts_and_reads_json(js_client: Path, store_http) -> None:
    db = store_http.settings.clickhouse_database
    store_http.client().command(f"CREATE DATABASE {db}")
    run = subprocess.run(
        ["node", str(js_client / "check.cjs"), store_http.url, PASSWORD, BI_PASSWORD, db],
        cwd=js_client,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for how in ("plain", "gzip"):
        result = out[how]
        assert result["ping"] is True
        assert result["rows"] == [{"id": 1, "name": "one"}, {"id": 2, "name": "it's two"}]
        assert result["compact"] == [[2]]
        assert result["params"] == [{"n": 42, "s": "a 'quoted' tab\there"}]
        assert result["text"] == "1\n"
        assert result["error"] == {"code": "47", "type": "UNKNOWN_IDENTIFIER"}
    assert out["bi"] == {"rows": [{"c": 2}], "insertError": {"code": "164", "type": "READONLY"}}
    assert out["wrongPassword"] == {"code": "516", "type": "AUTHENTICATION_FAILED"}
