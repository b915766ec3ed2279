"""Reading Berlin Group NextGenPSD2 bodies, keeping only what aggregation may hold.

Rules: a transaction keeps its id (for the reference derivation only), booking status, date
(booking date; value date while pending), amount, currency and a label (the unstructured
remittance information, else the counterparty's name) — every other field (IBANs, balances,
bank codes, end-to-end and mandate ids) is dropped here, at the edge. An account keeps its
resource id and currency. Anything malformed is `AgentUnavailable` with a reason, never a crash.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from aggregation.domain.errors import AgentUnavailable
from aggregation.domain.transactions import TxStatus, clean_label
from aggregation.service.ports import BankAccount, BankTransaction, ConsentInfo, ConsentState

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$")
MAX_ID = 128


def malformed(what: str) -> AgentUnavailable:
    return AgentUnavailable(f"the agent sent {what} we cannot read", reason="malformed")


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        raise malformed("a body that is not JSON") from None
    if not isinstance(data, dict):
        raise malformed("a body that is not a JSON object")
    return data


def _text(data: Any, name: str, *, max_len: int = MAX_ID) -> str:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise malformed(f"no valid {name}")
    return value


def _date(data: dict[str, Any], *names: str) -> date:
    for name in names:
        value = data.get(name)
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise malformed(f"an invalid {name}") from None
    raise malformed("a transaction without a date")


def _amount(data: dict[str, Any]) -> tuple[Decimal, str]:
    money = data.get("transactionAmount")
    amount = money.get("amount") if isinstance(money, dict) else None
    currency = money.get("currency") if isinstance(money, dict) else None
    if not isinstance(amount, str) or not _AMOUNT.match(amount):
        raise malformed("an invalid transaction amount")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise malformed("an invalid currency")
    try:
        return Decimal(amount), currency
    except InvalidOperation:
        raise malformed("an invalid transaction amount") from None


def _label(data: dict[str, Any]) -> str:
    for name in ("remittanceInformationUnstructured", "creditorName", "debtorName"):
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return clean_label(value)
    lines = data.get("remittanceInformationUnstructuredArray")
    if isinstance(lines, list):
        return clean_label(" ".join(str(line) for line in lines if isinstance(line, str)))
    return ""


def transaction(data: Any, status: TxStatus) -> BankTransaction:
    if not isinstance(data, dict):
        raise malformed("a transaction that is not an object")
    order = ("bookingDate", "valueDate") if status is TxStatus.BOOKED else ("valueDate",)
    amount, currency = _amount(data)
    return BankTransaction(
        bank_id=_text(data, "transactionId"),
        status=status,
        booking_date=_date(data, *order, "bookingDate"),
        amount=amount,
        currency=currency,
        label=_label(data),
    )


def transaction_page(data: dict[str, Any]) -> tuple[list[BankTransaction], str | None]:
    """One page's transactions and the `_links.next` href, if any."""
    report = data.get("transactions")
    if not isinstance(report, dict):
        raise malformed("a transaction report without transactions")
    items: list[BankTransaction] = []
    for key, status in (("booked", TxStatus.BOOKED), ("pending", TxStatus.PENDING)):
        listed = report.get(key) or []
        if not isinstance(listed, list):
            raise malformed(f"a {key} list that is not a list")
        items += [transaction(item, status) for item in listed]
    links = report.get("_links")
    following = links.get("next") if isinstance(links, dict) else None
    href = following.get("href") if isinstance(following, dict) else None
    if href is not None and not isinstance(href, str):
        raise malformed("a next link that is not a string")
    return items, href


def accounts(data: dict[str, Any]) -> list[BankAccount]:
    listed = data.get("accounts")
    if not isinstance(listed, list):
        raise malformed("an account list without accounts")
    found = []
    for item in listed:
        currency = _text(item, "currency", max_len=3)
        if not _CURRENCY.match(currency):
            raise malformed("an invalid account currency")
        found.append(BankAccount(resource_id=_text(item, "resourceId"), currency=currency))
    return found


def consent_info(data: dict[str, Any]) -> ConsentInfo:
    status = _text(data, "consentStatus", max_len=32)
    try:
        state = ConsentState(status)
    except ValueError:
        state = ConsentState.OTHER
    valid_until = None
    if isinstance(data.get("validUntil"), str):
        valid_until = _date(data, "validUntil")
    frequency = data.get("frequencyPerDay")
    if not isinstance(frequency, int) or isinstance(frequency, bool) or frequency < 1:
        frequency = None
    return ConsentInfo(state=state, valid_until=valid_until, frequency_per_day=frequency)


def created_consent(data: dict[str, Any]) -> tuple[str, str]:
    """(consent id, scaRedirect href) of a consent creation answer."""
    token = _text(data, "consentId", max_len=512)
    links = data.get("_links")
    sca = links.get("scaRedirect") if isinstance(links, dict) else None
    href = _text(sca, "href", max_len=2048)
    if not href.startswith(("https://", "http://")):
        raise malformed("an SCA redirect that is not an absolute URL")
    return token, href


def error_code(raw: bytes) -> str | None:
    """The first Berlin Group tppMessages code of an error body, if readable."""
    try:
        data = json.loads(raw)
        code = data["tppMessages"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError):
        return None
    return code if isinstance(code, str) and len(code) <= 64 else None
