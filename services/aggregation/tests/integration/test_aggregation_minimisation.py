"""Data minimisation, proven end to end: what the sandbox reveals about accounts, balances and
counterparties never reaches aggregation's tables, its Kafka events or its logs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aggregation_it_conftest import Stack, running_stack
from aggregation_it_helpers import Bank, MemberTokens, SandboxServer
from coffre_testing.app import LogCapture
from coffre_testing.kafka import collect
from common.events.aggregation import TransactionIngested, TransactionUpdated

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _forbidden(
    accounts: list[dict[str, Any]], raw: list[dict[str, Any]], token: str
) -> tuple[set[str], set[str]]:
    """(exact strings that must never appear, balance amounts that must never appear)."""
    exact = {token}
    for account in accounts:
        exact |= {account["iban"], account["ownerName"]}
    amounts = {t["transactionAmount"]["amount"].lstrip("-") for t in raw}
    balances: set[str] = set()
    for item in raw:
        exact.add(item["transactionId"])
        for key in ("entryReference", "endToEndId", "mandateId"):
            if item.get(key):
                exact.add(item[key])
        for key in ("creditorAccount", "debtorAccount"):
            if item.get(key):
                exact.add(item[key]["iban"])
        balance = item.get("balanceAfterTransaction", {}).get("balanceAmount", {}).get("amount")
        if balance and balance.lstrip("-") not in amounts:
            balances.add(balance.lstrip("-"))
    return exact, balances


def _leaks(text: str, exact: set[str], balances: set[str]) -> list[str]:
    found = [value for value in exact if value and value in text]
    found += [b for b in balances if re.search(rf"(?<![\d.]){re.escape(b)}(?![\d])", text)]
    return found


async def _database_text(stack: Stack) -> str:
    tables = await stack.db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    chunks = []
    for row in tables:
        name = row["table_name"]
        dumped = await stack.db.fetch(f'SELECT t::text AS line FROM "{name}" t')
        chunks += [r["line"] for r in dumped]
    envelopes = await stack.db.fetch("SELECT convert_from(envelope, 'UTF8') AS e FROM outbox")
    chunks += [r["e"] for r in envelopes]
    columns = await stack.db.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
    )
    assert not [
        c["column_name"]
        for c in columns
        if re.search("iban|balance|creditor|debtor", c["column_name"])
    ]
    return "\n".join(chunks)


async def test_no_iban_balance_counterparty_account_or_token_is_stored_published_or_logged(
    infra: Any,
    schema_name: str,
    sandbox: SandboxServer,
    bank: Bank,
    identity_dir: Path,
    tokens: MemberTokens,
    tmp_path: Path,
    member: str,
) -> None:
    capture = LogCapture()
    async with running_stack(
        infra, schema_name, sandbox, bank, identity_dir, tokens, tmp_path, log_capture=capture
    ) as stack:
        connection = await stack.connect(member)
        await stack.container.idle()
        token = await stack.token_of(member)
        listed = await bank.control("GET", f"/sandbox/psus/{member}/accounts")
        accounts = listed["accounts"]
        body = {
            "amount": "-9.90",
            "counterpartyName": "Kiosk",
            "counterpartyIban": "DE89370400440532013000",
            "bookingStatus": "pending",
        }
        await bank.control(
            "POST", f"/sandbox/accounts/{accounts[0]['resourceId']}/transactions", json=body
        )
        refresh = f"/v1/connections/{connection['connection_id']}/refresh"
        assert (await stack.client.post(refresh, headers=stack.headers(member))).status_code == 200
        await bank.control("POST", f"/sandbox/accounts/{accounts[0]['resourceId']}/book-pending")
        assert (await stack.client.post(refresh, headers=stack.headers(member))).status_code == 200
        raw: list[dict[str, Any]] = []
        for account in accounts:
            raw += await bank.raw_transactions(token, account["resourceId"])
        exact, balances = _forbidden(accounts, raw, token)
        assert len(raw) > 100
        assert balances
        assert any("DE89" in v for v in exact)
        database = await _database_text(stack)
        feed, _ = await stack.feed(member)
    published = []
    for topic in (TransactionIngested.topic(), TransactionUpdated.topic()):
        records = await collect(
            infra.bootstrap_servers, topic, count=len(raw) + 1, timeout=8,
            where=lambda r: member.encode() in r.value,
        )  # fmt: skip
        published += [r.value.decode() for r in records]
    assert len(published) >= len(raw)
    assert _leaks(database, exact, balances) == []
    assert _leaks("\n".join(published), exact, balances) == []
    assert _leaks(capture.text, exact, balances) == []
    assert _leaks(str(feed), exact, balances) == []
