"""Signed checkpoints of the audit head: only the anchor key's own, unaltered ones verify."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from vault.adapters.anchors import (
    FileAnchorStore,
    load_anchor_public_key,
    load_or_create_anchor_key,
    public_key_file,
)
from vault.domain.anchor import sign
from vault.domain.audit import Head

pytestmark = [pytest.mark.unit]

AT = datetime(2030, 1, 1, tzinfo=UTC)
HEAD = Head(7, "ab" * 32)


def test_a_checkpoint_verifies_only_unaltered_and_under_its_own_key() -> None:
    key = Ed25519PrivateKey.generate()
    checkpoint = sign(key, HEAD, AT)
    assert checkpoint.verifies(key.public_key())
    assert not replace(checkpoint, seq=8).verifies(key.public_key())
    assert not replace(checkpoint, hash="cd" * 32).verifies(key.public_key())
    assert not replace(checkpoint, signature="AAAA").verifies(key.public_key())
    assert not checkpoint.verifies(Ed25519PrivateKey.generate().public_key())


def test_the_anchor_key_file_is_created_once_owner_only_with_its_public_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "vault" / "anchor.key"
    key = load_or_create_anchor_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_anchor_key(path)
    public = load_anchor_public_key(public_key_file(path))
    assert sign(again, HEAD, AT).verifies(public)
    assert sign(key, HEAD, AT) == sign(again, HEAD, AT)


def test_the_latest_anchor_is_the_newest_that_verifies(tmp_path: Path) -> None:
    key, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    store = FileAnchorStore(tmp_path)
    store.save(sign(key, HEAD, AT))
    store.save(sign(forger, Head(9, "ef" * 32), AT))
    (tmp_path / "anchor-000000000000010.json").write_text("{not json")
    latest, rejected = store.latest(key.public_key())
    assert latest is not None
    assert latest.head == HEAD
    assert rejected == ["anchor-000000000000010.json", "anchor-000000000000009.json"]


def test_the_anchor_and_kms_files_default_to_the_given_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process given its own state folder (a test, a bench) never writes its anchors or KMS
    key into the development stack's ``.state``, whose vault would take them for its own."""
    from vault.settings import VaultSettings

    monkeypatch.setenv("COFFRE_STATE_DIR", str(tmp_path))
    for name in ("VAULT_KMS_KEY_FILE", "VAULT_ANCHOR_KEY_FILE", "VAULT_ANCHOR_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = VaultSettings(database_url="postgresql://127.0.0.1/x")
    assert settings.kms_key_file == str(tmp_path / "kms" / "master.key")
    assert settings.anchor_key_file == str(tmp_path / "vault" / "anchor.key")
    assert settings.anchor_dir == str(tmp_path / "vault" / "anchors")
