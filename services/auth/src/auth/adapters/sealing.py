"""Sealing secrets at rest (TOTP secrets, signing keys) with AES-256-GCM.

Rules: the key is derived (HKDF-SHA-256) from the configured key-encryption key; every sealed
value has a fresh 96-bit nonce and is bound to what it is (``aad``: purpose and owner id), so a
sealed value copied onto another row does not open.
"""

from __future__ import annotations

import os

from common.errors import CoffreError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"


class SealBroken(CoffreError):
    code = "auth.seal-broken"
    status = 500
    title = "A sealed value could not be opened"


class SecretBox:
    def __init__(self, key_material: bytes) -> None:
        if len(key_material) < 32:
            raise ValueError("the key-encryption key must be at least 32 bytes")
        key = HKDF(hashes.SHA256(), 32, salt=None, info=b"coffre-auth-seal-v1").derive(key_material)
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: str) -> bytes:
        nonce = os.urandom(12)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad.encode())

    def open(self, sealed: bytes, aad: str) -> bytes:
        if sealed[:1] != VERSION or len(sealed) < 29:
            raise SealBroken()
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], aad.encode())
        except InvalidTag:
            raise SealBroken() from None
