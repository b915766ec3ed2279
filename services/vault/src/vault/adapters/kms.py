"""KMS adapters: a local key file (the embedded default) and AWS KMS.

Rules:
- ``LocalFileKms`` keeps one AES-256 key (32 raw bytes, or their base64) in a file readable by
  its owner only (0600); the file is created if absent (atomically, never overwritten) and
  refused if others can reach it, or a group other than the vault's own (a Kubernetes Secret
  mounted 0440 with ``fsGroup`` is the vault's group). Ciphertexts are
  ``"CVK1" | key fingerprint (8) | nonce (12) | AES-GCM(ct || tag)`` with the canonical JSON
  of the encryption context as associated data.
- ``AwsKms`` calls ``Encrypt`` / ``Decrypt`` on one key with the encryption context.
- Any KMS fault surfaces as ``KmsUnavailable``, without the KMS's own message.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from common.errors import ConfigurationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.domain.errors import KmsUnavailable

MAGIC = b"CVK1"
_FP = 8
_NONCE = 12


def _context_aad(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


class LocalFileKms:
    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        self.create = create
        self._key: bytes | None = None
        self.key_id = f"local-file:{self.path.name}"

    async def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        key = await self._loaded()
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(key).encrypt(nonce, plaintext, _context_aad(context))
        return MAGIC + _fingerprint(key) + nonce + sealed

    async def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        key = await self._loaded()
        head = len(MAGIC) + _FP
        if ciphertext[: len(MAGIC)] != MAGIC or ciphertext[len(MAGIC) : head] != _fingerprint(key):
            raise KmsUnavailable("the ciphertext was not made with this KMS key")
        try:
            return AESGCM(key).decrypt(
                ciphertext[head : head + _NONCE], ciphertext[head + _NONCE :], _context_aad(context)
            )
        except InvalidTag:
            raise KmsUnavailable("the KMS could not decrypt the key") from None

    async def _loaded(self) -> bytes:
        if self._key is None:
            self._key = await asyncio.to_thread(self.load_or_create)
        return self._key

    def load_or_create(self) -> bytes:
        if not self.path.exists():
            if not self.create:
                raise ConfigurationError(f"KMS key file {self.path} does not exist")
            _create_key_file(self.path)
        info = self.path.stat()
        shared_group = info.st_mode & stat.S_IRWXG and info.st_gid != os.getegid()
        if info.st_mode & stat.S_IRWXO or shared_group:
            raise ConfigurationError(
                f"KMS key file {self.path} must be readable by its owner only (chmod 600)"
            )
        return _parse_key(self.path.read_bytes(), self.path)


def _parse_key(content: bytes, path: Path) -> bytes:
    """32 raw bytes (``head -c 32 /dev/urandom``) or their base64 text (what the vault writes)."""
    if len(content) == 32:
        return content
    try:
        key = base64.b64decode(content.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigurationError(f"KMS key file {path} does not hold a 256-bit key")
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _fingerprint(key: bytes) -> bytes:
    return hashlib.sha256(b"coffre-vault-kms|" + key).digest()[:_FP]


class AwsKms:
    """AWS KMS through a boto3 ``kms`` client (sync calls run in a worker thread)."""

    def __init__(self, client: Any, key_id: str) -> None:
        self.client = client
        self.key_id = key_id

    @classmethod
    def connect(
        cls, key_id: str, *, region: str | None = None, endpoint_url: str | None = None
    ) -> AwsKms:
        import boto3

        return cls(boto3.client("kms", region_name=region, endpoint_url=endpoint_url), key_id)

    async def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        response = await self._call(
            self.client.encrypt,
            KeyId=self.key_id,
            Plaintext=plaintext,
            EncryptionContext=dict(context),
        )
        return bytes(response["CiphertextBlob"])

    async def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        response = await self._call(
            self.client.decrypt,
            KeyId=self.key_id,
            CiphertextBlob=ciphertext,
            EncryptionContext=dict(context),
        )
        return bytes(response["Plaintext"])

    async def _call(self, method: Any, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result: dict[str, Any] = await asyncio.to_thread(method, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise KmsUnavailable(f"AWS KMS refused the call ({code})") from None
        return result
