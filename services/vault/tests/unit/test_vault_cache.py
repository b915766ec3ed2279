from __future__ import annotations

from datetime import timedelta

import pytest
from vault.adapters.clock import ManualClock
from vault.adapters.memory import FakeKms, MemoryStore
from vault.bootstrap import build_context
from vault.domain.errors import KmsUnavailable
from vault.service.cache import DataKeyCache
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret
from vault_unit_helpers import AGGREGATION, PAYMENTS

pytestmark = pytest.mark.unit


def test_entry_expires_after_its_ttl(clock: ManualClock) -> None:
    cache = DataKeyCache(clock, ttl_seconds=60, max_uses=100)
    cache.put("k", b"key")
    clock.advance(timedelta(seconds=59))
    assert cache.get("k") == b"key"
    clock.advance(timedelta(seconds=1))
    assert cache.get("k") is None
    assert len(cache) == 0


def test_entry_is_served_at_most_max_uses_times(clock: ManualClock) -> None:
    cache = DataKeyCache(clock, ttl_seconds=60, max_uses=3)
    cache.put("k", b"key")
    assert [cache.get("k") for _ in range(4)] == [b"key", b"key", b"key", None]
    assert (cache.hits, cache.misses) == (3, 1)


def test_oldest_entry_goes_first_when_full(clock: ManualClock) -> None:
    cache = DataKeyCache(clock, max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(name, name.encode())
    assert cache.get("a") is None
    assert cache.get("c") == b"c"
    assert len(cache) == 2


def test_evict_and_disabled_cache(clock: ManualClock) -> None:
    cache = DataKeyCache(clock)
    cache.put("k", b"key")
    cache.evict("k")
    assert cache.get("k") is None
    disabled = DataKeyCache(clock, max_uses=0)
    disabled.put("k", b"key")
    assert disabled.get("k") is None


@pytest.mark.asyncio
async def test_master_key_is_opened_through_the_kms_once_per_process(
    store: MemoryStore, clock: ManualClock
) -> None:
    kms = FakeKms()
    ref = SecretRef("member-1", "psd2-consent", "c1")
    await put_secret(
        build_context(store.uow, kms, clock=clock), AGGREGATION, ref, SecretValue(plaintext=b"t")
    )
    ctx = build_context(store.uow, kms, clock=clock, cache_max_uses=2)
    for _ in range(5):
        assert await read_secret(ctx, PAYMENTS, ref) == b"t"
    assert kms.decrypts == 1
    assert ctx.keyring.cache.hits == 3


@pytest.mark.asyncio
async def test_kms_outage_is_a_503_never_a_plaintext_leak(
    store: MemoryStore, clock: ManualClock
) -> None:
    kms = FakeKms()
    ref = SecretRef("member-1", "psd2-consent", "c1")
    await put_secret(
        build_context(store.uow, kms, clock=clock), AGGREGATION, ref, SecretValue(plaintext=b"t")
    )
    kms.fail = True
    with pytest.raises(KmsUnavailable) as err:
        await read_secret(build_context(store.uow, kms, clock=clock), PAYMENTS, ref)
    assert err.value.status == 503
    assert store.state.audit[-1].detail == {"error": "vault.kms-unavailable"}
