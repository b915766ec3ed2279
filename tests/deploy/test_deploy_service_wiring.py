"""How the services get their configuration and secrets, in Kubernetes and in compose.

Rules: every variable a manifest sets is a setting of that service (or an OpenTelemetry SDK
variable), and the service's settings class accepts what the manifest gives it; every service
has its own service-identity private key (a Secret or a git-ignored file) and the shared folder
of public keys it trusts; secret files are readable by the service's own group at most (the
vault refuses any other KMS key file); auth reads each secret by key from `auth-secrets`.
"""

from __future__ import annotations

import re
import typing
from pathlib import PurePosixPath
from typing import Any

import pytest
from deploy_support import (
    COMPOSE_FILE,
    DEPLOY,
    FRAGMENTS,
    compose_services,
    container_env,
    load_one,
    service_deployments,
    settings_class,
    settings_env_names,
    volume_for,
)
from pydantic import SecretStr

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
DEPLOYMENTS = service_deployments()
COMPOSE_SERVICES = ("auth", "vault", "aggregation", "fraud", "archive")
FAKE_SECRET = "Q7vR2mX9pL4sT8wZ1nB6cF3hJ5kD0gY2aE7uI9oP4rS6tV8x"
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)[^}]*\}")
README = (DEPLOY / "README.md").read_text()


def _fragment(name: str) -> Obj:
    return load_one(DEPLOY / "compose" / f"{name}.yml")


def _compose_env(name: str) -> dict[str, str]:
    env: dict[str, str] = compose_services(DEPLOY / "compose" / f"{name}.yml")[name]["environment"]
    return env


def _k8s_env(name: str) -> dict[str, Any]:
    return container_env(DEPLOYMENTS[name])


def _compose_secret_file(name: str, mounted_at: str) -> str:
    """The host file (relative to deploy/compose) that compose mounts at `mounted_at`."""
    fragment = _fragment(name)
    for ref in fragment["services"][name].get("secrets", []):
        source, target = (ref, ref) if isinstance(ref, str) else (ref["source"], ref["target"])
        if f"/run/secrets/{target}" == mounted_at:
            file: str = fragment["secrets"][source]["file"]
            return file
    raise AssertionError(f"{name}: nothing mounted at {mounted_at}")


# --- every variable is a setting the service reads, with a value it accepts ---------------------


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_kubernetes_variables_are_settings_of_the_service(name: str) -> None:
    known = settings_env_names(settings_class(name))
    unknown = [v for v in _k8s_env(name) if v not in known and not v.startswith("OTEL_")]
    assert unknown == [], f"{name} reads no such setting"


@pytest.mark.parametrize("name", COMPOSE_SERVICES)
def test_compose_variables_are_settings_of_the_service(name: str) -> None:
    known = settings_env_names(settings_class(name))
    unknown = [v for v in _compose_env(name) if v not in known and not v.startswith("OTEL_")]
    assert unknown == [], f"{name} reads no such setting"


