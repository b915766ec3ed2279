"""Pure rules: the journal chain, matching, encryption binding, retention, mail addresses."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from archive.domain import mail
from archive.domain.encryption import decrypt, encrypt
from archive.domain.errors import IntegrityMismatch
from archive.domain.journal import GENESIS, JournalEntry, body, chain, verify_chain
from archive.domain.matching import Candidate, Movement, pick_movement, pick_receipt
from archive.domain.receipts import aad, retention_end, retry_delay

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _journal(n: int) -> list[JournalEntry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        detail = {"i": seq}
        digest = chain(prev, body(seq, NOW, f"r{seq}", "u", "read", detail))
        entries.append(JournalEntry(seq, NOW, f"r{seq}", "u", "read", detail, prev, digest))
        prev = digest
    return entries


def test_an_intact_journal_verifies() -> None:
    assert verify_chain(_journal(5)) is None


def test_an_edited_deleted_or_reordered_journal_entry_breaks_the_chain() -> None:
    edited = _journal(5)
    edited[2] = replace(edited[2], action="verified")
    assert verify_chain(edited) == 3
    deleted = _journal(5)
    del deleted[1]
    assert verify_chain(deleted) == 3
    swapped = _journal(5)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    assert verify_chain(swapped) == 3


def _receipt(**kw: object) -> Candidate:
    base = Candidate("r1", "u1", None, None, Decimal("12.50"), "EUR", date(2026, 11, 30))
    return replace(base, **kw)  # type: ignore[arg-type]


def _move(ref: str, amount: str = "-12.50", on: date = date(2026, 12, 1), **kw: object) -> Movement:
    base = Movement("transaction", ref, "u1", Decimal(amount), "EUR", on)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_link_given_at_upload_wins_over_amount_and_date() -> None:
    receipt = _receipt(transaction_ref="tx-linked-1", amount=Decimal("99"))
    found = pick_movement(receipt, [_move("tx-other-01"), _move("tx-linked-1")], 3)
    assert found is not None
    assert found.ref == "tx-linked-1"


def test_a_receipt_matches_the_one_movement_of_its_amount_near_its_date() -> None:
    found = pick_movement(_receipt(), [_move("tx-a"), _move("tx-b", amount="-3.00")], 3)
    assert found is not None
    assert found.ref == "tx-a"


def test_two_candidate_movements_are_ambiguous_and_match_none() -> None:
    assert pick_movement(_receipt(), [_move("tx-a"), _move("tx-b")], 3) is None


def test_a_movement_outside_the_window_or_of_another_member_does_not_match() -> None:
    assert pick_movement(_receipt(), [_move("tx-a", on=date(2026, 12, 10))], 3) is None
    assert pick_movement(_receipt(), [_move("tx-a", user_id="u2")], 3) is None


def test_a_new_movement_finds_its_unmatched_receipt() -> None:
    found = pick_receipt(_move("tx-a"), [_receipt(), _receipt(receipt_id="r2", amount=None)], 3)
    assert found is not None
    assert found.receipt_id == "r1"


def test_a_ciphertext_moved_to_another_receipt_or_member_does_not_decrypt() -> None:
    key, rid = b"k" * 32, uuid.uuid4()
    blob = encrypt(key, b"%PDF-1.7 receipt", aad(rid, "member-1", "sealed"))
    assert decrypt(key, blob, aad(rid, "member-1", "sealed")) == b"%PDF-1.7 receipt"
    for other in (aad(uuid.uuid4(), "member-1", "sealed"), aad(rid, "member-2", "sealed"),
                  aad(rid, "member-1", "original")):  # fmt: skip
        with pytest.raises(IntegrityMismatch):
            decrypt(key, blob, other)


def test_retention_ends_ten_years_later_on_the_same_day() -> None:
    assert retention_end(NOW, 10) == datetime(2036, 12, 1, 10, 0, tzinfo=UTC)
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert retention_end(leap, 10) == datetime(2038, 2, 28, tzinfo=UTC)


def test_retries_back_off_up_to_the_cap() -> None:
    assert [retry_delay(n, 5, 60).total_seconds() for n in (1, 2, 3, 5, 9)] == [5, 10, 20, 60, 60]


def test_receipts_addresses_are_unguessable_and_only_ours() -> None:
    tokens = {mail.new_token() for _ in range(200)}
    assert len(tokens) == 200
    token = tokens.pop()
    assert mail.token_of(f"{token}@receipts.coffre.local", "receipts.coffre.local") == token
    assert mail.token_of(f"<{token.upper()}@Receipts.Coffre.Local>", "receipts.coffre.local")
    assert mail.token_of(f"{token}@evil.example", "receipts.coffre.local") is None
    assert mail.token_of("postmaster@receipts.coffre.local", "receipts.coffre.local") is None


def test_archives_and_attached_messages_are_recognised() -> None:
    assert mail.is_archive("application/zip", "r.zip")
    assert mail.is_archive("application/octet-stream", "receipts.7z")
    assert mail.is_archive("message/rfc822", None)
    assert not mail.is_archive("application/pdf", "r.pdf")
