"""Domain records to Berlin Group bodies.

Rules: a debit names its creditor, a credit its debtor; amounts are two-decimal strings; an
account body has links to its details and transactions, never to balances.
"""

from decimal import Decimal

from sandbox_bank.api import schemas as wire
from sandbox_bank.domain.model import Account, Consent, Transaction

PROPRIETARY_CODES = {"CCRD": "CB", "RDDT": "PRLV", "RCDT": "VIR", "ICDT": "VIR"}


def amount(value: Decimal, currency: str) -> wire.Amount:
    """A two-decimal amount string."""
    return wire.Amount(currency=currency, amount=f"{value.quantize(Decimal('0.01'))}")


def account_body(account: Account) -> wire.AccountBody:
    """An account's identification and links."""
    path = f"/v1/accounts/{account.resource_id}"
    return wire.AccountBody(
        resource_id=account.resource_id,
        iban=account.iban,
        currency=account.currency,
        name=account.name,
        product=account.product,
        owner_name=account.owner_name,
        cash_account_type=account.cash_account_type,
        links={
            "account": wire.Href(href=path),
            "transactions": wire.Href(href=f"{path}/transactions"),
        },
    )


def transaction_body(tx: Transaction) -> wire.TransactionBody:
    """A transaction with everything a bank reports, extras included."""
    party_account = wire.Iban(iban=tx.counterparty_iban) if tx.counterparty_iban else None
    debit = tx.amount < 0
    balance = None
    if tx.balance_after is not None:
        balance = wire.BalanceAfter(balance_amount=amount(tx.balance_after, tx.currency))
    return wire.TransactionBody(
        transaction_id=tx.transaction_id,
        entry_reference=tx.entry_reference,
        end_to_end_id=tx.end_to_end_id,
        mandate_id=tx.mandate_id,
        booking_date=tx.booking_date,
        value_date=tx.value_date,
        transaction_amount=amount(tx.amount, tx.currency),
        creditor_name=tx.counterparty_name if debit else None,
        creditor_account=party_account if debit else None,
        debtor_name=None if debit else tx.counterparty_name,
        debtor_account=None if debit else party_account,
        remittance_information_unstructured=tx.remittance,
        bank_transaction_code=tx.bank_transaction_code,
        proprietary_bank_transaction_code=_proprietary(tx.bank_transaction_code),
        balance_after_transaction=balance,
    )


def consent_links(consent: Consent) -> dict[str, wire.Href]:
    """Links to the consent and its status (server-to-server: they carry the consent id)."""
    path = f"/v1/consents/{consent.consent_id}"
    return {"self": wire.Href(href=path), "status": wire.Href(href=f"{path}/status")}


def consent_body(consent: Consent) -> wire.ConsentBody:
    """The consent as GET /v1/consents/{id} reports it."""
    access = consent.access
    return wire.ConsentBody(
        access=wire.AccessRequest(
            all_psd2="allAccounts" if access.all_psd2 else None,
            accounts=_references(access.accounts),
            transactions=_references(access.transactions),
        ),
        recurring_indicator=consent.recurring,
        valid_until=consent.valid_until,
        frequency_per_day=consent.frequency_per_day,
        last_action_date=consent.last_action_date,
        consent_status=consent.status.value,
        links={"account": wire.Href(href="/v1/accounts")},
    )


def _references(ibans: frozenset[str] | None) -> list[wire.AccountReference] | None:
    return None if ibans is None else [wire.AccountReference(iban=i) for i in sorted(ibans)]


def _proprietary(code: str) -> str:
    family = code.split("-")[1] if code.count("-") == 2 else ""
    return PROPRIETARY_CODES.get(family, "DIVERS")
