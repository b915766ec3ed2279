"""The API gateway routes every member-facing path to its service, and nothing internal.

Rules: each public service's routes (read from its routers, not from a copied list) are matched
by an HTTPRoute of that service and of no other; the vault, fraud's decision and analyst APIs,
auth's development mailboxes, health probes and /metrics are never routed; TLS ends at the
gateway.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import pytest
from deploy_support import of_kind

pytestmark = pytest.mark.unit

# service -> "module:attribute" of every router its app mounts.
ROUTERS = {
    "auth": ["auth.entrypoints.http:router", "auth.entrypoints.public:public",
             "auth.entrypoints.public:sso_router", "auth.entrypoints.public:dev"],
    "aggregation": ["aggregation.entrypoints.http:router"],
    "fraud": ["fraud.entrypoints.http:router"],
    "vault": ["vault.entrypoints.http:router"],
    "payments": ["payments.entrypoints.http:router"],
    "archive": ["archive.entrypoints.http:router"],
}  # fmt: skip
# Paths that exist but must never be reachable from outside.
INTERNAL = {
    "vault": ("/",),
    "fraud": ("/v1/decisions", "/v1/alerts"),
    "auth": ("/v1/dev",),
}


def _paths(service: str) -> list[str]:
    paths: list[str] = []
    for ref in ROUTERS[service]:
        module_name, attribute = ref.split(":")
        if importlib.util.find_spec(module_name.split(".")[0]) is None:
            return []  # a service not in this checkout
        router = getattr(importlib.import_module(module_name), attribute)
        paths += [route.path for route in router.routes]
    return paths


def _matches(match: dict[str, Any], path: str) -> bool:
    kind, value = match["path"]["type"], match["path"]["value"]
    if kind == "Exact":
        return path == value
    return path == value or path.startswith(value.rstrip("/") + "/")


def _routed_to(path: str) -> set[str]:
    """Services whose HTTPRoute matches the path ({param} segments stand for any value)."""
    concrete = path.replace("{", "x").replace("}", "")
    return {
        backend["name"]
        for route in of_kind("HTTPRoute")
        for rule in route["spec"]["rules"]
        if any(_matches(m, concrete) for m in rule["matches"])
        for backend in rule["backendRefs"]
    }


def _internal(service: str, path: str) -> bool:
    return any(path.startswith(prefix) for prefix in INTERNAL.get(service, ()))


@pytest.mark.parametrize("service", sorted(ROUTERS))
def test_every_public_path_reaches_its_own_service_and_internal_ones_none(service: str) -> None:
    paths = _paths(service)
    for path in paths:
        expected = set() if _internal(service, path) else {service}
        assert _routed_to(path) == expected, f"{service} {path} -> {_routed_to(path)}"


@pytest.mark.parametrize("path", ["/health/ready", "/health/live", "/metrics", "/docs"])
def test_probes_metrics_and_docs_are_not_routed(path: str) -> None:
    assert _routed_to(path) == set()


def test_routes_point_at_existing_services_on_their_ports_never_the_vault() -> None:
    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    for route in of_kind("HTTPRoute"):
        for rule in route["spec"]["rules"]:
            for backend in rule["backendRefs"]:
                assert backend["name"] != "vault"
                ports = [p["port"] for p in services[backend["name"]]["spec"]["ports"]]
                assert backend["port"] in ports, (route["metadata"]["name"], backend)


def test_gateway_terminates_tls_and_takes_routes_from_its_namespace_only() -> None:
    (gateway,) = of_kind("Gateway")
    for listener in gateway["spec"]["listeners"]:
        assert listener["protocol"] == "HTTPS"
        assert listener["tls"]["mode"] == "Terminate"
        assert listener["allowedRoutes"]["namespaces"]["from"] == "Same"
    for route in of_kind("HTTPRoute"):
        assert [p["name"] for p in route["spec"]["parentRefs"]] == [gateway["metadata"]["name"]]
