"""Loaders and small evaluators for the deployment tests: YAML files, Kubernetes objects, CRD
schemas, label selectors, container environments, the event registry's topics, the services'
settings and a literal-secret detector. No network, no cluster.

Rules: deploy/secrets/ (real secrets on an operator's machine, git-ignored) and the vendored
schemas are never scanned as manifests.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SCHEMAS = DEPLOY / "schemas"
SECRETS = DEPLOY / "secrets"
COMPOSE_FILE = ROOT / "docker-compose.yml"
FRAGMENTS = sorted((DEPLOY / "compose").glob("*.yml"))
KUBERNETES_VERSION = "1.32.0"

Obj = dict[str, Any]


def _excluded(path: Path) -> bool:
    return SECRETS in path.parents or SCHEMAS in path.parents


def yaml_files() -> list[Path]:
    """Every YAML file under deploy/ (but secrets and schemas) and the root compose file."""
    found = [p for p in DEPLOY.rglob("*") if p.suffix in {".yml", ".yaml"} and not _excluded(p)]
    return sorted([COMPOSE_FILE, *found])


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def load_one(path: Path) -> Obj:
    docs = load_all(path)
    assert len(docs) == 1, f"{path} should hold one YAML document"
    doc: Obj = docs[0]
    return doc


def k8s_manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def k8s_objects() -> list[tuple[str, Obj]]:
    """(id, object) for every Kubernetes object in deploy/k8s; id reads file:Kind/name."""
    out = []
    for path in k8s_manifest_files():
        for doc in load_all(path):
            rel = path.relative_to(K8S)
            out.append((f"{rel}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return out


def of_kind(kind: str) -> list[Obj]:
    return [obj for _, obj in k8s_objects() if obj["kind"] == kind]


def compose_services(path: Path) -> dict[str, Obj]:
    services: dict[str, Obj] = load_one(path).get("services", {})
    return services


# --- topics -----------------------------------------------------------------------------------

TOPIC = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+\.v[0-9]+$")


def registered_topics() -> set[str]:
    """Every topic of the event registry in libs/common: the source of truth."""
    events = importlib.import_module("common.events")
    return set(events.all_topics())


def compose_init_topics() -> list[str]:
    """The topics the compose `kafka-init` script creates (its `for topic in … do` list)."""
    script: str = compose_services(COMPOSE_FILE)["kafka-init"]["command"][0]
    found = re.search(r"^for topic in(.*?)^do$", script, re.MULTILINE | re.DOTALL)
    assert found, "kafka-init should create its topics in a `for topic in … do` loop"
    words = [w for w in found.group(1).split() if w != "\\"]
    assert all(TOPIC.match(w) for w in words), f"not a topic name in kafka-init: {words}"
    return words


# --- services: containers and settings ---------------------------------------------------------

SETTINGS = {
    "auth": "auth.settings:AuthSettings",
    "vault": "vault.settings:VaultSettings",
    "aggregation": "aggregation.settings:AggregationSettings",
    "fraud": "fraud.settings:FraudSettings",
    "archive": "archive.settings:ArchiveSettings",
    "payments": "payments.settings:PaymentsSettings",
}


def settings_class(service: str) -> type[BaseSettings]:
    module, _, name = SETTINGS[service].partition(":")
    cls: type[BaseSettings] = getattr(importlib.import_module(module), name)
    return cls


def settings_env_names(cls: type[BaseSettings]) -> dict[str, str]:
    """Environment variable -> field name, as pydantic-settings reads them (upper-cased)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = {}
    for field, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [c for c in alias.choices if isinstance(c, str)]
        else:
            choices = [alias] if isinstance(alias, str) else [f"{prefix}{field}"]
        names.update({choice.upper(): field for choice in choices})
    return names


def service_deployments() -> dict[str, Obj]:
    """Coffre's own service Deployments (component=service), by name."""
    return {
        d["metadata"]["name"]: d
        for d in of_kind("Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
        == "service"
    }


def container_env(deployment: Obj) -> dict[str, Any]:
    """The first container's environment: ConfigMap values (envFrom) overlaid by `env`, whose
    items are the literal value or the `valueFrom` mapping. Keys of `secretRef`s are unknown."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in of_kind("ConfigMap")}
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        env[item["name"]] = item["value"] if "value" in item else item["valueFrom"]
    return env


def volume_for(deployment: Obj, path: str) -> tuple[Obj, Obj]:
    """(volumeMount, volume) of the first container that holds `path` (deepest mount wins)."""
    pod = deployment["spec"]["template"]["spec"]
    target = PurePosixPath(path)
    mounts = [
        m
        for m in pod["containers"][0].get("volumeMounts", [])
        if target == PurePosixPath(m["mountPath"])
        or PurePosixPath(m["mountPath"]) in target.parents
    ]
    assert mounts, f"{path} is on no volume of {deployment['metadata']['name']}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    return mount, volume


# --- CRD schemas ------------------------------------------------------------------------------


def crd_schemas() -> dict[tuple[str, str], Obj]:
    """(apiVersion, kind) -> vendored openAPIV3Schema, made strict like Kubernetes' pruning."""
    out = {}
    for path in sorted((SCHEMAS / "crds").glob("*.yaml")):
        doc = load_one(path)
        out[(doc["apiVersion"], doc["kind"])] = strict_schema(doc["openAPIV3Schema"])
    return out


def strict_schema(schema: Obj) -> Obj:
    """Copy of a structural schema where an unknown field is an error, not silently pruned."""
    schema = copy.deepcopy(schema)
    _tighten(schema)
    return schema


def _tighten(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _tighten(item)
        return
    if not isinstance(node, dict):
        return
    preserves = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in node and "additionalProperties" not in node and not preserves:
        node["additionalProperties"] = False
    for value in node.values():
        _tighten(value)


# --- label selectors ------------------------------------------------------------------------


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a Kubernetes LabelSelector matches a set of labels ({} matches everything)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


# --- literal secrets ------------------------------------------------------------------------

SENSITIVE_KEY = re.compile(
    r"(password|passwd|passphrase|secret|token|api_?key|private_?key|access_?key|secret_?key"
    r"|credentials?)$",
    re.IGNORECASE,
)
TEXT_PATTERNS = {
    "private key block": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "password in a URL": re.compile(r"://[^/\s:@]+:(?!\$\{|<)[^@\s/]+@"),
    "password assignment": re.compile(
        r"(?i)(?<![a-z])(password|passwd|secret|token)[ \t]*[=:](?![?-])[ \t]*"
        r"(?![\s$'\"{<(]|\S*\$\{)\S+"
    ),
}


def _is_reference(value: str) -> bool:
    return value == "" or value.startswith("${") or value.startswith("/")


def literal_secrets_in(doc: Any, where: str = "") -> Iterator[str]:
    """Paths of string values stored under a secret-sounding key (`env` lists included)."""
    if isinstance(doc, dict):
        if set(doc) >= {"name", "value"} and isinstance(doc["name"], str):
            doc = {**doc, doc["name"]: doc["value"]}
        for key, value in doc.items():
            path = f"{where}.{key}"
            if isinstance(value, str) and SENSITIVE_KEY.search(str(key)):
                if not _is_reference(value):
                    yield path
            else:
                yield from literal_secrets_in(value, path)
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from literal_secrets_in(item, f"{where}[{i}]")


def secret_patterns_in(text: str) -> list[str]:
    return [name for name, pattern in TEXT_PATTERNS.items() if pattern.search(text)]
