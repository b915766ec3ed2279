"""The sandbox agent's key for sealed bank credentials, and the vault's pin of it (dev stack).

Rules: the X25519 private key is created once under the state folder (0600) and handed to the
sandbox bank only; the vault gets the public half as a pinned JWK under the agent name
`sandbox-bank`, with the kid the sandbox derives (`agent-x25519-` + the first 16 hex digits of
SHA-256 of the raw public key, see tools/sandbox-bank/README.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from common.security.client_encryption import RecipientKey
from cryptography.hazmat.primitives.asymmetric import x25519

AGENT_NAME = "sandbox-bank"


def agent_credential_env(state: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(environment for the sandbox bank, environment for the vault)."""
    path = state / "sandbox-agent.key"
    if not path.exists():
        raw = x25519.X25519PrivateKey.generate().private_bytes_raw()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(base64.urlsafe_b64encode(raw).rstrip(b"="))
    encoded = path.read_text().strip()
    private = x25519.X25519PrivateKey.from_private_bytes(
        base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    )
    public = private.public_key()
    kid = "agent-x25519-" + hashlib.sha256(public.public_bytes_raw()).hexdigest()[:16]
    pin = {AGENT_NAME: RecipientKey(kid, public).to_jwk()}
    return {"SANDBOX_BANK_CREDENTIAL_KEY": encoded}, {"VAULT_AGENT_KEYS": json.dumps(pin)}