def _load_settings(name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    cls = settings_class(name)
    for variable in settings_env_names(cls):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    return cls()


@pytest.mark.parametrize("name", ["auth", "vault", "archive"])
def test_kubernetes_configuration_starts_the_service(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v if isinstance(v, str) else FAKE_SECRET for k, v in _k8s_env(name).items()}
    settings = _load_settings(name, env, monkeypatch)
    assert settings.environment == "production"


@pytest.mark.parametrize("name", ["auth", "vault"])
def test_compose_configuration_starts_the_service(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: INTERPOLATION.sub(FAKE_SECRET, v) for k, v in _compose_env(name).items()}
    settings = _load_settings(name, env, monkeypatch)
    assert settings.environment == "production"


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_every_compose_variable_is_in_the_env_example() -> None:
    example = (DEPLOY / "compose.env.example").read_text()
    listed = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    for path in [COMPOSE_FILE, *FRAGMENTS]:
        used = {v for s in _strings(load_one(path)) for v in INTERPOLATION.findall(s)}
        assert used <= listed, f"{path.name} interpolates {sorted(used - listed)}"


# --- service identity -------------------------------------------------------------------------


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_kubernetes_service_has_its_identity_key_and_the_trusted_keys(name: str) -> None:
    env = _k8s_env(name)
    key_file, trust_dir = env["SERVICE_IDENTITY_KEY_FILE"], env["SERVICE_TRUST_DIR"]
    mount, volume = volume_for(DEPLOYMENTS[name], key_file)
    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"] == f"{name}-identity"
    assert PurePosixPath(key_file).name == "service.key.pem"
    mount, volume = volume_for(DEPLOYMENTS[name], trust_dir)
    assert mount["mountPath"] == trust_dir
    assert mount["readOnly"] is True
    assert volume["configMap"]["name"] == "coffre-service-trust"


@pytest.mark.parametrize("name", COMPOSE_SERVICES)
def test_compose_service_has_its_identity_key_and_the_trusted_keys(name: str) -> None:
    env = _compose_env(name)
    key_file = _compose_secret_file(name, env["SERVICE_IDENTITY_KEY_FILE"])
    assert key_file == f"../secrets/identity/{name}.key.pem"
    volumes = _fragment(name)["services"][name]["volumes"]
    assert f"../secrets/trust:{env['SERVICE_TRUST_DIR']}:ro" in volumes


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_secret_files_are_readable_by_the_service_group_only(name: str) -> None:
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    secrets = [v["secret"] for v in pod["volumes"] if "secret" in v]
    assert secrets
    for secret in secrets:
        modes = [secret["defaultMode"], *(i.get("mode", 0) for i in secret.get("items", []))]
        assert all(mode & 0o037 == 0 for mode in modes), secret["secretName"]


# --- vault KMS --------------------------------------------------------------------------------


def _kms_choices() -> tuple[str, ...]:
    return typing.get_args(settings_class("vault").model_fields["kms"].annotation)


def test_kubernetes_vault_reads_its_kms_key_from_the_vault_kms_secret() -> None:
    env = _k8s_env("vault")
    assert env["VAULT_KMS"] == "local-file"
    assert env["VAULT_KMS"] in _kms_choices()
    mount, volume = volume_for(DEPLOYMENTS["vault"], env["VAULT_KMS_KEY_FILE"])
    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"] == "vault-kms"
    assert volume["secret"]["defaultMode"] == 0o440
    name = PurePosixPath(env["VAULT_KMS_KEY_FILE"]).name
    assert [i["path"] for i in volume["secret"]["items"]] == [name]


def test_compose_vault_reads_its_kms_key_from_a_git_ignored_file() -> None:
    env = _compose_env("vault")
    assert env["VAULT_KMS"] == "local-file"
    key_file = _compose_secret_file("vault", env["VAULT_KMS_KEY_FILE"])
    assert key_file.startswith("../secrets/")


def test_readme_documents_both_kms_and_owner_only_key_files() -> None:
    assert "chmod 600 deploy/secrets/vault_kms.key deploy/secrets/identity/*.key.pem" in README
    assert "sudo chown 10001:10001 deploy/secrets/vault_kms.key" in README
    for choice in _kms_choices():
        assert f"VAULT_KMS={choice}" in README
    for variable in ("VAULT_KMS_KEY_FILE", "VAULT_AWS_KMS_KEY_ID", "VAULT_AWS_REGION", "vault-kms"):
        assert variable in README


# --- auth secrets -----------------------------------------------------------------------------


def _auth_secret_variables() -> set[str]:
    """Auth's own secret settings and the provider URLs, which may carry credentials (the
    database URL is every service's, from CloudNativePG's Secret)."""
    cls = settings_class("auth")
    secret_fields = {
        field
        for field, info in cls.model_fields.items()
        if SecretStr in (info.annotation, *typing.get_args(info.annotation))
    }
    names = {v for v, f in settings_env_names(cls).items() if f in secret_fields}
    return {v for v in names if v.startswith("AUTH_")} | {"AUTH_SMS_URL", "AUTH_MAIL_URL"}


def test_auth_secret_settings_are_the_expected_ones() -> None:
    expected = {"AUTH_PEPPER", "AUTH_KEY_ENCRYPTION_KEY", "AUTH_SMS_API_KEY", "AUTH_MAIL_API_KEY"}
    assert expected <= _auth_secret_variables()


def test_kubernetes_auth_reads_each_secret_by_key_from_auth_secrets() -> None:
    env = _k8s_env("auth")
    for variable in sorted(_auth_secret_variables()):
        assert env[variable] == {"secretKeyRef": {"name": "auth-secrets", "key": variable}}
        assert f"`{variable}`" in README, f"deploy/README.md should document {variable}"


def test_compose_auth_takes_each_secret_from_the_environment() -> None:
    env = _compose_env("auth")
    for variable in sorted(_auth_secret_variables()):
        assert INTERPOLATION.fullmatch(env[variable]), variable
