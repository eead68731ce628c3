"""deploy/grafana: data sources, dashboards and the PromQL of the pipeline dashboard and alerts.

The ClickHouse panels' SQL runs on a real store in test_dashboard_sql.py; here the PromQL is
parsed by promtool and every okrstream metric it names must be one okrstream exports.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import prometheus_client
import pytest
import yaml

from processors import metrics

DATASOURCES = {"grafana-clickhouse-datasource": "okrstream-clickhouse", "prometheus": "okrstream-prometheus"}


@pytest.fixture
def grafana_dir(deploy_dir: Path) -> Path:
    return deploy_dir / "grafana"


@pytest.fixture
def dashboards(grafana_dir: Path) -> dict[str, dict]:
    boards = [json.loads(p.read_text()) for p in sorted((grafana_dir / "dashboards").glob("*.json"))]
    return {b["uid"]: b for b in boards}


@pytest.fixture
def compose(deploy_dir: Path) -> dict:
    return yaml.safe_load((deploy_dir / "compose" / "docker-compose.yml").read_text())


def datasource_refs(board: dict) -> list[dict]:
    refs = [v["datasource"] for v in board["templating"]["list"] if "datasource" in v]
    for panel in board["panels"]:
        refs.append(panel["datasource"])
        refs += [t["datasource"] for t in panel["targets"]]
    return refs


def prometheus_exprs(deploy_dir: Path, dashboards: dict[str, dict]) -> list[str]:
    exprs = [
        t["expr"]
        for board in dashboards.values()
        for panel in board["panels"]
        for t in panel["targets"]
        if t["datasource"]["type"] == "prometheus"
    ]
    alerts = yaml.safe_load((deploy_dir / "compose" / "prometheus" / "alerts.yml").read_text())
    return exprs + [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]


def exported_samples() -> set[str]:
    """Every sample name okrstream's metrics expose, as Prometheus stores them."""
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, prometheus_client.metrics.MetricWrapperBase):
            (family,) = value.describe()
            names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


def test_the_provisioned_data_sources_are_the_ones_the_dashboards_use(grafana_dir, dashboards) -> None:
    provisioned = yaml.safe_load(
        (grafana_dir / "provisioning" / "datasources" / "datasources.yaml").read_text()
    )
    by_uid = {d["uid"]: d for d in provisioned["datasources"]}
    assert {d["type"]: uid for uid, d in by_uid.items()} == DATASOURCES
    clickhouse = by_uid["okrstream-clickhouse"]["jsonData"]
    assert (clickhouse["username"], clickhouse["protocol"], clickhouse["port"]) == ("bi", "http", 8123)
    assert by_uid["okrstream-clickhouse"]["secureJsonData"]["password"] == "$CLICKHOUSE_BI_PASSWORD"
    for uid, board in dashboards.items():
        for ref in datasource_refs(board):
            assert DATASOURCES[ref["type"]] == ref["uid"], (uid, ref)


def test_grafana_installs_the_clickhouse_plugin_at_the_version_the_dashboards_name(
    compose, dashboards
) -> None:
    grafana = compose["services"]["grafana"]
    plugin, _, version = grafana["environment"]["GF_PLUGINS_PREINSTALL_SYNC"].partition("@")
    assert plugin == "grafana-clickhouse-datasource" and re.fullmatch(r"\d+\.\d+\.\d+", version)
    for board in dashboards.values():
        for panel in board["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["type"] == plugin:
                    assert target["pluginVersion"] == version


def test_grafana_reads_the_provisioning_and_dashboards_where_compose_mounts_them(
    compose, grafana_dir
) -> None:
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["../grafana/provisioning"] == "/etc/grafana/provisioning"
    providers = yaml.safe_load((grafana_dir / "provisioning" / "dashboards" / "dashboards.yaml").read_text())
    (provider,) = providers["providers"]
    assert mounts["../grafana/dashboards"] == provider["options"]["path"]


def test_dashboards_are_well_formed(dashboards) -> None:
    assert set(dashboards) == {"okrstream-kpis", "okrstream-okrs", "okrstream-pipeline"}
    for uid, board in dashboards.items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), uid
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (uid, panel["title"])
            refs = [t["refId"] for t in panel["targets"]]
            assert refs and len(refs) == len(set(refs)), (uid, panel["title"])


def test_every_okrstream_metric_the_dashboards_and_alerts_read_is_exported(deploy_dir, dashboards) -> None:
    exported = exported_samples()
    read = {
        name
        for expr in prometheus_exprs(deploy_dir, dashboards)
        for name in re.findall(r"okrstream_\w+", expr)
    }
    assert read, "no okrstream metric is read"
    assert read <= exported, f"not exported by okrstream: {sorted(read - exported)}"


def test_promtool_parses_every_promql_expression(deploy_dir, dashboards, tool, tmp_path) -> None:
    promtool = tool("promtool", "Debian package prometheus")
    grafana_ranges = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
    rules = []
    for i, expr in enumerate(prometheus_exprs(deploy_dir, dashboards)):
        for variable, value in grafana_ranges.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr.replace("$labels", "").replace("$value", ""), expr
        rules.append({"record": f"okrstream:expr_{i}", "expr": expr})
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
