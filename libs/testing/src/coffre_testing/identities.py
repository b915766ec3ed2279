"""Service identities for tests: Ed25519 keys, and a trust folder holding only the trusted ones.

Rule: an identity listed in ``untrusted`` gets its keys like any other but its public key is
never put in ``trust/`` — the vault in a test refuses its tokens, as it would an intruder's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from common.security.service_identity import generate_identity


def trusted_identities(folder: Path, *trusted: str, untrusted: Sequence[str] = ()) -> Path:
    """Generate the identities in ``folder`` and their ``trust/`` folder; returns ``folder``."""
    trust = folder / "trust"
    trust.mkdir(parents=True, exist_ok=True)
    for name in (*trusted, *untrusted):
        generate_identity(name, folder)
    for name in trusted:
        (trust / f"{name}.pub.pem").write_bytes((folder / f"{name}.pub.pem").read_bytes())
    return folder
