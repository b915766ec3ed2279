"""Matching against real events, erasure versus retention, shredding, the journal, the sweep,
migrations up/down/up."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from archive.adapters.pg_journal import PgJournal
from archive.app import MIGRATIONS
from archive.domain.journal import verify_chain
from archive.service import archival, erasure, sweep
from archive_it_helpers import erase, jpeg, publish
from coffre_testing.kafka import collect
from common.db import downgrade, migrate
from common.events.aggregation import TransactionIngested
from common.events.archive import ReceiptIntegrityFailed, ReceiptMatched
from common.events.payments import PaymentExecuted

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]
Stack = Any


def _tx(user: str, ref: str, amount: str, on: date) -> TransactionIngested:
    return TransactionIngested(
        user_id=user, account_ref="acct-ref-0001", transaction_ref=ref, label="CAFE DU COIN",
        booking_date=on, amount=amount, currency="EUR", status="booked",
    )  # fmt: skip


async def test_a_receipt_is_matched_to_the_members_transaction_and_payment(
    stack: Stack, infra: Any, member: str
) -> None:
    by_amount = (await stack.upload(member, jpeg(), amount="12.50", date="2026-11-30")).json()
    linked = (await stack.upload(member, jpeg(), payment_id="pay-0001")).json()
    unmatched = (await stack.upload(member, jpeg(), amount="99.00")).json()
    await publish(infra.bootstrap_servers, _tx(member, "tx-ref-000001", "-12.50",
                  date(2026, 12, 1)), subject=member, producer="aggregation")  # fmt: skip
    payment = PaymentExecuted(
        payment_id="pay-0001", kind="payment", account_ref="acct-ref-0001", amount="40.00",
        currency="EUR", payee_ref="payee-ref-0001", executed_at=datetime.now(UTC),
    )  # fmt: skip
    await publish(infra.bootstrap_servers, payment, subject=member, producer="payments")
    matched = await collect(
        infra.bootstrap_servers, ReceiptMatched.topic(), count=2,
        where=lambda rec: rec.key == by_amount["receipt_id"].encode()
        or rec.key == linked["receipt_id"].encode(),
    )  # fmt: skip
    assert len(matched) == 2
    answer = await stack.client.get("/v1/receipts?unmatched=true", headers=stack.headers(member))
    assert [r["receipt_id"] for r in answer.json()["receipts"]] == [unmatched["receipt_id"]]
    every = await stack.client.get("/v1/receipts", headers=stack.headers(member))
    kinds = {r["receipt_id"]: r["matched"] for r in every.json()["receipts"]}
    assert kinds[by_amount["receipt_id"]] == {"kind": "transaction", "ref": "tx-ref-000001"}
    assert kinds[linked["receipt_id"]] == {"kind": "payment", "ref": "pay-0001"}


async def test_erasure_keeps_receipts_until_retention_then_shreds_them(
    stack: Stack, infra: Any, member: str
) -> None:
    kept = (await stack.upload(member, jpeg())).json()
    await stack.client.get("/v1/receipts/address", headers=stack.headers(member))
    done = await erase(infra.bootstrap_servers, member)
    assert kept["receipt_id"] in done.value.decode()
    assert await stack.db.pool.fetchval("SELECT count(*) FROM mail_addresses") == 0
    ctx = stack.container.ctx
    assert await erasure.shred_due(ctx) == 0
    still = await stack.client.get(
        f"/v1/receipts/{kept['receipt_id']}", headers=stack.headers(member)
    )
    assert still.status_code == 200
    await stack.db.pool.execute("UPDATE receipts SET retention_until = now() - interval '1 day'")
    assert await erasure.shred_due(ctx) == 1
    gone = await stack.client.get(
        f"/v1/receipts/{kept['receipt_id']}", headers=stack.headers(member)
    )
    assert gone.status_code == 410
    assert gone.json()["code"] == "archive.receipt-shredded"
    row = await stack.db.pool.fetchrow(
        "SELECT vault_subject, length(wrapped_key) AS wrapped FROM receipts"
        " WHERE receipt_id = $1::uuid", kept["receipt_id"],
    )  # fmt: skip
    assert row["wrapped"] == 0
    vault_db = stack.vault_app.state.runtime.db
    destroyed = await vault_db.pool.fetchval(
        "SELECT bool_and(destroyed_at IS NOT NULL) FROM data_keys WHERE subject = $1",
        row["vault_subject"],
    )
    assert destroyed is True


async def test_every_action_is_journaled_on_an_append_only_chain(stack: Stack, member: str) -> None:
    created = (await stack.upload(member, jpeg())).json()
    await stack.client.get(f"/v1/receipts/{created['receipt_id']}", headers=stack.headers(member))
    await stack.client.get(
        f"/v1/receipts/{created['receipt_id']}/verification", headers=stack.headers(member)
    )
    async with stack.db.pool.acquire() as conn:
        entries = await PgJournal(conn).entries()
        mine = [e.action for e in entries if e.receipt_id == created["receipt_id"]]
        assert mine == ["received", "sealed-and-stored", "read", "verified"]
        assert verify_chain(entries) is None
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("UPDATE journal SET action = 'nothing' WHERE seq = 1")
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("DELETE FROM journal WHERE seq = 2")


async def test_the_sweep_raises_an_event_when_a_stored_object_does_not_match(
    stack: Stack, infra: Any, member: str
) -> None:
    good = (await stack.upload(member, jpeg())).json()
    bad = (await stack.upload(member, jpeg())).json()
    row = await stack.db.pool.fetchrow(
        "SELECT sealed_object FROM receipts WHERE receipt_id = $1::uuid", bad["receipt_id"]
    )
    forged = stack.s3.put_object(
        Bucket=stack.settings.s3_bucket, Key=row["sealed_object"], Body=b"forged bytes",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    await stack.db.pool.execute(
        "UPDATE receipts SET sealed_version = $2 WHERE receipt_id = $1::uuid",
        bad["receipt_id"], forged["VersionId"],
    )  # fmt: skip
    checked, failed = await sweep.sweep(stack.container.ctx, 10)
    assert (checked, failed) == (2, 1)
    [alert] = await collect(
        infra.bootstrap_servers, ReceiptIntegrityFailed.topic(), count=1,
        where=lambda rec: rec.key == bad["receipt_id"].encode(),
    )  # fmt: skip
    assert b"hash-mismatch" in alert.value
    assert good["receipt_id"].encode() not in alert.value


async def test_the_archival_job_adds_a_document_timestamp_as_a_new_locked_version(
    stack: Stack, member: str, tmp_path: Any
) -> None:
    created = (await stack.upload(member, jpeg())).json()
    rid = created["receipt_id"]
    before = await stack.db.pool.fetchrow(
        "SELECT sealed_object, sealed_version FROM receipts WHERE receipt_id = $1::uuid", rid
    )
    ctx = stack.container.ctx
    assert await archival.extend_due(ctx) == 0
    await stack.db.pool.execute("UPDATE receipts SET archival_due_at = now() - interval '1 s'")
    assert await archival.extend_due(ctx) == 1
    report = (
        await stack.client.get(f"/v1/receipts/{rid}/verification", headers=stack.headers(member))
    ).json()
    assert report["ok"] is True, report
    assert report["level"] == "PAdES-B-LTA"
    after = await stack.db.pool.fetchrow(
        "SELECT sealed_version, archival_due_at FROM receipts WHERE receipt_id = $1::uuid", rid
    )
    assert after["sealed_version"] != before["sealed_version"]
    assert after["archival_due_at"] > datetime.now(UTC) + timedelta(days=700)
    old = stack.s3.head_object(
        Bucket=stack.settings.s3_bucket,
        Key=before["sealed_object"],
        VersionId=before["sealed_version"],
    )
    assert old["ObjectLockMode"] == "COMPLIANCE"
    pdf = await stack.client.get(f"/v1/receipts/{rid}", headers=stack.headers(member))
    if shutil.which("pdfsig"):
        path = tmp_path / "lta.pdf"
        path.write_bytes(pdf.content)
        out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
        assert "Signature is Valid." in out.stdout, out.stdout
        assert "Signer Certificate Common Name: Coffre Development TSA" in out.stdout


async def test_migrations_go_down_and_up_again(stack: Stack) -> None:
    await downgrade(stack.db, MIGRATIONS, to_version=0)
    await migrate(stack.db, MIGRATIONS)
    assert await stack.db.pool.fetchval("SELECT count(*) FROM receipts") == 0
