"""Audit anchors on disk: the Ed25519 anchor key file and a folder of signed checkpoints.

Rules:
- The anchor key is a PKCS#8 PEM file readable by its owner only (0600), created on first use
  (atomically, never overwritten); its public key is written beside it (``.pub.pem``), which is
  all a verifier needs.
- Each checkpoint is its own file, ``anchor-<seq>.json``, written to a temporary name and
  renamed, so a crash never leaves half a checkpoint; existing files are never rewritten.
- ``latest`` is the checkpoint with the highest ``seq`` whose signature holds under the given
  public key; files that do not parse or verify are reported, never trusted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from vault.domain.anchor import Checkpoint


def public_key_file(key_file: str | Path) -> Path:
    path = Path(key_file)
    return path.with_name(path.stem + ".pub.pem")


def load_or_create_anchor_key(key_file: str | Path) -> Ed25519PrivateKey:
    path = Path(key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_anchor_key(path)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        public_key_file(path).write_bytes(public)
    loaded = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError("the anchor key file does not hold an Ed25519 key")
    return loaded


def load_anchor_public_key(path: str | Path) -> Ed25519PublicKey:
    loaded = load_pem_public_key(Path(path).read_bytes())
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError("the anchor public key file does not hold an Ed25519 key")
    return loaded


class FileAnchorStore:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def save(self, checkpoint: Checkpoint) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"anchor-{checkpoint.seq:015d}.json"
        if target.exists():
            return target
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(checkpoint.to_json(), sort_keys=True))
        os.replace(temporary, target)
        return target

    def latest(self, public_key: Ed25519PublicKey) -> tuple[Checkpoint | None, list[str]]:
        """The newest checkpoint that verifies, and the names of files that did not."""
        rejected = []
        for path in sorted(self.folder.glob("anchor-*.json"), reverse=True):
            try:
                checkpoint = Checkpoint.from_json(json.loads(path.read_text()))
            except (ValueError, KeyError, TypeError):
                rejected.append(path.name)
                continue
            if checkpoint.verifies(public_key):
                return checkpoint, rejected
            rejected.append(path.name)
        return None, rejected
