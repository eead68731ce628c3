"""deploy/compose: the compose file, the proxy, Prometheus and ClickHouse's configuration agree.

Nothing here pulls or runs an image: the compose file is checked by docker-compose's own schema
(`docker-compose config`), the proxy by `haproxy -c`, Prometheus's configuration by `promtool`,
and the rest by reading the files and matching them against each other and okrstream's settings.
"""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from schemas import Settings, env_name

SECRETS = {
    "CLICKHOUSE_OKRSTREAM_PASSWORD": "okrstream-secret",
    "CLICKHOUSE_BI_PASSWORD": "bi-secret",
    "CLICKHOUSE_INTERSERVER_PASSWORD": "interserver-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
}
OFFICIAL = {
    "apache/kafka",
    "clickhouse/clickhouse-server",
    "clickhouse/clickhouse-keeper",
    "haproxy",
    "prom/prometheus",
    "grafana/grafana",
}
OKRSTREAM_ROLES = {"worker": "worker", "api": "serve"}


@pytest.fixture
def compose_dir(deploy_dir: Path) -> Path:
    return deploy_dir / "compose"


@pytest.fixture
def compose(compose_dir: Path) -> dict:
    return yaml.safe_load((compose_dir / "docker-compose.yml").read_text())


def environment(service: dict) -> dict[str, str]:
    """A service's environment with ${VAR:?...} and ${VAR:-default} filled as compose fills them."""

    def fill(m: re.Match) -> str:
        name, default = m.group(1), m.group(3)
        return SECRETS.get(name, default or "")

    return {k: re.sub(r"\$\{(\w+)(:[-?]([^}]*))?\}", fill, str(v)) for k, v in service["environment"].items()}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def compose_config(docker_compose: str, compose_dir: Path, env: dict[str, str], tmp_path: Path):
    """`docker-compose config -q` on the given environment alone: a developer's .env is not read."""
    no_env_file = tmp_path / "empty.env"
    no_env_file.write_text("")
    return run([docker_compose, "--env-file", str(no_env_file), "config", "-q"], compose_dir, env)


def test_docker_compose_config_accepts_the_file(compose_dir: Path, tool, tmp_path: Path) -> None:
    docker_compose = tool("docker-compose", "Debian package docker-compose")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS} | SECRETS
    result = compose_config(docker_compose, compose_dir, env, tmp_path)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_its_secrets(compose_dir: Path, tool, tmp_path: Path) -> None:
    docker_compose = tool("docker-compose", "Debian package docker-compose")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = compose_config(docker_compose, compose_dir, env, tmp_path)
    assert result.returncode != 0
    assert "set CLICKHOUSE_" in result.stderr or "set GRAFANA_" in result.stderr


def test_every_image_is_official_and_pinned_to_an_exact_version(compose: dict) -> None:
    tags = {}
    for name, service in compose["services"].items():
        image, _, tag = service["image"].partition(":")
        if name in OKRSTREAM_ROLES:
            assert image == "okrstream" and service["build"]["dockerfile"] == "deploy/Dockerfile"
            continue
        assert image in OFFICIAL, (name, image)
        assert re.fullmatch(r"v?\d+\.\d+\.\d+(\.\d+)?", tag), f"{name}: {tag!r} is not an exact version"
        tags[image] = tag
    assert tags["clickhouse/clickhouse-server"] == tags["clickhouse/clickhouse-keeper"]


def test_three_kraft_brokers_each_a_controller_with_replicated_topics(compose: dict) -> None:
    brokers = {n: s for n, s in compose["services"].items() if s["image"].startswith("apache/kafka:")}
    assert sorted(brokers) == ["kafka-1", "kafka-2", "kafka-3"]
    voters = {f"{environment(s)['KAFKA_NODE_ID']}@{n}:9093" for n, s in brokers.items()}
    for name, service in brokers.items():
        env = environment(service)
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    workers = environment(compose["services"]["worker"])
    assert set(workers["KAFKA_BOOTSTRAP_SERVERS"].split(",")) == {f"{n}:9092" for n in brokers}
    assert workers["OKRSTREAM_TOPIC_REPLICATION"] == "3"


def test_okrstream_roles_get_settings_okrstream_reads(compose: dict, deploy_dir: Path) -> None:
    known = {env_name(field) for field in Settings.model_fields}
    cluster = cluster_name(deploy_dir)
    for name, command in OKRSTREAM_ROLES.items():
        service = compose["services"][name]
        assert service["command"] == [command]
        assert "container_name" not in service and "ports" not in service, f"{name} must scale"
        env = environment(service)
        unknown = set(env) - known
        assert not unknown, f"{name}: okrstream reads no {sorted(unknown)}"
        assert env["OKRSTREAM_CLICKHOUSE_CLUSTER"] == cluster
        settings = Settings.from_env(env)
        assert settings.http_host == "0.0.0.0"
        assert (
            settings.clickhouse_url
            == f"http://okrstream:{SECRETS['CLICKHOUSE_OKRSTREAM_PASSWORD']}@proxy:8123"
        )
        assert settings.topic_partitions >= 4


