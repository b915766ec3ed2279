from __future__ import annotations

import pytest
from common.security import client_encryption as ce
from vault.adapters.memory import FakeKms, MemoryStore
from vault.bootstrap import build_context
from vault.service import sealing
from vault.service.context import VaultContext

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_vault_publishes_one_hpke_and_one_rsa_key(ctx: VaultContext) -> None:
    await sealing.ensure_keys(ctx)
    await sealing.ensure_keys(ctx)
    keys = await sealing.public_keys(ctx)
    assert sorted(k.alg for k in keys) == [ce.Alg.HPKE_X25519, ce.Alg.RSA_OAEP_256]
    assert all(k.kid.startswith("seal-") for k in keys)


async def test_private_sealing_keys_are_stored_only_wrapped(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await sealing.ensure_keys(ctx)
    for key in store.state.sealing.values():
        private = ctx.keyring.sealing[key.kid]
        if isinstance(private, ce.x25519.X25519PrivateKey):
            assert private.private_bytes_raw() not in key.wrapped_private


async def test_another_process_opens_values_with_the_stored_key(
    ctx: VaultContext, store: MemoryStore, kms: FakeKms
) -> None:
    [x_key] = [k for k in await sealing.ensure_keys(ctx) if k.alg is ce.Alg.HPKE_X25519]
    sealed = ce.seal(b"v", sealing.recipient(x_key), subject="m", purpose="bank-credentials")
    other = build_context(store.uow, kms)
    async with other.uow() as uow:
        assert await sealing.open_value(other, uow, sealed, "m", "bank-credentials") == b"v"
    assert kms.decrypts == 1
