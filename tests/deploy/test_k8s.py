"""deploy/k8s: kustomize base and overlays, checked against Kubernetes' schemas and okrstream's settings.

Every manifest must parse and name itself; each kustomization must list exactly the files beside
it; the resources, and what `kustomize build` makes of each overlay, must validate (strictly: no
unknown field) against the schemas kubernetes-validate ships for Kubernetes 1.30 and its newest.
Nothing is applied to a cluster. The operator examples (Strimzi, Altinity) use custom resources
with no schema here: they are read for the names okrstream's configuration points at.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from schemas import Settings, env_name

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
REPLICAS = {
    "base": {"okrstream-worker": 2, "okrstream-api": 2},
    "overlays/small": {"okrstream-worker": 1, "okrstream-api": 1},
    "overlays/large": {"okrstream-worker": 12, "okrstream-api": 3},
}
ROLES = {
    "okrstream-worker": ("worker", "metrics", "OKRSTREAM_METRICS_PORT"),
    "okrstream-api": ("serve", "http", "OKRSTREAM_HTTP_PORT"),
}


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def manifests() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def by_kind(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def validate(doc: dict) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip package kubernetes-validate")
    for version in ("1.30.0", kubernetes_validate.latest_version()):
        kubernetes_validate.validate(doc, version, strict=True)


def kustomize_build(target: str) -> list[dict]:
    if path := shutil.which("kustomize"):
        command = [path, "build", str(K8S / target)]
    elif path := shutil.which("kubectl"):
        command = [path, "kustomize", str(K8S / target)]
    else:
        pytest.skip("neither kustomize nor kubectl (which builds kustomizations) is installed")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


@pytest.mark.parametrize("path", manifests(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_parses_and_names_itself(path: Path) -> None:
    docs = documents(path)
    assert docs, path
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), path
        assert doc.get("metadata", {}).get("name"), path


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.parent.relative_to(K8S)))
def test_each_kustomization_lists_exactly_the_files_beside_it(path: Path) -> None:
    kustomization = yaml.safe_load(path.read_text())
    here = path.parent
    listed = [*kustomization.get("resources", ()), *(p["path"] for p in kustomization.get("patches", ()))]
    files = set()
    for entry in listed:
        target = (here / entry).resolve()
        assert target.exists(), f"{path}: {entry} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").exists(), f"{path}: {entry} is no kustomization"
        else:
            assert target.parent == here, f"{path}: {entry} lies outside its directory"
            files.add(target.name)
    beside = {p.name for p in here.glob("*.yaml")} - {"kustomization.yaml"}
    assert files == beside


def test_base_and_overlay_resources_validate_against_kubernetes_schemas() -> None:
    for path in manifests():
        if "examples" in path.parts:
            continue
        for doc in documents(path):
            if "overlays" in path.parts and doc["kind"] in ("ConfigMap", "Deployment"):
                continue  # a patch: validated as part of the built overlay
            validate(doc)


@pytest.mark.parametrize("target", sorted(REPLICAS))
def test_kustomize_builds_valid_manifests(target: str) -> None:
    docs = kustomize_build(target)
    for doc in docs:
        validate(doc)
        if target != "base" and doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "okrstream", doc["metadata"]["name"]
    objects = by_kind(docs)
    replicas = {name: objects["Deployment", name]["spec"]["replicas"] for name in ROLES}
    assert replicas == REPLICAS[target]
    settings = pod_settings(objects)
    if target == "overlays/large":
        assert replicas["okrstream-worker"] == settings.topic_partitions  # a worker per partition
    assert replicas["okrstream-worker"] <= settings.topic_partitions


def pod_settings(objects: dict[tuple[str, str], dict]) -> Settings:
    env = (
        objects["ConfigMap", "okrstream-config"]["data"]
        | objects["Secret", "okrstream-secrets"]["stringData"]
    )
    known = {env_name(field) for field in Settings.model_fields}
    assert set(env) <= known, sorted(set(env) - known)
    return Settings.from_env(env)


def test_pods_run_their_role_with_the_settings_and_prometheus_annotations() -> None:
    objects = by_kind(kustomize_build("base"))
    settings = pod_settings(objects)
    assert settings.http_host == "0.0.0.0"
    ports = {"OKRSTREAM_HTTP_PORT": settings.http_port, "OKRSTREAM_METRICS_PORT": settings.metrics_port}
    for name, (command, port_name, variable) in ROLES.items():
        pod = objects["Deployment", name]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["args"] == [command]
        assert container["image"].startswith("okrstream:")
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {"okrstream-config", "okrstream-secrets"}
        (port,) = container["ports"]
        assert (port["name"], port["containerPort"]) == (port_name, ports[variable])
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(ports[variable])
        assert annotations["prometheus.io/path"] == "/metrics"
    service = objects["Service", "okrstream-api"]["spec"]
    assert service["ports"][0]["targetPort"] == "http"


def test_the_operator_examples_are_what_the_configuration_points_at() -> None:
    base = {
        (d["kind"], d["metadata"]["name"]): d
        for p in manifests()
        if p.parent.name == "base"
        for d in documents(p)
    }
    env = base["ConfigMap", "okrstream-config"]["data"]
    url = base["Secret", "okrstream-secrets"]["stringData"]["CLICKHOUSE_URL"]
    strimzi = by_kind(documents(K8S / "examples" / "strimzi-kafka.yaml"))
    kafka = strimzi["Kafka", "okrstream"]
    host = f"{kafka['metadata']['name']}-kafka-bootstrap.{kafka['metadata']['namespace']}.svc"
    assert env["KAFKA_BOOTSTRAP_SERVERS"].startswith(host)
    (pool,) = [d for (kind, _), d in strimzi.items() if kind == "KafkaNodePool"]
    assert pool["spec"]["replicas"] == 3 and set(pool["spec"]["roles"]) == {"controller", "broker"}

    altinity = by_kind(documents(K8S / "examples" / "altinity-clickhouse.yaml"))
    chi = altinity["ClickHouseInstallation", "okrstream"]
    assert f"@clickhouse-{chi['metadata']['name']}.{chi['metadata']['namespace']}.svc" in url
    (cluster,) = chi["spec"]["configuration"]["clusters"]
    assert cluster["name"] == env["OKRSTREAM_CLICKHOUSE_CLUSTER"]
    assert cluster["layout"] == {"shardsCount": 1, "replicasCount": 2}
    keeper = altinity["ClickHouseKeeperInstallation", "okrstream"]
    assert keeper["spec"]["configuration"]["clusters"][0]["layout"]["replicasCount"] == 3
    assert chi["spec"]["configuration"]["users"]["bi/grants/query"] == ["GRANT SELECT ON okrstream.*"]
