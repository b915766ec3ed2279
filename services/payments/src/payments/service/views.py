"""What the member sees of a payment, a consent and an audit entry (JSON-ready dicts).

Rule: never a full IBAN here except the payee inside ``operation`` of the creation answer,
which is the member's own input and is not stored (a replay puts it back from the request).
"""

from __future__ import annotations

from typing import Any

from payments.domain.consent import PaymentConsent
from payments.domain.payment import AuditEntry, Payment


def payment_view(p: Payment) -> dict[str, Any]:
    return {
        "payment_id": p.payment_id,
        "kind": p.kind.value,
        "state": p.state.value,
        "account_ref": p.account_ref,
        "consent_id": p.consent_id,
        "amount": p.money.text(),
        "currency": p.money.currency,
        "creditor": {"name": p.payee_name, "iban_masked": p.payee_masked, "payee_ref": p.payee_ref},
        "remittance": p.remittance,
        "created_at": p.created_at.isoformat(),
        "updated_at": (p.updated_at or p.created_at).isoformat(),
        "authorise_by": p.authorise_by.isoformat(),
        "authorisation_id": p.authorisation_id,
        "decision": p.decision,
        "reason": p.reason,
        "bank_status": p.bank_status,
        "executed_at": p.executed_at.isoformat() if p.executed_at else None,
    }


def operation_view(p: Payment, payee_iban: str | None) -> dict[str, Any]:
    """The operation to authorise, exactly as ``common.security.stepup.Operation`` reads it."""
    return {
        "kind": p.kind.value,
        "amount": p.money.text(),
        "currency": p.money.currency,
        "payee": payee_iban,
        "operation_id": p.payment_id,
    }


def consent_view(c: PaymentConsent) -> dict[str, Any]:
    return {
        "consent_id": c.consent_id,
        "status": c.status.value,
        "account_ref": c.account_ref,
        "account_masked": c.account_masked,
        "currency": c.currency,
        "max_amount_per_payment": str(c.max_per_payment),
        "periodic_limit": str(c.periodic_limit),
        "frequency": c.frequency,
        "valid_until": c.valid_until.isoformat(),
        "created_at": c.created_at.isoformat(),
        "ended_reason": c.ended_reason,
    }


def audit_view(e: AuditEntry) -> dict[str, Any]:
    return {
        "at": e.at.isoformat(),
        "state": e.state.value,
        "previous_state": e.previous.value if e.previous else None,
        "actor": {
            "kind": e.actor.kind.value,
            "id": e.actor.id,
            "session_id": e.actor.session_id,
            "device_id": e.actor.device_id,
        },
        "authorisation_id": e.authorisation_id,
        "decision": e.decision,
        "reason": e.reason,
    }
