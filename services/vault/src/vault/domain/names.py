"""Names the vault accepts for subjects, purposes, secret ids, services and operators.

Rule: a name is short, printable ASCII and never contains the ``|`` that separates the fields
of associated data, so the AAD of one record can never be read as another's.
"""

from __future__ import annotations

import re

from vault.domain.errors import InvalidName

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_SERVICE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")

PSD2_CONSENT = "psd2-consent"
PSD2_PAYMENT_CONSENT = "psd2-payment-consent"
PAYMENT_PAYEE = "payment-payee"
BANK_CREDENTIALS = "bank-credentials"
DOCUMENT = "document"

PURPOSES_SEALED_ONLY = frozenset({BANK_CREDENTIALS})
"""Purposes whose values must arrive sealed with the vault's public key, never in clear."""


def subject(value: str) -> str:
    return _check(_ID, value, "subject")


def secret_id(value: str) -> str:
    return _check(_ID, value, "secret_id")


def purpose(value: str) -> str:
    return _check(_PURPOSE, value, "purpose")


def service(value: str) -> str:
    return _check(_SERVICE, value, "service")


def operator(value: str) -> str:
    return _check(_ID, value, "operator")


def _check(pattern: re.Pattern[str], value: str, field: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidName(f"{field} is not a valid name", field=field)
    return value
