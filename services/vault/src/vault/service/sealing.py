"""The vault's sealing keys: publish the public halves, open values sealed with them.

Rules:
- The vault keeps one active X25519 (HPKE) key and one active RSA-3072 key; their private
  halves exist in clear only in this process's memory, opened through the KMS.
- A sealed value opens only for the subject and purpose it was sealed for; any fault is
  ``CiphertextRejected``, an unknown or retired kid ``SealingKeyUnknown``.
"""

from __future__ import annotations

import secrets as pysecrets

from common.security import client_encryption as ce
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa, x25519

from vault.domain.errors import CiphertextRejected, SealingKeyUnknown
from vault.domain.sealing import SealingKey, sealing_kms_context
from vault.service.context import VaultContext
from vault.service.ports import UnitOfWork

RSA_BITS = 3072


async def ensure_keys(ctx: VaultContext) -> list[SealingKey]:
    """Create the missing active sealing keys (one per algorithm); return the active ones."""
    async with ctx.uow() as uow:
        keys = [k for k in await uow.sealing_keys.all() if k.active]
        for alg in ce.Alg:
            if not any(k.alg is alg for k in keys):
                keys.append(await _create(ctx, uow, alg))
        await uow.commit()
    return keys


async def _create(ctx: VaultContext, uow: UnitOfWork, alg: ce.Alg) -> SealingKey:
    now = ctx.clock.now()
    family = "x25519" if alg is ce.Alg.HPKE_X25519 else "rsa"
    kid = f"seal-{family}-{now:%Y%m%d}-{pysecrets.token_hex(4)}"
    private: ce.PrivateKey
    if alg is ce.Alg.HPKE_X25519:
        private = x25519.X25519PrivateKey.generate()
        raw = private.private_bytes_raw()
        public = private.public_key().public_bytes_raw()
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        raw = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    wrapped = await ctx.keyring.kms.encrypt(raw, sealing_kms_context(kid))
    key = SealingKey(kid, alg, public, wrapped, now)
    await uow.sealing_keys.add(key)
    ctx.keyring.sealing[kid] = private
    return key


def recipient(key: SealingKey) -> ce.RecipientKey:
    if key.alg is ce.Alg.HPKE_X25519:
        return ce.RecipientKey(key.kid, x25519.X25519PublicKey.from_public_bytes(key.public_key))
    public = serialization.load_der_public_key(key.public_key)
    assert isinstance(public, rsa.RSAPublicKey)
    return ce.RecipientKey(key.kid, public)


async def public_keys(ctx: VaultContext) -> list[ce.RecipientKey]:
    async with ctx.uow() as uow:
        keys = await uow.sealing_keys.all()
    return [recipient(k) for k in keys if k.active]


async def open_value(
    ctx: VaultContext, uow: UnitOfWork, sealed: bytes, subject: str, purpose: str
) -> bytes:
    try:
        kid = ce.parse_envelope(sealed).kid
    except ce.SealRejected:
        raise CiphertextRejected() from None
    private = await _private_key(ctx, uow, kid)
    try:
        return ce.open_sealed(sealed, private, subject=subject, purpose=purpose)
    except ce.SealRejected:
        raise CiphertextRejected() from None


async def _private_key(ctx: VaultContext, uow: UnitOfWork, kid: str) -> ce.PrivateKey:
    key = await uow.sealing_keys.get(kid)
    if key is None or not key.active:
        raise SealingKeyUnknown()
    cached = ctx.keyring.sealing.get(kid)
    if cached is not None:
        return cached
    raw = await ctx.keyring.kms.decrypt(key.wrapped_private, sealing_kms_context(kid))
    private: ce.PrivateKey
    if key.alg is ce.Alg.HPKE_X25519:
        private = x25519.X25519PrivateKey.from_private_bytes(raw)
    else:
        loaded = serialization.load_der_private_key(raw, password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        private = loaded
    ctx.keyring.sealing[kid] = private
    return private
