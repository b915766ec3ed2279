"""AES-256-GCM envelopes and the associated data that binds each ciphertext to its record.

Rules:
- A secret is encrypted under its subject's data key with AAD ``subject|purpose|secret_id|version``
  (``version`` is the data key's version), so a ciphertext moved to another record fails to open.
- A data key is wrapped under a master key version with AAD
  ``data-key|subject|key_id|version|master_version``.
- Every envelope is ``nonce (12 bytes) || ciphertext || tag (16 bytes)`` with a fresh random nonce.
- A failed open is always ``CiphertextRejected``: the caller learns nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.domain.errors import CiphertextRejected

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def secret_aad(subject: str, purpose: str, secret_id: str, key_version: int) -> bytes:
    return f"{subject}|{purpose}|{secret_id}|{key_version}".encode()


def data_key_aad(subject: str, key_id: str, key_version: int, master_version: int) -> bytes:
    return f"data-key|{subject}|{key_id}|{key_version}|{master_version}".encode()


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise CiphertextRejected()
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise CiphertextRejected() from None


Opener = Callable[[bytes, bytes], bytes]
"""Opens an envelope (``blob``, ``aad``) under one key, as ``open_sealed`` does."""


def opener(key: bytes) -> Opener:
    """``open_sealed`` under one key with its cipher set up once, for many envelopes."""
    aead = AESGCM(key)

    def open_one(blob: bytes, aad: bytes) -> bytes:
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise CiphertextRejected()
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag:
            raise CiphertextRejected() from None

    return open_one
