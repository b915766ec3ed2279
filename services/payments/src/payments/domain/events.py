"""Each transition of a payment as the event that tells the platform about it.

Rules: one lifecycle event per transition (it carries the author: the audit trail), plus
``PaymentInitiated`` when screening starts (fraud scores it) and ``PaymentExecuted`` when the
bank reports the money moved. Payees and accounts appear only as keyed hashes. Every event
is keyed by the payment id (one payment's events in order), except ``PaymentInitiated``, keyed
by the debited account like aggregation's ``TransactionIngested``: fraud's replicas each own
the accounts of their partitions, and the account key brings an account's payments and bank
transactions to the same partition number, so to the same replica (``event_key``).
"""

from __future__ import annotations

from common.events import Event
from common.events import payments as ev

from payments.domain.payment import AuditEntry, Payment, State

_BY_STATE: dict[State, type[ev.PaymentTransition]] = {
    State.AUTHORISED: ev.PaymentAuthorised,
    State.HELD: ev.PaymentHeld,
    State.CLEARED: ev.PaymentCleared,
    State.SUBMITTING: ev.PaymentSubmissionStarted,
    State.SUBMITTED: ev.PaymentSubmitted,
    State.REJECTED: ev.PaymentRejected,
    State.CANCELLED: ev.PaymentCancelled,
    State.EXPIRED: ev.PaymentExpired,
}


def event_key(payment: Payment, event: Event) -> str:
    """The Kafka key ``event`` is published with (see the module's rules)."""
    return payment.account_ref if isinstance(event, ev.PaymentInitiated) else payment.payment_id


def events_for(payment: Payment, entry: AuditEntry) -> list[Event]:
    common = {
        "payment_id": payment.payment_id,
        "state": entry.state.value,
        "previous_state": entry.previous.value if entry.previous else None,
        "actor_kind": entry.actor.kind.value,
        "actor_id": entry.actor.id,
        "session_id": entry.actor.session_id,
        "device_id": entry.actor.device_id,
        "authorisation_id": entry.authorisation_id,
        "decision": entry.decision,
        "reason": entry.reason,
        "at": entry.at,
    }
    if entry.previous is None:
        return [ev.PaymentCreated(**common, **_money(payment), kind=payment.kind.value)]
    if entry.state is State.SCREENING:
        return [_initiated(payment)]
    if entry.state is State.EXECUTED:
        return [
            ev.PaymentExecuted(
                payment_id=payment.payment_id,
                kind=payment.kind.value,
                executed_at=entry.at,
                **_money(payment),
            )
        ]
    return [_BY_STATE[entry.state](**common)]


def _money(payment: Payment) -> dict[str, str]:
    return {
        "account_ref": payment.account_ref,
        "amount": payment.money.text(),
        "currency": payment.money.currency,
        "payee_ref": payment.payee_ref,
    }


def _initiated(payment: Payment) -> ev.PaymentInitiated:
    return ev.PaymentInitiated(
        payment_id=payment.payment_id,
        initiated_at=payment.created_at,
        device_id=payment.device_id,
        **_money(payment),
    )
