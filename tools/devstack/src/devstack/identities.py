"""The dev stack's service identities, and tokens for trying internal APIs by hand.

Rules: ``make run`` gives every service an Ed25519 identity under ``.state/identity/`` (private
keys 0600) and every service trusts that folder; it also creates the ``backoffice`` operator
identity, so the vault's operator grants can be tried from a shell
(``coffre-dev token backoffice`` prints a token valid two minutes, for the vault by default).
Only keys the dev stack generated are used; nothing here runs outside development.
"""

from __future__ import annotations

from pathlib import Path

from common.security.service_identity import ServiceTokenIssuer, generate_identity

from devstack.layout import DEFAULT_PORTS, state_dir

OPERATOR_IDENTITIES = ("backoffice",)


def ensure_identities(state: Path) -> Path:
    """Generate the missing identities of every service and of the back office."""
    folder = state / "identity"
    for name in (*DEFAULT_PORTS, *OPERATOR_IDENTITIES):
        generate_identity(name, folder)
    return folder


def token_for(root: Path, identity: str, audience: str) -> str:
    key = state_dir(root) / "identity" / f"{identity}.key.pem"
    if not key.exists():
        raise SystemExit(f"no identity {identity!r} in {key.parent}: start `make run` once")
    return ServiceTokenIssuer.from_file(identity, key).token_for(audience)
