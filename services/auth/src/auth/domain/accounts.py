"""Accounts: one member, one normalised e-mail address, one password hash.

Rules: an e-mail address is compared in its normalised form (trimmed, lower-cased); an account
exists only once its address is verified, and its password is chosen by whoever redeems the
link sent to that address (a registration holds no password, so a stranger's registration
cannot set a member's password); a phone number for SMS codes is stored in E.164 form; an
account lists the factors it enrolled.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from auth.domain.errors import InvalidEmail, InvalidPhone

EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalise_email(email: str) -> str:
    text = email.strip().lower()
    if len(text) > 254 or not EMAIL.match(text):
        raise InvalidEmail()
    return text


def normalise_phone(phone: str) -> str:
    text = re.sub(r"[\s().-]", "", phone.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    if not E164.match(text):
        raise InvalidPhone("the phone number must be in international form, e.g. +33612345678")
    return text


def mask_phone(phone: str) -> str:
    return phone[:3] + "*" * (len(phone) - 5) + phone[-2:]


@dataclass
class Account:
    id: uuid.UUID
    email: str
    password_hash: str | None
    created_at: datetime
    phone: str | None = None
    phone_verified_at: datetime | None = None
    tenant_id: uuid.UUID | None = None
    external_id: str | None = None
    factors: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, email: str, password_hash: str | None, now: datetime) -> Account:
        return cls(uuid.uuid4(), normalise_email(email), password_hash, now)

    @property
    def has_second_factor(self) -> bool:
        return bool(self.factors & {"totp", "sms"})

    @property
    def email_name(self) -> str:
        return self.email.split("@", 1)[0]
