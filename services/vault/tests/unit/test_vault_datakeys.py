from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from vault.adapters.memory import MemoryStore
from vault.domain.audit import Outcome
from vault.domain.errors import CiphertextRejected, Erased, PolicyDenied
from vault.service.context import VaultContext
from vault.service.datakeys import destroy_data_keys, generate_data_key, unwrap_data_key
from vault.service.erasure import erase_subject
from vault_unit_helpers import ARCHIVE, PAYMENTS

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_generated_key_encrypts_a_document_and_unwraps_to_the_same_key(
    ctx: VaultContext,
) -> None:
    generated = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    assert len(generated.plaintext) == 32
    assert generated.plaintext not in generated.wrapped
    sealed = AESGCM(generated.plaintext).encrypt(b"\x00" * 12, b"receipt.pdf", None)
    unwrapped = await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", generated.wrapped)
    assert unwrapped.plaintext == generated.plaintext
    assert AESGCM(unwrapped.plaintext).decrypt(b"\x00" * 12, sealed, None) == b"receipt.pdf"


async def test_generate_and_unwrap_are_audited(ctx: VaultContext, store: MemoryStore) -> None:
    generated = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", generated.wrapped)
    actions = [(e.action, e.ref, e.outcome) for e in store.state.audit]
    assert actions == [
        ("datakey.generate", generated.document_key_id, Outcome.ALLOWED),
        ("datakey.unwrap", generated.document_key_id, Outcome.ALLOWED),
    ]


async def test_only_archive_may_ask_for_document_keys(ctx: VaultContext) -> None:
    generated = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    with pytest.raises(PolicyDenied):
        await generate_data_key(ctx, PAYMENTS, "member-1", "document")
    with pytest.raises(PolicyDenied):
        await unwrap_data_key(ctx, PAYMENTS, "member-1", "document", generated.wrapped)


async def test_a_token_does_not_unwrap_for_another_subject(ctx: VaultContext) -> None:
    generated = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    await generate_data_key(ctx, ARCHIVE, "member-2", "document")
    with pytest.raises(CiphertextRejected):
        await unwrap_data_key(ctx, ARCHIVE, "member-2", "document", generated.wrapped)


async def test_a_tampered_token_is_rejected(ctx: VaultContext) -> None:
    generated = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    for index in (0, 5, 18, 30, len(generated.wrapped) - 1):
        tampered = bytearray(generated.wrapped)
        tampered[index] ^= 0x40
        with pytest.raises(CiphertextRejected):
            await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", bytes(tampered))


async def test_documents_of_an_erased_member_cannot_be_unwrapped(ctx: VaultContext) -> None:
    generated = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    await erase_subject(ctx, "member-1", "req-1")
    with pytest.raises(Erased) as err:
        await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", generated.wrapped)
    assert err.value.status == 410
    with pytest.raises(Erased):
        await generate_data_key(ctx, ARCHIVE, "member-1", "document")


async def test_destroying_a_document_subject_shreds_its_documents_and_no_other(
    ctx: VaultContext,
) -> None:
    shredded = await generate_data_key(ctx, ARCHIVE, "archive-receipt-1", "document")
    kept = await generate_data_key(ctx, ARCHIVE, "archive-receipt-2", "document")
    assert await destroy_data_keys(ctx, ARCHIVE, "archive-receipt-1", "document") == 1
    assert await destroy_data_keys(ctx, ARCHIVE, "archive-receipt-1", "document") == 1
    with pytest.raises(Erased):
        await unwrap_data_key(ctx, ARCHIVE, "archive-receipt-1", "document", shredded.wrapped)
    again = await unwrap_data_key(ctx, ARCHIVE, "archive-receipt-2", "document", kept.wrapped)
    assert again.plaintext == kept.plaintext


async def test_a_service_may_destroy_only_its_own_document_subjects(ctx: VaultContext) -> None:
    await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    with pytest.raises(PolicyDenied):
        await destroy_data_keys(ctx, ARCHIVE, "member-1", "document")
    with pytest.raises(PolicyDenied):
        await destroy_data_keys(ctx, PAYMENTS, "archive-receipt-1", "document")


def test_the_batch_answer_has_exactly_the_shape_its_model_documents() -> None:
    import json

    from vault.entrypoints import schemas as s
    from vault.entrypoints.answers import unwrap_batch_body
    from vault.service.datakeys import GeneratedKey, Unwrapped

    results: list[Unwrapped] = [
        GeneratedKey("doc-1", b"\x01" * 32, b"w"),
        CiphertextRejected(),
        Erased(),
    ]
    answer = unwrap_batch_body(results)
    documented = s.UnwrapBatchOut(
        batch_results=[
            s.UnwrapResult(document_key_id="doc-1", plaintext=s.b64u(b"\x01" * 32)),
            s.UnwrapResult(error=s.ItemError(code="vault.ciphertext-invalid", status=422,
                                             title=CiphertextRejected.title)),
            s.UnwrapResult(error=s.ItemError(code="vault.subject-erased", status=410,
                                             title=Erased.title)),
        ]
    )  # fmt: skip
    assert json.loads(answer) == documented.model_dump(mode="json")
    assert s.UnwrapBatchOut.model_validate_json(answer) == documented


def test_the_single_unwrap_answer_is_the_bytes_its_model_serialises_to() -> None:
    from vault.entrypoints import schemas as s
    from vault.entrypoints.answers import data_key_body

    key_id, plaintext = "0b4f1a52-5d0e-4c1e-9f3c-2a7d8e6b1c90", s.b64u(b"\xfe" * 32)
    documented = s.DataKeyOut(document_key_id=key_id, plaintext=plaintext)
    assert data_key_body(key_id, plaintext) == documented.model_dump_json().encode()


def test_a_batch_items_base64url_decodes_as_the_single_call_does() -> None:
    from vault.entrypoints import schemas as s

    samples = ["", "AQ", "AQI", "AQID", "-_-_", "dA==", "d A", "!!", "é", "A", "AQ=", "AQ==="]
    for text in samples:
        try:
            expected = s.from_b64u(text, "wrapped")
        except Exception:
            expected = b""
        assert s.from_b64u_or_empty(text) == expected, text
