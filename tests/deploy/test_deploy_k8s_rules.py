"""Coffre's Kubernetes rules: hardened, highly available Deployments; default-deny networking
where only aggregation, payments and archive reach the vault; KRaft Kafka on three nodes; a
three-instance Postgres. Backups: test_deploy_backups; topics: test_deploy_topics; secrets, KMS
and service identity: test_deploy_service_wiring.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml
from deploy_support import K8S, k8s_objects, of_kind, selects

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
DEPLOYMENTS = of_kind("Deployment")
SERVICES = {"auth": 8001, "vault": 8002, "aggregation": 8003, "fraud": 8004}
VAULT_CLIENTS = {"aggregation", "payments", "archive"}


def _name(obj: Obj) -> str:
    name: str = obj["metadata"]["name"]
    return name


def _pod_labels(deployment: Obj) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


# --- Deployments ------------------------------------------------------------------------------


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=_name)
def test_deployment_is_hardened(deployment: Obj) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod.get("automountServiceAccountToken") is False
    assert not pod.get("hostNetwork")
    assert not pod.get("hostPID")
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["runAsNonRoot"] is True
        assert ctx["capabilities"]["drop"] == ["ALL"]
        assert "add" not in ctx["capabilities"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=_name)
def test_deployment_has_probes_and_resources(deployment: Obj) -> None:
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert container["livenessProbe"]
        assert container["readinessProbe"]
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"])
        assert {"cpu", "memory"} <= set(resources["limits"])


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=_name)
def test_deployment_survives_a_node_loss(deployment: Obj) -> None:
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["template"]["spec"]["topologySpreadConstraints"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budgets = [
        pdb
        for pdb in of_kind("PodDisruptionBudget")
        if selects(pdb["spec"]["selector"], _pod_labels(deployment))
    ]
    assert len(budgets) == 1, f"{_name(deployment)} needs exactly one PodDisruptionBudget"
    assert budgets[0]["spec"]["minAvailable"] >= 1
    assert budgets[0]["spec"]["minAvailable"] < spec["replicas"]


@pytest.mark.parametrize(("name", "port"), SERVICES.items())
def test_service_deployment_follows_the_service_contract(name: str, port: int) -> None:
    path = K8S / "services" / f"{name}.yaml"
    docs = {d["kind"]: d for d in yaml.safe_load_all(path.read_text())}
    assert set(docs) == {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}
    deployment, service = docs["Deployment"], docs["Service"]
    assert deployment["spec"]["replicas"] == (3 if name == "auth" else 2)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    sources = {next(iter(ref)) for ref in container["envFrom"]}
    # auth reads each of its secrets by key (test_deploy_service_wiring); the others take
    # their optional `<service>-secrets` whole.
    assert sources == ({"configMapRef"} if name == "auth" else {"configMapRef", "secretRef"})
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["port"] == port
    assert selects({"matchLabels": service["spec"]["selector"]}, _pod_labels(deployment))
    assert docs["ConfigMap"]["data"]["HTTP_PORT"] == str(port)


def test_every_object_lives_in_the_coffre_namespace() -> None:
    for ident, obj in k8s_objects():
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "coffre", ident


def test_namespace_enforces_the_restricted_pod_security_standard() -> None:
    (namespace,) = of_kind("Namespace")
    assert namespace["metadata"]["name"] == "coffre"
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_kustomize_builds_every_object() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the per-file validation still ran")
    done = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    built = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert len(built) == len(k8s_objects())


# --- network policies -------------------------------------------------------------------------


def _candidate_pods() -> dict[str, dict[str, str]]:
    """Label sets of every pod kind in the namespace, plus the services still to come."""
    pods = {_name(d): _pod_labels(d) for d in DEPLOYMENTS}
    for future in ("payments", "archive"):
        pods[future] = {
            "app.kubernetes.io/name": future,
            "app.kubernetes.io/part-of": "coffre",
            "app.kubernetes.io/component": "service",
        }
    pods["kafka-broker"] = {"strimzi.io/cluster": "coffre-kafka", "strimzi.io/broker-role": "true"}
    pods["postgres"] = {"cnpg.io/cluster": "coffre-postgres"}
    pods["unlabelled"] = {}
    return pods


def _ingress_policies_for(labels: dict[str, str]) -> list[Obj]:
    return [
        p
        for p in of_kind("NetworkPolicy")
        if "Ingress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
    ]


def test_namespace_denies_all_traffic_by_default() -> None:
    deny = [
        p
        for p in of_kind("NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "a default-deny NetworkPolicy for ingress and egress is required"


def test_every_pod_may_resolve_dns() -> None:
    dns = [
        p
        for p in of_kind("NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and any(
            port.get("port") == 53 for rule in p["spec"].get("egress", []) for port in rule["ports"]
        )
    ]
    assert dns


def test_only_aggregation_payments_and_archive_may_reach_the_vault() -> None:
    vault = _candidate_pods()["vault"]
    policies = _ingress_policies_for(vault)
    assert [_name(p) for p in policies if p["spec"].get("ingress")] == ["vault-policy"]
    admitted: set[str] = set()
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), "an ingress rule without `from` admits every source"
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}, "no namespace or IP peer may reach the vault"
                for name, labels in _candidate_pods().items():
                    if selects(peer["podSelector"], labels):
                        admitted.add(name)
    assert admitted == VAULT_CLIENTS


def _egress_targets(labels: dict[str, str]) -> set[str]:
    """Candidate pods that pods with these labels may open connections to (same namespace)."""
    targets = set()
    for policy in of_kind("NetworkPolicy"):
        spec = policy["spec"]
        if "Egress" not in spec["policyTypes"] or not selects(spec["podSelector"], labels):
            continue
        peers = [peer for rule in spec.get("egress", []) for peer in rule.get("to", [])]
        for peer in peers:
            if set(peer) != {"podSelector"}:
                continue
            targets |= {
                n for n, pod in _candidate_pods().items() if selects(peer["podSelector"], pod)
            }
    return targets


def test_services_reach_kafka_postgres_and_the_collector() -> None:
    pods = _candidate_pods()
    for service in ("auth", "fraud", "aggregation", "vault"):
        targets = _egress_targets(pods[service])
        assert {"kafka-broker", "postgres", "otel-collector"} <= targets, service
    assert "vault" in _egress_targets(pods["aggregation"])
    assert "vault" not in _egress_targets(pods["auth"])
    assert "vault" not in _egress_targets(pods["fraud"])
    for target in ("kafka-broker", "postgres", "otel-collector"):
        assert _ingress_policies_for(pods[target]), target


# --- Kafka and Postgres -----------------------------------------------------------------------


def test_kafka_runs_in_kraft_mode_on_three_nodes() -> None:
    (kafka,) = of_kind("Kafka")
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    pools = of_kind("KafkaNodePool")
    assert sum(p["spec"]["replicas"] for p in pools) == 3
    assert {r for p in pools for r in p["spec"]["roles"]} == {"controller", "broker"}
    for pool in pools:
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == _name(kafka)


def test_postgres_has_three_instances_on_separate_nodes() -> None:
    """Backups: test_deploy_backups."""
    (cluster,) = of_kind("Cluster")
    spec = cluster["spec"]
    assert spec["instances"] == 3
    assert spec["bootstrap"]["initdb"]["database"] == "coffre"
    assert spec["affinity"]["podAntiAffinityType"] == "required"
