from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from vault.adapters.memory import MemoryStore
from vault.domain.audit import (
    GENESIS_HASH,
    AuditDraft,
    AuditEntry,
    AuditRequest,
    Head,
    Outcome,
    ProblemKind,
    chain,
    chain_batch,
    verify_chain,
)
from vault.domain.errors import IdentityMissing
from vault.service import audit
from vault.service.context import VaultContext
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret
from vault_unit_helpers import AGGREGATION

pytestmark = pytest.mark.unit

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _log(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        draft = AuditDraft(
            actor="payments",
            action="secret.read",
            outcome=Outcome.ALLOWED,
            subject=f"m{i}",
            purpose="psd2-consent",
            ref="c1",
            detail={"k": i},
        )
        entries.append(chain(entries[-1] if entries else None, draft, T0 + timedelta(seconds=i)))
    return entries


def test_entry_hash_is_sha256_of_previous_hash_and_canonical_json() -> None:
    first, second = _log(2)
    body = json.dumps(second.body(), sort_keys=True, separators=(",", ":")).encode()
    assert second.hash == hashlib.sha256(bytes.fromhex(first.hash) + body).hexdigest()
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert second.body()["at"] == "2030-01-01T00:00:01.000000+00:00"


def test_untouched_chain_verifies() -> None:
    report = verify_chain(_log(10))
    assert report.ok
    assert report.checked == 10
    assert report.head is not None
    assert report.head.seq == 10


def test_edited_row_is_detected() -> None:
    log = _log(10)
    log[4] = replace(log[4], actor="aggregation")
    report = verify_chain(log)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (5, ProblemKind.EDITED)
    assert report.checked == 4


def test_edited_and_rehashed_row_breaks_the_next_link() -> None:
    log = _log(10)
    forged = replace(log[4], outcome=Outcome.DENIED)
    log[4] = replace(forged, hash=forged.computed_hash())
    report = verify_chain(log)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (6, ProblemKind.BROKEN_LINK)


def test_deleted_row_is_detected() -> None:
    log = _log(10)
    del log[3]
    report = verify_chain(log)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (4, ProblemKind.MISSING)


def test_deleted_and_renumbered_rows_are_detected() -> None:
    log = _log(10)
    del log[3]
    log[3:] = [replace(e, seq=e.seq - 1) for e in log[3:]]
    report = verify_chain(log)
    assert report.problem is not None
    assert report.problem.seq == 4


def test_reordered_rows_are_detected() -> None:
    log = _log(10)
    log[2], log[3] = log[3], log[2]
    report = verify_chain(log)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (3, ProblemKind.MISSING)
    swapped = _log(10)
    swapped[2], swapped[3] = replace(swapped[3], seq=3), replace(swapped[2], seq=4)
    assert verify_chain(swapped).problem is not None


def test_cut_tail_is_detected_against_a_known_head() -> None:
    log = _log(10)
    head = Head(log[-1].seq, log[-1].hash)
    assert verify_chain(log[:7]).ok
    report = verify_chain(log[:7], expected_head=head)
    assert report.problem is not None
    assert report.problem.kind is ProblemKind.MISSING
    assert verify_chain(log, expected_head=head).ok


def test_rewritten_chain_is_detected_against_a_known_head() -> None:
    log = _log(5)
    head = Head(5, log[-1].hash)
    forged: list[AuditEntry] = []
    for entry in log:
        draft = AuditDraft(entry.actor, entry.action, entry.outcome, "someone-else")
        forged.append(chain(forged[-1] if forged else None, draft, entry.at))
    assert verify_chain(forged).ok
    report = verify_chain(forged, expected_head=head)
    assert report.problem is not None
    assert report.problem.kind is ProblemKind.HEAD_MISMATCH


@pytest.mark.asyncio
async def test_service_verify_walks_the_stored_log(ctx: VaultContext, store: MemoryStore) -> None:
    ref = SecretRef("member-1", "psd2-consent", "c1")
    await put_secret(ctx, AGGREGATION, ref, SecretValue(plaintext=b"token"))
    await read_secret(ctx, AGGREGATION, ref)
    assert (await audit.verify(ctx)).ok
    store.state.audit[0] = replace(store.state.audit[0], subject="member-2")
    report = await audit.verify(ctx)
    assert report.problem is not None
    assert report.problem.seq == 1


@pytest.mark.asyncio
async def test_caller_without_identity_is_refused_and_audited(
    ctx: VaultContext, store: MemoryStore
) -> None:
    with pytest.raises(IdentityMissing) as err:
        await audit.refuse_unidentified(ctx, "GET /v1/public-keys", "no-token")
    assert err.value.status == 401
    entry = store.state.audit[-1]
    assert (entry.actor, entry.outcome, entry.detail["error"]) == (
        "anonymous",
        Outcome.DENIED,
        "vault.identity-missing",
    )
    assert await audit.head(ctx) == Head(entry.seq, entry.hash)


_AWKWARD = [
    None,
    "",
    "plain",
    'quote " and \\ backslash',
    "line\nbreak\ttab\x00nul\x1f",
    "é ü 中文 🙂",
    "\u2028\u2029",
]


@pytest.mark.parametrize("text", _AWKWARD)
@pytest.mark.parametrize(
    "detail",
    [{}, {"key_id": "k-1"}, {"error": "vault.x"}, {"b": True, "a": 3}, {"n": None},
     {"ids": ["x", "é\n"]}, {"z\"k": "v", "a": "w"}],
)  # fmt: skip
def test_an_entry_hashes_the_canonical_json_of_its_body(
    text: str | None, detail: dict[str, object]
) -> None:
    draft = AuditDraft(
        actor="archive", action=text or "datakey.unwrap", outcome=Outcome.DENIED, subject=text,
        purpose=text, ref=text, operator=text,
        detail={**detail, **({"note": text} if text else {})},  # type: ignore[dict-item]
    )  # fmt: skip
    entry = chain(Head(41, "ab" * 32), draft, T0 + timedelta(microseconds=7))
    expected = json.dumps(entry.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert entry.canonical == expected.encode()
    assert entry.hash == entry.computed_hash()
    assert entry.hash == hashlib.sha256(bytes.fromhex("ab" * 32) + expected.encode()).hexdigest()


def test_a_batch_chains_exactly_as_entries_chained_one_by_one() -> None:
    drafts = [
        AuditDraft("archive", "datakey.unwrap", Outcome.ALLOWED, f"m{i}", "document", f"d{i}",
                   detail={"key_id": f"k{i}"})
        for i in range(6)
    ]  # fmt: skip
    at = T0.astimezone(timezone(timedelta(hours=2)))
    requests = [
        AuditRequest(d, at if i < 3 else T0 + timedelta(seconds=1)) for i, d in enumerate(drafts)
    ]
    head = Head(9, "cd" * 32)
    batched = chain_batch(head, requests, skip={2})
    one_by_one: list[AuditEntry] = []
    previous: AuditEntry | Head = head
    for i, request in enumerate(requests):
        if i != 2:
            previous = chain(previous, request.draft, request.at)
            one_by_one.append(previous)
    assert batched[2] is None
    assert [e for e in batched if e is not None] == one_by_one
    assert [e.seq for e in one_by_one] == [10, 11, 12, 13, 14]
    assert all(e.hash == e.computed_hash() for e in one_by_one)
