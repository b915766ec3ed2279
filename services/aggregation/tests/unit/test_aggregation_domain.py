"""Pure rules: labels, reconciliation, limits, references, cursors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from aggregation.domain.feed import decode_cursor, encode_cursor
from aggregation.domain.limits import next_unattended_slot, retry_delay, unattended_allowed
from aggregation.domain.refs import RefKeys, state_digest
from aggregation.domain.transactions import (
    MinimalTransaction,
    StoredTransaction,
    TxStatus,
    clean_label,
    reconcile,
)

pytestmark = pytest.mark.unit
DAY = date(2026, 3, 2)


def tx(
    ref: str, status: TxStatus = TxStatus.BOOKED, amount: str = "-10.00", **kw: object
) -> MinimalTransaction:
    values = {"booking_date": DAY, "currency": "EUR", "label": "CB SHOP"} | kw
    return MinimalTransaction(ref, status, amount=Decimal(amount), **values)  # type: ignore[arg-type]


def held(t: MinimalTransaction, version: int = 1, removed: bool = False) -> StoredTransaction:
    return StoredTransaction(t, "acc_x", "u1", version, version, removed)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("VIR SEPA FR7630006000011234567890189 LOYER", "VIR SEPA [account] LOYER"),
        ("VIR FR76 3000 6000 0112 3456 7890 189", "VIR [account]"),
        ("CB 4970101234567890 MONOPRIX", "CB [number] MONOPRIX"),
        ("CB  MONOPRIX\n21/11\tPARIS", "CB MONOPRIX 21/11 PARIS"),
        ("X" * 300, "X" * 140),
    ],
)
def test_labels_never_keep_account_or_card_numbers(raw: str, expected: str) -> None:
    assert clean_label(raw) == expected


def test_same_transaction_twice_in_one_read_is_added_once() -> None:
    changes = reconcile({}, [tx("a", TxStatus.PENDING), tx("a")])
    assert [(t.transaction_ref, t.status) for t in changes.added] == [("a", TxStatus.BOOKED)]


def test_known_unchanged_transaction_changes_nothing() -> None:
    assert reconcile({"a": held(tx("a"))}, [tx("a")]).count == 0


def test_pending_that_booked_is_modified() -> None:
    old = held(tx("a", TxStatus.PENDING))
    changes = reconcile({"a": old}, [tx("a", booking_date=DAY + timedelta(days=1))])
    assert changes.modified == [(old, tx("a", booking_date=DAY + timedelta(days=1)))]
    assert changes.added == []


def test_booked_never_goes_back_to_pending() -> None:
    assert reconcile({"a": held(tx("a"))}, [tx("a", TxStatus.PENDING)]).count == 0


def test_amount_change_is_modified() -> None:
    changes = reconcile({"a": held(tx("a"))}, [tx("a", amount="-12.00")])
    assert len(changes.modified) == 1


def test_vanished_pending_is_removed_only_after_a_complete_read() -> None:
    pending = held(tx("p", TxStatus.PENDING))
    assert reconcile({}, [], pending_in_window=[pending]).removed == []
    assert reconcile({}, [], pending_in_window=[pending], complete=True).removed == [pending]
    booked = held(tx("b"))
    assert reconcile({}, [], pending_in_window=[booked], complete=True).removed == []


def test_removed_transaction_reported_again_is_added_afresh() -> None:
    gone = held(tx("a", TxStatus.PENDING), removed=True)
    assert reconcile({"a": gone}, [tx("a")]).added == [tx("a")]


def test_four_unattended_pulls_fit_in_a_day_not_five() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    pulls = [now - timedelta(hours=h) for h in (1, 2, 3, 4)]
    assert not unattended_allowed(pulls, now, 4)
    assert unattended_allowed(pulls[:3], now, 4)
    assert unattended_allowed([*pulls[:3], now - timedelta(hours=25)], now, 4)
    assert next_unattended_slot(pulls, now, 4) == now + timedelta(hours=20)


def test_unattended_pulls_are_spaced_evenly() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert next_unattended_slot([now], now, 4) == now + timedelta(hours=6)
    assert next_unattended_slot([], now, 4) == now + timedelta(hours=6)


def test_retry_delay_grows_is_capped_and_honours_retry_after() -> None:
    base, cap = timedelta(minutes=2), timedelta(hours=2)
    assert [retry_delay(n, base, cap).seconds // 60 for n in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(20, base, cap) == cap
    assert retry_delay(1, base, cap, timedelta(hours=5)) == timedelta(hours=5)


def test_references_are_stable_opaque_and_bound_to_the_member() -> None:
    keys = RefKeys(b"k" * 32)
    ref = keys.account_ref("u1", "res-1")
    assert ref == keys.account_ref("u1", "res-1") != keys.account_ref("u2", "res-1")
    assert ref != RefKeys(b"j" * 32).account_ref("u1", "res-1")
    assert "res-1" not in ref
    assert keys.transaction_ref(ref, "t1") != keys.transaction_ref(ref, "t2")
    assert len(state_digest("s")) == 32


def test_reference_key_must_be_long_enough() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        RefKeys(b"short")


def test_cursor_round_trips_and_empty_means_the_beginning() -> None:
    assert decode_cursor(encode_cursor(1234)) == 1234
    assert decode_cursor(None) == decode_cursor("") == 0
