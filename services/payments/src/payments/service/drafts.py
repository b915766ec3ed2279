"""Checking what a member asks to pay, before anything is stored.

Rules: kind is payment, deposit or withdrawal; the amount and currency follow ``money``; the
debited account is one the member gave an active payment consent for; a ``deposit`` always
goes to the platform's collection account (configuration, never client input); a
``withdrawal`` only to an account whose ownership the member proved at their bank (the debtor
account of one of their confirmed payment consents); a ``payment`` to any valid IBAN. Names
and remittance text are short printable text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from payments.domain.errors import ConsentNotActive, InputInvalid, LimitExceeded, PayeeNotAllowed
from payments.domain.iban import mask_iban, normalise_iban
from payments.domain.money import Money, parse_amount, parse_currency
from payments.domain.payment import Kind
from payments.service.context import Context

_REF = re.compile(r"^ac_[0-9a-f]{40}$")


@dataclass(frozen=True)
class PaymentInput:
    kind: object
    account_ref: object
    amount: object
    currency: object
    creditor_name: object = None
    creditor_iban: object = None
    remittance: object = None


@dataclass(frozen=True)
class Draft:
    kind: Kind
    consent_id: str
    account_ref: str
    money: Money
    payee_iban: str
    payee_ref: str
    payee_name: str
    payee_masked: str
    remittance: str

    def __repr__(self) -> str:
        return f"Draft(kind={self.kind}, payee_ref={self.payee_ref})"


async def draft_payment(ctx: Context, user_id: str, given: PaymentInput) -> Draft:
    try:
        kind = Kind(given.kind)  # type: ignore[arg-type]
    except ValueError:
        raise InputInvalid("kind must be payment, deposit or withdrawal") from None
    currency = parse_currency(given.currency, ctx.policy.currencies)
    money = parse_amount(given.amount, currency)
    if money.amount > ctx.policy.max_per_payment:
        raise LimitExceeded("the amount exceeds the per-payment limit", limit="per-payment")
    if not isinstance(given.account_ref, str) or not _REF.match(given.account_ref):
        raise InputInvalid("account_ref must be the reference of a consented account")
    async with ctx.uow() as uow:
        consent = await uow.consents.active_for(user_id, given.account_ref)
        verified = (
            await uow.consents.verified_accounts(user_id) if kind is Kind.WITHDRAWAL else set()
        )
    if consent is None:
        raise ConsentNotActive("no active payment consent for this account")
    iban, name = _payee(ctx, kind, given, verified, consent.account_ref)
    return Draft(
        kind=kind, consent_id=consent.consent_id, account_ref=consent.account_ref, money=money,
        payee_iban=iban, payee_ref=ctx.refs.payee(iban), payee_name=name,
        payee_masked=mask_iban(iban), remittance=_text(given.remittance, "remittance", 140, ""),
    )  # fmt: skip


def _payee(
    ctx: Context, kind: Kind, given: PaymentInput, verified: set[str], debtor_ref: str
) -> tuple[str, str]:
    if kind is Kind.DEPOSIT:
        platform = ctx.policy.collection_iban
        if given.creditor_iban is not None and normalise_iban(given.creditor_iban) != platform:
            raise PayeeNotAllowed("a deposit goes to the platform's collection account only")
        return platform, ctx.policy.collection_name
    iban = normalise_iban(given.creditor_iban)
    if kind is Kind.WITHDRAWAL:
        ref = ctx.refs.account(iban)
        if ref not in verified or ref == debtor_ref:
            raise PayeeNotAllowed("a withdrawal goes only to one of your verified accounts")
        return iban, _text(given.creditor_name, "creditor name", 70, "Own account")
    return iban, _text(given.creditor_name, "creditor name", 70, None)


def _text(raw: object, field: str, limit: int, default: str | None) -> str:
    if raw is None and default is not None:
        return default
    if not isinstance(raw, str) or not raw.strip() or len(raw) > limit:
        raise InputInvalid(f"{field} must be text of 1 to {limit} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in raw):
        raise InputInvalid(f"{field} must be printable text")
    return raw.strip()