def cluster_name(deploy_dir: Path) -> str:
    servers = ET.parse(deploy_dir / "clickhouse" / "config.d" / "okrstream-cluster.xml").find(
        "remote_servers"
    )
    assert servers is not None
    (cluster,) = list(servers)
    return cluster.tag


def test_clickhouse_one_shard_two_replicas_three_keepers(compose: dict, deploy_dir: Path) -> None:
    services = compose["services"]
    config = ET.parse(deploy_dir / "clickhouse" / "config.d" / "okrstream-cluster.xml").getroot()
    (shard,) = config.findall("remote_servers/*/shard")
    replicas = [r.findtext("host") for r in shard.findall("replica")]
    assert replicas == ["clickhouse-1", "clickhouse-2"]
    for host in replicas:
        assert services[host]["hostname"] == host
        assert environment(services[host])["CLICKHOUSE_REPLICA"] == host  # the {replica} macro
        mounts = [v.split(":")[1] for v in services[host]["volumes"]]
        assert "/etc/clickhouse-server/config.d/okrstream-cluster.xml" in mounts
        assert "/etc/clickhouse-server/users.d/okrstream-users.xml" in mounts
    assert config.find("macros/replica").get("from_env") == "CLICKHOUSE_REPLICA"
    keepers = [n.findtext("host") for n in config.findall("zookeeper/node")]
    assert keepers == ["keeper-1", "keeper-2", "keeper-3"]

    keeper = ET.parse(deploy_dir / "clickhouse" / "keeper" / "keeper_config.xml").getroot()
    assert keeper.find("keeper_server/server_id").get("from_env") == "KEEPER_SERVER_ID"
    raft = {
        s.findtext("hostname"): s.findtext("id")
        for s in keeper.findall("keeper_server/raft_configuration/server")
    }
    assert sorted(raft) == keepers
    for host, server_id in raft.items():
        assert services[host]["hostname"] == host
        assert environment(services[host])["KEEPER_SERVER_ID"] == server_id


def test_every_password_clickhouse_reads_from_the_environment_is_set(compose: dict, deploy_dir: Path) -> None:
    wanted = set()
    for path in (deploy_dir / "clickhouse").rglob("*.xml"):
        wanted |= {e.get("from_env") for e in ET.parse(path).iter() if e.get("from_env")}
    for host in ("clickhouse-1", "clickhouse-2"):
        env = environment(compose["services"][host])
        assert wanted - {"KEEPER_SERVER_ID"} <= set(env), host


def test_the_bi_user_reads_okrstream_only(deploy_dir: Path) -> None:
    users = ET.parse(deploy_dir / "clickhouse" / "users.d" / "okrstream-users.xml").getroot()
    bi = users.find("users/bi")
    assert bi is not None and bi.find("password").get("from_env") == "CLICKHOUSE_BI_PASSWORD"
    assert [q.text for q in bi.findall("grants/query")] == ["GRANT SELECT ON okrstream.*"]
    profile = users.find(f"profiles/{bi.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") in ("1", "2")
    default = users.find("users/default/networks")
    assert default is not None and {ip.text for ip in default.findall("ip")} == {"::1", "127.0.0.1"}


def test_prometheus_scrapes_every_okrstream_role(compose: dict, compose_dir: Path) -> None:
    config = yaml.safe_load((compose_dir / "prometheus" / "prometheus.yml").read_text())
    scraped = {
        name: sd["port"]
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", ())
        for name in sd["names"]
    }
    worker = Settings.from_env(environment(compose["services"]["worker"]))
    api = Settings.from_env(environment(compose["services"]["api"]))
    assert scraped == {"worker": worker.metrics_port, "api": api.http_port}


def test_promtool_accepts_the_prometheus_config(compose_dir: Path, tool) -> None:
    promtool = tool("promtool", "Debian package prometheus")
    result = run(
        [promtool, "check", "config", "prometheus.yml"], compose_dir / "prometheus", dict(os.environ)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout + result.stderr


def test_haproxy_accepts_its_config_and_fronts_the_api_and_clickhouse(compose_dir: Path, tool) -> None:
    haproxy = tool("haproxy", "Debian package haproxy")
    config = compose_dir / "haproxy" / "haproxy.cfg"
    result = run([haproxy, "-c", "-f", str(config)], compose_dir, dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    text = config.read_text()
    assert re.search(r"server-template api \d+ api:8181 ", text)
    assert re.search(r"server clickhouse-2 clickhouse-2:8123 .*backup", text)


def test_the_dockerfile_pip_installs_the_project_on_a_pinned_python(deploy_dir: Path) -> None:
    text = (deploy_dir / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    root = deploy_dir.parent
    for source in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for path in source.split():
            assert (root / path).exists(), path
    assert "pip install ." in text
    assert re.search(r'^ENTRYPOINT \["okrstream"\]', text, re.M)
