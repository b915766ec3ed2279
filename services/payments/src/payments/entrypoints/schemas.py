"""HTTP request bodies (pydantic), described for the OpenAPI document.

Rule: shapes and sizes are checked here; amounts, currencies and IBANs are checked by the
domain so every refusal has a payments code.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

Amount = StrictStr | StrictInt | StrictFloat


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    debtor_iban: str = Field(max_length=64, description="The member's account to pay from.")
    currency: str = Field("EUR", max_length=8, description="ISO 4217 code of the limits.")
    max_amount_per_payment: Amount = Field(description="Largest single payment, e.g. '500.00'.")
    periodic_limit: Amount = Field(description="Total allowed per period, e.g. '2000.00'.")
    frequency: str = Field("month", max_length=8, description="day, week or month.")
    valid_until: date | None = Field(None, description="Last day; default the longest allowed.")
    psu_id: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$",
        description="The member's id at the bank, when it differs from their Coffre id.",
    )  # fmt: skip


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str = Field(min_length=16, max_length=128, description="`state` from the redirect.")


class CreditorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="Creditor name (payments).")
    iban: str | None = Field(None, max_length=64, description="Creditor IBAN.")


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=16, description="payment, deposit or withdrawal.")
    account_ref: str = Field(max_length=64, description="The consented account to debit.")
    amount: Amount = Field(description="Decimal string in major units, e.g. '12.50'.")
    currency: str = Field(max_length=8, description="ISO 4217 code (EUR for SEPA).")
    creditor: CreditorIn | None = Field(None, description="Payee (not for deposits).")
    remittance: str | None = Field(None, max_length=500, description="Remittance text.")


class AuthoriseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stepup_token: str = Field(
        min_length=1, max_length=8192, description="The step-up authorisation auth signed."
    )
