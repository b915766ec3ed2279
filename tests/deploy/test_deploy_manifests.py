"""The deployment bases parse and validate offline against their schemas, and compose keeps
Coffre's rules: hardened service containers, a vault never published to the host, KRaft Kafka
ready for idempotent producers, traces flowing collector -> Jaeger, no secret in any file.

Schemas: Kubernetes built-ins through kubernetes-validate (strict); Strimzi and CloudNativePG
custom resources through the CRD schemas vendored in deploy/schemas/crds (see its README for
which are complete and which are excerpts); compose files through the compose-spec schema.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_support import (
    COMPOSE_FILE,
    DEPLOY,
    FRAGMENTS,
    K8S,
    KUBERNETES_VERSION,
    ROOT,
    SCHEMAS,
    compose_services,
    crd_schemas,
    k8s_objects,
    literal_secrets_in,
    load_all,
    load_one,
    secret_patterns_in,
    yaml_files,
)

pytestmark = pytest.mark.unit

OBJECTS = k8s_objects()
CRDS = crd_schemas()


def _is_custom(obj: dict[str, Any]) -> bool:
    """Custom resources: an operator's group, or a Kubernetes SIG's CRD (the Gateway API)."""
    group = obj["apiVersion"].rpartition("/")[0]
    sig_crd = (obj["apiVersion"], obj["kind"]) in CRDS
    return sig_crd or ("." in group and not group.endswith(".k8s.io"))


CUSTOM = [(i, o) for i, o in OBJECTS if _is_custom(o)]
BUILTIN = [(i, o) for i, o in OBJECTS if not _is_custom(o)]
COMPOSE_FILES = [COMPOSE_FILE, *FRAGMENTS]
SERVICE_PORTS = {"auth": 8001, "vault": 8002, "aggregation": 8003, "fraud": 8004}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- parsing and schemas ----------------------------------------------------------------------


@pytest.mark.parametrize("path", yaml_files(), ids=_rel)
def test_every_yaml_file_parses(path: Path) -> None:
    assert load_all(path), f"{_rel(path)} is empty"


@pytest.mark.parametrize(("ident", "obj"), BUILTIN, ids=[i for i, _ in BUILTIN])
def test_builtin_kubernetes_objects_validate_strictly(ident: str, obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(("ident", "obj"), CUSTOM, ids=[i for i, _ in CUSTOM])
def test_custom_resources_validate_against_vendored_crd_schemas(
    ident: str, obj: dict[str, Any]
) -> None:
    schema = CRDS.get((obj["apiVersion"], obj["kind"]))
    assert schema is not None, f"no vendored CRD schema for {obj['apiVersion']} {obj['kind']}"
    jsonschema.Draft4Validator(schema).validate(obj)


def test_crd_schemas_reject_an_unknown_field() -> None:
    topic = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {"name": "t"},
        "spec": {"partitions": 6, "replicaz": 3},
    }
    schema = CRDS[("kafka.strimzi.io/v1beta2", "KafkaTopic")]
    with pytest.raises(jsonschema.ValidationError, match="replicaz"):
        jsonschema.Draft4Validator(schema).validate(topic)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=_rel)
def test_compose_files_validate_against_the_compose_spec(path: Path) -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate(load_one(path))


def test_compose_file_has_no_version_key_and_includes_every_fragment() -> None:
    compose = load_one(COMPOSE_FILE)
    assert "version" not in compose
    included = {(COMPOSE_FILE.parent / item["path"]).resolve() for item in compose["include"]}
    assert included == {p.resolve() for p in FRAGMENTS}
    for name in [*SERVICE_PORTS, "sandbox-bank"]:
        assert (DEPLOY / "compose" / f"{name}.yml") in FRAGMENTS


def test_compose_cli_accepts_the_merged_project(tmp_path: Path) -> None:
    """Docker Compose itself resolves includes, interpolation and cross-file depends_on."""
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose v2 CLI on this machine; the schema tests still ran")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "POSTGRES_PASSWORD": "x" * 24}
    done = subprocess.run(
        [*cli, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert set(services) >= {*SERVICE_PORTS, "sandbox-bank", "kafka", "postgres", "jaeger"}
    assert not services["vault"].get("ports")


def _compose_cli() -> list[str] | None:
    standalone = shutil.which("docker-compose")
    if standalone:
        return [standalone]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    return None


# --- compose rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_compose_service_container_is_hardened_and_wired(name: str, port: int) -> None:
    svc = compose_services(DEPLOY / "compose" / f"{name}.yml")[name]
    assert svc["build"] == {
        "context": "../..",
        "dockerfile": "Dockerfile",
        "args": {"SERVICE": name},
    }
    assert svc["read_only"] is True
    assert svc["user"].split(":")[0] not in {"0", "root"}
    assert svc["cap_drop"] == ["ALL"]
    env = svc["environment"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["DATABASE_URL"].startswith("postgresql://coffre:${")
    assert env["DATABASE_URL"].endswith("@postgres:5432/coffre")
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"  # OTLP/HTTP
    assert env["COFFRE_ENVIRONMENT"] == "production"
    assert env["HTTP_PORT"] == str(port)
    assert f"http://127.0.0.1:{port}/health/ready" in " ".join(svc["healthcheck"]["test"])
    for dependency in ("kafka", "postgres"):
        assert svc["depends_on"][dependency]["condition"] == "service_healthy"


@pytest.mark.parametrize(
    ("name", "port"), [(n, p) for n, p in SERVICE_PORTS.items() if n != "vault"]
)
def test_public_services_are_published_on_their_port(name: str, port: int) -> None:
    svc = compose_services(DEPLOY / "compose" / f"{name}.yml")[name]
    assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_vault_is_not_published_to_the_host() -> None:
    vault = compose_services(DEPLOY / "compose" / "vault.yml")["vault"]
    assert "ports" not in vault
    assert vault.get("network_mode") != "host"
    for path in COMPOSE_FILES:
        for name, svc in compose_services(path).items():
            published = " ".join(str(p) for p in svc.get("ports", []))
            assert name == "vault" or "8002" not in published, f"{name} publishes 8002"


def test_sandbox_bank_runs_its_own_entry_point_on_8010() -> None:
    svc = compose_services(DEPLOY / "compose" / "sandbox-bank.yml")["sandbox-bank"]
    assert svc["command"] == ["coffre-sandbox-bank"]
    assert svc["build"]["args"] == {"SERVICE": "sandbox-bank"}
    assert svc["ports"] == ["127.0.0.1:8010:8010"]
    assert svc["read_only"] is True


def test_compose_kafka_is_kraft_and_ready_for_idempotent_producers() -> None:
    services = compose_services(COMPOSE_FILE)
    assert not any("zookeeper" in name for name in services)
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    # acks=all with one broker needs min.insync.replicas <= 1 (the default when unset).
    assert int(env.get("KAFKA_MIN_INSYNC_REPLICAS", "1")) <= 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert "KAFKA_ENABLE_IDEMPOTENCE" not in env
    for name in ("kafka", "postgres", "jaeger"):
        assert "healthcheck" in services[name], name
    assert services["postgres"]["image"].startswith("postgres:17")
    assert services["kafka"]["volumes"]
    assert services["postgres"]["volumes"]


def test_compose_traces_flow_from_the_collector_to_jaeger() -> None:
    services = compose_services(COMPOSE_FILE)
    assert services["otel-collector"]["environment"]["OTLP_TRACES_ENDPOINT"] == "jaeger:4317"
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert "127.0.0.1:16686:16686" in services["jaeger"]["ports"]
    config = load_one(DEPLOY / "otel" / "collector.yaml")
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert config["exporters"][traces["exporters"][0]]["endpoint"] == "${env:OTLP_TRACES_ENDPOINT}"


def test_kubernetes_collector_config_is_the_compose_one() -> None:
    configmap = next(
        o
        for _, o in OBJECTS
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "otel-collector"
    )
    in_k8s = yaml.safe_load(configmap["data"]["collector.yaml"])
    assert in_k8s == load_one(DEPLOY / "otel" / "collector.yaml")


# --- image ------------------------------------------------------------------------------------


def test_dockerfile_builds_one_non_root_service_from_the_lock() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") >= 2
    assert "python:3.11-slim" in text
    assert "pip install uv==0.13.8" in text
    assert 'uv sync --frozen --no-dev --no-editable --package "coffre-${SERVICE}"' in text
    assert "USER 10001:10001" in text
    assert "HEALTHCHECK" in text
    assert "/health/ready" in text
    assert 'CMD ["sh", "-c", "exec \\"coffre-${SERVICE}\\""]' in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", "**/.venv", ".state", "deploy/secrets", "**/__pycache__"):
        assert entry in ignored


# --- secrets ----------------------------------------------------------------------------------


def _scanned_files() -> list[Path]:
    extra = [ROOT / "Dockerfile", DEPLOY / "README.md", DEPLOY / "compose.env.example"]
    return [*yaml_files(), *(p for p in extra if p.exists())]


@pytest.mark.parametrize("path", _scanned_files(), ids=_rel)
def test_no_literal_secret_in_deployment_files(path: Path) -> None:
    assert secret_patterns_in(path.read_text()) == []
    if path.suffix in {".yml", ".yaml"}:
        for doc in load_all(path):
            assert list(literal_secrets_in(doc)) == []


def test_secret_detector_catches_literal_secrets() -> None:
    assert list(literal_secrets_in({"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}))
    assert list(literal_secrets_in({"clientSecret": "s3cr3t"}))
    assert not list(literal_secrets_in({"POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?}"}))
    assert secret_patterns_in("url: postgresql://coffre:hunter2@db:5432/coffre")
    assert secret_patterns_in("-----BEGIN PRIVATE KEY-----")
    assert secret_patterns_in("password=hunter2")
    assert not secret_patterns_in("postgresql://coffre:${POSTGRES_PASSWORD:?}@postgres:5432/x")


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_one(K8S / "kustomization.yaml")
    listed = {(K8S / r).resolve() for r in kustomization["resources"]}
    present = {p.resolve() for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present
    assert kustomization["namespace"] == "coffre"
