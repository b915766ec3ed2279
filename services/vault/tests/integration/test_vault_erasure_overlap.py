"""An erasure that runs while its member's consent token is being read: the read sees the
secret either as it was before the erasure or as the erasure keeps it (under the hold's escrow
key), never the row from before with the keys from after — which answered 410 and made payments
report the token "already shredded" instead of revoking the consent at the bank."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coffre_testing.waiting import eventually, patient
from common.db.database import Database
from vault.domain.caller import Caller
from vault.domain.names import PSD2_PAYMENT_CONSENT
from vault.service.context import VaultContext
from vault.service.erasure import erase_subject
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PAYMENTS = Caller("payments")

_WAITS_ON_A_ROW_LOCK = """
SELECT EXISTS (
  SELECT 1 FROM pg_locks waiting
  WHERE NOT waiting.granted AND waiting.locktype = 'transactionid'
    AND waiting.pid IN (
      SELECT held.pid FROM pg_locks held
      JOIN pg_class c ON c.oid = held.relation
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE held.locktype = 'tuple' AND n.nspname = $1))
"""


async def test_a_consent_read_overlapping_the_erasure_returns_the_token(
    pg: tuple[Database, VaultContext], member: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, ctx = pg
    ref = SecretRef(member, PSD2_PAYMENT_CONSENT, "consent-1")
    await put_secret(ctx, PAYMENTS, ref, SecretValue(plaintext=b"bank-consent-token"))
    row_read, resume = asyncio.Event(), asyncio.Event()
    load = ctx.keyring.load
    reader: asyncio.Task[bytes] | None = None

    async def load_after_a_pause(uow: Any, key_id: str) -> Any:
        """The read stops between its row and that row's key until the erasure had its turn."""
        if asyncio.current_task() is reader and not resume.is_set():
            row_read.set()
            await resume.wait()
        return await load(uow, key_id)

    monkeypatch.setattr(ctx.keyring, "load", load_after_a_pause)
    reader = asyncio.create_task(read_secret(ctx, PAYMENTS, ref))
    await asyncio.wait_for(row_read.wait(), patient(20))
    erasing = asyncio.create_task(erase_subject(ctx, member, "req-overlap"))

    async def erasure_finished_or_waiting() -> bool:
        return erasing.done() or bool(await db.pool.fetchval(_WAITS_ON_A_ROW_LOCK, db.schema))

    await eventually(erasure_finished_or_waiting, timeout=20)
    resume.set()
    assert await reader == b"bank-consent-token"
    proof = await erasing
    assert proof.held_until is not None, "the erasure keeps the token for its owner"
    assert await read_secret(ctx, PAYMENTS, ref) == b"bank-consent-token"
