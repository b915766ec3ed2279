"""Receipt encryption: AES-256-GCM under the receipt's document key.

Rules: a blob is `nonce(12) || ciphertext || tag(16)`, the associated data binds it to its
receipt, member and part, so a blob moved to another receipt or member never decrypts.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.domain.errors import IntegrityMismatch

NONCE_BYTES = 12


def encrypt(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def decrypt(key: bytes, blob: bytes, associated: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
    except (InvalidTag, ValueError):
        raise IntegrityMismatch("the stored object does not decrypt for this receipt") from None
