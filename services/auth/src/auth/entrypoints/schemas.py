"""HTTP request and response bodies.

Rules: every string is bounded; every string but a password is printable text (no control,
format or surrogate characters), so nothing a database or a text message cannot hold reaches a
use case; unknown fields are refused.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

FREE_TEXT_FIELDS = frozenset({"password"})
PROOF_TEXT = "A current TOTP code or an unused recovery code"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: object, info: ValidationInfo) -> object:
        checked = isinstance(value, str) and info.field_name not in FREE_TEXT_FIELDS
        if checked and any(unicodedata.category(ch).startswith("C") for ch in str(value)):
            raise ValueError("must not contain control or format characters")
        return value


class EmailIn(Body):
    email: str = Field(min_length=3, max_length=254, description="Member's e-mail address")


class VerifyIn(Body):
    token: str = Field(min_length=10, max_length=256, description="Token from the e-mail's link")
    password: str = Field(
        min_length=1, max_length=1024, description="The password to set (at least 12 characters)"
    )


class ResetIn(Body):
    token: str = Field(min_length=10, max_length=256, description="Token from the e-mail's link")
    password: str = Field(min_length=1, max_length=1024, description="The new password")
    proof: str | None = Field(
        None,
        max_length=64,
        description=PROOF_TEXT + ", or the SMS code sent for this link (required once a factor "
        "is enrolled)",
    )
    method: Literal["totp", "recovery", "sms"] | None = Field(
        None, description="sms for an SMS code; otherwise a TOTP or recovery code"
    )


class LinkIn(Body):
    token: str = Field(min_length=10, max_length=256, description="Token from the e-mail's link")


class LoginIn(Body):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    scope: Literal["member", "payment"] = Field("member", description="Requested session scope")


class TicketIn(Body):
    ticket: str = Field(min_length=10, max_length=256, description="Ticket from the login answer")


class SecondFactorIn(TicketIn):
    method: Literal["totp", "sms", "recovery"]
    code: str = Field(min_length=1, max_length=64)


class RefreshIn(Body):
    refresh_token: str = Field(min_length=10, max_length=256)


class CodeIn(Body):
    code: str = Field(min_length=1, max_length=64)


PROOF = "A current TOTP code or an unused recovery code"


class PhoneIn(Body):
    phone: str = Field(min_length=5, max_length=32, description="International form, +33…")
    proof: str | None = Field(None, max_length=64, description=PROOF + " (once a factor exists)")


class PhoneConfirmIn(CodeIn):
    challenge_id: uuid.UUID


class ProofIn(Body):
    proof: str = Field(min_length=1, max_length=64, description=PROOF)


class OptionalProofIn(Body):
    proof: str | None = Field(None, max_length=64, description=PROOF + " (once a factor exists)")


class OperationIn(Body):
    kind: Literal["payment", "deposit", "withdrawal"]
    amount: str = Field(pattern=r"^[0-9]{1,15}(\.[0-9]{1,4})?$", description="Decimal string")
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    payee: str = Field(min_length=1, max_length=128, description="Payee IBAN or reference")
    operation_id: str = Field(min_length=1, max_length=128)


class StepUpIn(Body):
    operation: OperationIn
    method: Literal["sms", "totp"] = "sms"


class DeleteAccountIn(Body):
    password: str | None = Field(None, max_length=1024)


class TokensOut(BaseModel):
    token_type: Literal["Bearer"] = "Bearer"
    access_token: str
    expires_at: datetime
    refresh_token: str
    session_id: uuid.UUID
    scope: str
    idle_expires_at: datetime
    absolute_expires_at: datetime


class LoginOut(BaseModel):
    second_factor_required: bool
    tokens: TokensOut | None = None
    ticket: str | None = None
    methods: list[str] = []
    ticket_expires_at: datetime | None = None


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once; store them safely")


class TotpOut(BaseModel):
    secret: str
    otpauth_uri: str
    qr_png_base64: str


class StepUpOut(BaseModel):
    challenge_id: uuid.UUID
    method: str
    expires_at: datetime
    operation_digest: str
    sent_to: str | None = None


class AuthorisationOut(BaseModel):
    authorisation: str = Field(description="Signed single-use authorisation (stepup+jwt)")
    authorisation_id: str
    expires_at: datetime
    operation_digest: str


class MeOut(BaseModel):
    user_id: uuid.UUID
    email: str
    factors: list[str]
    phone: str | None
    session_id: uuid.UUID
    scope: str
