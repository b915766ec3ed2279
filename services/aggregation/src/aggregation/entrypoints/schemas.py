"""Request and response bodies of aggregation's member API (what the OpenAPI document shows)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aggregation.domain.accounts import LinkedAccount
from aggregation.domain.transactions import StoredTransaction
from aggregation.service.connections import ConnectionView


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartIn(_In):
    psu_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._@-]+$",
        description="The member's login id at the bank, when the bank asks for it (PSU-ID).",
    )


class StartOut(BaseModel):
    connection_id: uuid.UUID
    status: Literal["pending"] = "pending"
    redirect_url: str = Field(description="Send the member here to approve access at the bank.")
    expires_at: datetime = Field(description="The bank's answer must come back before this.")


class CallbackIn(_In):
    state: str = Field(
        min_length=16,
        max_length=128,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `state` query parameter the bank sent the member back with.",
    )


class AccountOut(BaseModel):
    account_ref: str = Field(description="Opaque reference of the account.")
    currency: str
    last_synced_at: datetime | None


class ConnectionOut(BaseModel):
    connection_id: uuid.UUID
    status: str = Field(
        description="pending, active, rejected, abandoned, revoked, ended_at_bank or expired."
    )
    created_at: datetime
    activated_at: datetime | None
    consent_valid_until: date | None
    ended_at: datetime | None
    accounts: list[AccountOut]

    @classmethod
    def of(cls, view: ConnectionView) -> ConnectionOut:
        c = view.connection
        return cls(
            connection_id=c.connection_id,
            status=c.status.value,
            created_at=c.created_at,
            activated_at=c.activated_at,
            consent_valid_until=c.consent_valid_until,
            ended_at=c.ended_at,
            accounts=[_account(a) for a in view.accounts],
        )


def _account(a: LinkedAccount) -> AccountOut:
    return AccountOut(
        account_ref=a.account_ref, currency=a.currency, last_synced_at=a.last_synced_at
    )


class ConnectionsOut(BaseModel):
    connections: list[ConnectionOut]


class RefreshOut(BaseModel):
    accounts: int = Field(description="Accounts read.")
    added: int
    modified: int
    removed: int


class TransactionOut(BaseModel):
    transaction_ref: str = Field(description="Opaque, stable reference of the transaction.")
    account_ref: str
    label: str
    booking_date: date = Field(description="Booking date (value date while pending).")
    amount: str = Field(description="Signed decimal string; negative is money out.")
    currency: str
    status: Literal["booked", "pending"]

    @classmethod
    def of(cls, row: StoredTransaction) -> TransactionOut:
        f = row.facts
        return cls(
            transaction_ref=row.transaction_ref,
            account_ref=row.account_ref,
            label=f.label,
            booking_date=f.booking_date,
            amount=format(f.amount, "f"),
            currency=f.currency,
            status=f.status.value,
        )


class RemovedOut(BaseModel):
    transaction_ref: str
    account_ref: str


class FeedOut(BaseModel):
    added: list[TransactionOut]
    modified: list[TransactionOut]
    removed: list[RemovedOut]
    next_cursor: str = Field(description="Send it back as `cursor` to get what changed since.")
    has_more: bool = Field(description="More changes wait: call again at once with next_cursor.")
