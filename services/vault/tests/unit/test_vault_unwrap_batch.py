"""Batch unwraps decided set-based: each item answered and audited as if it came alone."""

from __future__ import annotations

import pytest
from vault.adapters.clock import ManualClock
from vault.adapters.memory import FakeKms, MemoryStore
from vault.bootstrap import build_context
from vault.domain.audit import Outcome, verify_chain
from vault.domain.policy import Policy
from vault.service.context import VaultContext
from vault.service.datakeys import UnwrapItem, generate_data_key, unwrap_data_key, unwrap_many
from vault.service.erasure import erase_subject
from vault_unit_helpers import ARCHIVE

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_a_batch_mixing_allowed_and_refused_keys_gives_each_its_own_answer_and_entry(
    ctx: VaultContext, store: MemoryStore
) -> None:
    one = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    two = await generate_data_key(ctx, ARCHIVE, "member-2", "document")
    gone = await generate_data_key(ctx, ARCHIVE, "member-3", "document")
    await erase_subject(ctx, "member-3", "req-1")
    tampered = one.wrapped[:-1] + bytes([one.wrapped[-1] ^ 1])
    items = [
        UnwrapItem("member-1", "document", one.wrapped),
        UnwrapItem("member-1", "psd2-consent", one.wrapped),  # archive may not: denied
        UnwrapItem("member|1", "document", one.wrapped),  # not a name
        UnwrapItem("member-2", "document", two.wrapped),
        UnwrapItem("member-3", "document", gone.wrapped),  # erased
        UnwrapItem("member-2", "document", one.wrapped),  # another subject's token
        UnwrapItem("member-1", "document", tampered),
        UnwrapItem("member-1", "document", b"junk"),
        UnwrapItem("member-1", "document", one.wrapped),
    ]
    before = len(store.state.audit)
    results = await unwrap_many(ctx, ARCHIVE, items)
    answers = [getattr(r, "code", None) or r.plaintext for r in results]  # type: ignore[union-attr]
    assert answers == [
        one.plaintext, "vault.policy-denied", "vault.name-invalid", two.plaintext,
        "vault.subject-erased", "vault.ciphertext-invalid", "vault.ciphertext-invalid",
        "vault.ciphertext-invalid", one.plaintext,
    ]  # fmt: skip
    entries = store.state.audit[before:]
    assert [(e.subject, e.outcome, e.ref, e.detail) for e in entries] == [
        ("member-1", Outcome.ALLOWED, one.document_key_id, {"key_id": entries[0].detail["key_id"]}),
        ("member-1", Outcome.DENIED, None, {"error": "vault.policy-denied"}),
        ("member|1", Outcome.FAILED, None, {"error": "vault.name-invalid"}),
        ("member-2", Outcome.ALLOWED, two.document_key_id, {"key_id": entries[3].detail["key_id"]}),
        ("member-3", Outcome.FAILED, gone.document_key_id, {"error": "vault.subject-erased"}),
        ("member-2", Outcome.FAILED, one.document_key_id, {"error": "vault.ciphertext-invalid"}),
        ("member-1", Outcome.FAILED, one.document_key_id, {"error": "vault.ciphertext-invalid"}),
        ("member-1", Outcome.FAILED, None, {"error": "vault.ciphertext-invalid"}),
        ("member-1", Outcome.ALLOWED, one.document_key_id, {"key_id": entries[0].detail["key_id"]}),
    ]
    assert verify_chain(store.state.audit).ok


async def test_each_item_of_a_batch_gets_the_answer_it_would_get_alone(
    ctx: VaultContext, store: MemoryStore
) -> None:
    made = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    other = await generate_data_key(ctx, ARCHIVE, "member-2", "document")
    items = [
        UnwrapItem("member-1", "document", made.wrapped),
        UnwrapItem("member-1", "bad purpose", made.wrapped),
        UnwrapItem("member-2", "document", made.wrapped),
        UnwrapItem("member-2", "document", other.wrapped),
    ]
    batched = await unwrap_many(ctx, ARCHIVE, items)
    alone = [(await unwrap_many(ctx, ARCHIVE, [item]))[0] for item in items]
    assert [repr(r) for r in batched] == [repr(r) for r in alone]
    entries = [(e.outcome, e.subject, e.purpose, e.ref, e.detail) for e in store.state.audit[2:]]
    assert entries[:4] == entries[4:]


async def test_a_batch_takes_one_cached_key_use_per_item(
    store: MemoryStore, kms: FakeKms, clock: ManualClock
) -> None:
    ctx = build_context(store.uow, kms, clock=clock, cache_max_uses=10)
    made = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    item = UnwrapItem("member-1", "document", made.wrapped)
    await unwrap_many(ctx, ARCHIVE, [item] * 4)
    assert len(ctx.keyring.cache) == 1
    await unwrap_many(ctx, ARCHIVE, [item] * 6)  # the 10th use: the key leaves the cache
    assert len(ctx.keyring.cache) == 0
    results = await unwrap_many(ctx, ARCHIVE, [item] * 11)  # more than a cache entry serves
    assert {r.plaintext for r in results} == {made.plaintext}  # type: ignore[union-attr]
    assert len(ctx.keyring.cache) == 0


async def test_a_purpose_refused_once_is_refused_for_every_item_of_the_batch(
    store: MemoryStore, kms: FakeKms, clock: ManualClock
) -> None:
    policy = Policy.parse("archive:document:datakey.generate")
    ctx = build_context(store.uow, kms, clock=clock, policy=policy)
    made = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    results = await unwrap_many(
        ctx, ARCHIVE, [UnwrapItem("member-1", "document", made.wrapped)] * 3
    )
    assert [getattr(r, "code", None) for r in results] == ["vault.policy-denied"] * 3
    assert [e.outcome for e in store.state.audit[1:]] == [Outcome.DENIED] * 3
    with pytest.raises(Exception, match="may not"):
        await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", made.wrapped)
