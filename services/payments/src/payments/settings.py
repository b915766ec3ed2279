"""Payments' settings (`PAYMENTS_*`), validated at start-up.

Rules: the reference key is a secret (a placeholder is refused outside development) of at
least 16 bytes; idempotency keys are kept at least 24 hours; the authorisation window is at
most 5 minutes (the payment scope's idle limit); the collection account is a valid IBAN; the
vault and fraud are called with this service's identity, so its key file is required.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from common.settings import MemberTokenSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from payments.domain.iban import normalise_iban
from payments.service.context import Policy


class PaymentsSettings(MemberTokenSettings):
    model_config = SettingsConfigDict(
        env_prefix="PAYMENTS_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "payments"
    http_port: int = Field(
        8005, ge=1, le=65535, validation_alias=AliasChoices("PAYMENTS_HTTP_PORT", "HTTP_PORT")
    )
    ref_key: SecretStr = Field(
        SecretStr("dev-only-payments-reference-key"),
        description="Key of the keyed hashes behind payee, account and pseudonym references.",
    )
    bank_base_url: str = Field("http://127.0.0.1:8010", description="The PSD2 bank (PIS).")
    bank_timeout_seconds: float = Field(10.0, gt=0, le=120)
    callback_url: str = "http://localhost:3000/payments/consent-callback"
    vault_url: str = "http://127.0.0.1:8002"
    vault_timeout_seconds: float = Field(5.0, gt=0, le=60)
    fraud_url: str = "http://127.0.0.1:8004"
    fraud_timeout_seconds: float = Field(5.0, gt=0, le=60)
    member_scope: str = "payment"
    currencies: tuple[str, ...] = ("EUR",)
    max_per_payment: Decimal = Field(Decimal("10000"), gt=0)
    max_per_day: Decimal = Field(Decimal("20000"), gt=0)
    authorisation_window_seconds: int = Field(300, ge=30, le=300)
    state_ttl_seconds: int = Field(900, ge=30, le=3600)
    consent_validity_days: int = Field(180, ge=1, le=365)
    idempotency_ttl_hours: int = Field(48, ge=24)
    fraud_wait_seconds: float = Field(5.0, ge=0, le=600)
    submit_lease_seconds: float = Field(30.0, gt=0, le=3600)
    poll_base_seconds: float = Field(2.0, gt=0)
    poll_cap_seconds: float = Field(600.0, gt=0)
    collection_iban: str = "FR7630006000011234567890189"
    collection_name: str = "Coffre SAS collection account"
    worker_enabled: bool = True
    worker_interval_seconds: float = Field(1.0, gt=0, le=60)
    worker_parallel_calls: int = Field(8, ge=1, le=64)
    consumer_group_prefix: str = "payments"

    @model_validator(mode="after")
    def _check(self) -> PaymentsSettings:
        if len(self.ref_key.get_secret_value().encode()) < 16:
            raise ValueError("ref_key must hold at least 16 bytes")
        if not self.service_identity_key_file:
            raise ValueError("service_identity_key_file is required to call the vault and fraud")
        normalise_iban(self.collection_iban)
        return self

    def policy(self) -> Policy:
        return Policy(
            callback_url=self.callback_url,
            currencies=frozenset(c.upper() for c in self.currencies),
            max_per_payment=self.max_per_payment,
            max_per_day=self.max_per_day,
            authorisation_window=timedelta(seconds=self.authorisation_window_seconds),
            state_ttl=timedelta(seconds=self.state_ttl_seconds),
            consent_validity_days=self.consent_validity_days,
            idempotency_ttl=timedelta(hours=self.idempotency_ttl_hours),
            fraud_wait=timedelta(seconds=self.fraud_wait_seconds),
            submit_lease=timedelta(seconds=self.submit_lease_seconds),
            poll_base=timedelta(seconds=self.poll_base_seconds),
            poll_cap=timedelta(seconds=self.poll_cap_seconds),
            collection_iban=normalise_iban(self.collection_iban),
            collection_name=self.collection_name,
            parallel_calls=self.worker_parallel_calls,
        )
