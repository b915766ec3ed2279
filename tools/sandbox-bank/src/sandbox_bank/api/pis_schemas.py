"""Berlin Group payment initiation bodies: payment consents and SEPA credit transfers.

Rules: amounts are decimal strings with at most two decimals and strictly positive; a creditor
IBAN is taken as given (its checksum is judged at acceptance, RJCT CREDITOR_IBAN_INVALID);
requests forbid unknown fields; a rejected payment carries its reason in `tppMessages`.
"""

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from sandbox_bank.api.schemas import AccountReference, Amount, Href, WireModel


class Money(WireModel):
    """An amount (decimal string, > 0, two decimals at most) and its ISO 4217 currency."""

    currency: str = Field(pattern="^[A-Z]{3}$")
    amount: str = Field(pattern=r"^[0-9]{1,13}(\.[0-9]{1,2})?$")

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: str) -> str:
        if Decimal(value) <= 0:
            raise ValueError("amount must be greater than zero")
        return value

    @property
    def value(self) -> Decimal:
        """The amount as a two-decimal Decimal."""
        return Decimal(self.amount).quantize(Decimal("0.01"))


class PeriodicLimit(Money):
    """A limit per calendar day, ISO week or calendar month."""

    frequency: Literal["day", "week", "month"]


class PaymentConsentRequest(WireModel):
    """Body of POST /v1/payment-consents."""

    debtor_account: AccountReference
    max_amount_per_payment: Money
    periodic_limit: PeriodicLimit
    valid_until: date


class PaymentConsentCreated(WireModel):
    """Answer to POST /v1/payment-consents."""

    consent_status: str
    consent_id: str
    links: dict[str, Href] = Field(alias="_links")


class Period(WireModel):
    """The current period of a periodic limit (first and last day)."""

    date_from: date
    date_to: date


class LimitBody(Amount):
    """A periodic limit as the bank reports it."""

    frequency: str


class PaymentConsentBody(WireModel):
    """Answer to GET /v1/payment-consents/{id}."""

    debtor_account: AccountReference
    max_amount_per_payment: Amount
    periodic_limit: LimitBody
    valid_until: date
    consent_status: str
    used_in_current_period: Amount
    current_period: Period
    links: dict[str, Href] = Field(alias="_links")


class PaymentConsentStatus(WireModel):
    """Answer to GET /v1/payment-consents/{id}/status and to an authorisation."""

    consent_status: str


class CreditorAccount(WireModel):
    """The creditor's account, as the TPP gave it."""

    iban: str = Field(min_length=1, max_length=42)


class PaymentRequest(WireModel):
    """Body of POST /v1/payments/sepa-credit-transfers."""

    debtor_account: AccountReference
    instructed_amount: Money
    creditor_name: str = Field(min_length=1, max_length=70)
    creditor_account: CreditorAccount
    remittance_information_unstructured: str | None = Field(None, min_length=1, max_length=140)
    end_to_end_identification: str | None = Field(None, min_length=1, max_length=35)


class PaymentCreated(WireModel):
    """Answer to POST /v1/payments/sepa-credit-transfers (also to a repeat of it)."""

    transaction_status: str
    payment_id: str
    links: dict[str, Href] = Field(alias="_links")


class TppMessage(WireModel):
    """One Berlin Group message."""

    category: Literal["ERROR", "WARNING"] = "ERROR"
    code: str
    text: str


class PaymentStatusBody(WireModel):
    """Answer to GET …/{paymentId}/status."""

    transaction_status: str
    tpp_messages: list[TppMessage] | None = None


class PaymentBody(WireModel):
    """Answer to GET …/{paymentId}: the payment as submitted, and where it is."""

    payment_id: str
    debtor_account: AccountReference
    instructed_amount: Amount
    creditor_name: str
    creditor_account: CreditorAccount
    remittance_information_unstructured: str | None = None
    end_to_end_identification: str | None = None
    transaction_status: str
    tpp_messages: list[TppMessage] | None = None
    links: dict[str, Href] = Field(alias="_links")
