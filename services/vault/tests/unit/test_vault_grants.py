from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_asyncio
from common.errors import ValidationFailed
from common.security import client_encryption as ce
from vault.adapters.clock import ManualClock
from vault.adapters.memory import MemoryStore
from vault.domain.caller import Caller
from vault.domain.errors import (
    Erased,
    GrantEnded,
    GrantExhausted,
    GrantExpired,
    GrantNotFound,
    GrantOperatorMismatch,
    PolicyDenied,
    SecretNotFound,
)
from vault.domain.grants import EndReason, GrantRequest
from vault.service import sealing
from vault.service.context import VaultContext
from vault.service.erasure import erase_subject
from vault.service.grants import end_expired_grants, request_grant, revoke_grant, use_grant
from vault.service.secrets import SecretRef, SecretValue, put_secret
from vault_unit_helpers import AGGREGATION, BACKOFFICE

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

CREDENTIALS = b"login=jdupont;password=hunter2"


def _request(**changes: object) -> GrantRequest:
    fields: dict[str, object] = {
        "operator": "alice",
        "subject": "member-1",
        "purpose": "bank-credentials",
        "secret_id": "bank-1",
        "reason": "member cannot connect, ticket SUP-123",
        "consent_ref": "consent-SUP-123",
        "ttl": timedelta(minutes=15),
        "max_uses": 2,
    }
    fields.update(changes)
    return GrantRequest(**fields)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def stored(ctx: VaultContext) -> None:
    keys = await sealing.ensure_keys(ctx)
    recipient = sealing.recipient(next(k for k in keys if k.alg is ce.Alg.HPKE_X25519))
    sealed = ce.seal(CREDENTIALS, recipient, subject="member-1", purpose="bank-credentials")
    await put_secret(
        ctx,
        AGGREGATION,
        SecretRef("member-1", "bank-credentials", "bank-1"),
        SecretValue(sealed=sealed),
    )


@pytest.mark.usefixtures("stored")
async def test_named_operator_uses_the_grant_and_each_use_is_audited(
    ctx: VaultContext, store: MemoryStore
) -> None:
    grant = await request_grant(ctx, BACKOFFICE, _request())
    assert grant.copy is not None
    assert CREDENTIALS not in grant.copy
    assert await use_grant(ctx, BACKOFFICE, grant.grant_id) == CREDENTIALS
    entries = [(e.action, e.operator, e.detail.get("uses")) for e in store.state.audit[-2:]]
    assert entries == [("grant.request", "alice", None), ("grant.use", "alice", 1)]
    assert store.state.audit[-2].detail["consent_ref"] == "consent-SUP-123"


@pytest.mark.usefixtures("stored")
async def test_another_operator_cannot_use_the_grant(ctx: VaultContext) -> None:
    grant = await request_grant(ctx, BACKOFFICE, _request())
    with pytest.raises(GrantOperatorMismatch):
        await use_grant(ctx, Caller("backoffice", operator="mallory"), grant.grant_id)
    with pytest.raises(GrantOperatorMismatch):
        await use_grant(ctx, Caller("backoffice"), grant.grant_id)


@pytest.mark.usefixtures("stored")
async def test_last_use_ends_the_grant_and_deletes_the_copy(
    ctx: VaultContext, store: MemoryStore
) -> None:
    grant = await request_grant(ctx, BACKOFFICE, _request(max_uses=2))
    await use_grant(ctx, BACKOFFICE, grant.grant_id)
    await use_grant(ctx, BACKOFFICE, grant.grant_id)
    ended = store.state.grants[grant.grant_id]
    assert ended.copy is None
    assert ended.end_reason is EndReason.EXHAUSTED
    with pytest.raises(GrantExhausted):
        await use_grant(ctx, BACKOFFICE, grant.grant_id)


@pytest.mark.usefixtures("stored")
async def test_expired_grant_is_refused_and_its_copy_deleted(
    ctx: VaultContext, store: MemoryStore, clock: ManualClock
) -> None:
    grant = await request_grant(ctx, BACKOFFICE, _request(ttl=timedelta(minutes=5)))
    clock.advance(timedelta(minutes=5))
    with pytest.raises(GrantExpired) as err:
        await use_grant(ctx, BACKOFFICE, grant.grant_id)
    assert err.value.status == 410
    ended = store.state.grants[grant.grant_id]
    assert ended.copy is None
    assert ended.end_reason is EndReason.EXPIRED
    assert [e.action for e in store.state.audit[-2:]] == ["grant.end", "grant.use"]
    assert store.state.audit[-1].detail == {"error": "vault.grant-expired"}


@pytest.mark.usefixtures("stored")
async def test_sweeper_deletes_copies_of_expired_grants(
    ctx: VaultContext, store: MemoryStore, clock: ManualClock
) -> None:
    short = await request_grant(ctx, BACKOFFICE, _request(ttl=timedelta(minutes=1)))
    long = await request_grant(ctx, BACKOFFICE, _request(ttl=timedelta(hours=1)))
    clock.advance(timedelta(minutes=2))
    assert await end_expired_grants(ctx) == 1
    assert store.state.grants[short.grant_id].copy is None
    assert store.state.grants[long.grant_id].copy is not None
    assert await end_expired_grants(ctx) == 0


@pytest.mark.usefixtures("stored")
async def test_revoked_grant_cannot_be_used(ctx: VaultContext, store: MemoryStore) -> None:
    grant = await request_grant(ctx, BACKOFFICE, _request())
    await revoke_grant(ctx, BACKOFFICE, grant.grant_id)
    assert store.state.grants[grant.grant_id].copy is None
    with pytest.raises(GrantEnded):
        await use_grant(ctx, BACKOFFICE, grant.grant_id)


@pytest.mark.usefixtures("stored")
async def test_erasure_ends_grants(ctx: VaultContext, store: MemoryStore) -> None:
    grant = await request_grant(ctx, BACKOFFICE, _request())
    await erase_subject(ctx, "member-1", "req-1")
    assert store.state.grants[grant.grant_id].end_reason is EndReason.ERASED
    with pytest.raises(GrantEnded):
        await use_grant(ctx, BACKOFFICE, grant.grant_id)
    with pytest.raises(Erased):
        await request_grant(ctx, BACKOFFICE, _request())


@pytest.mark.usefixtures("stored")
async def test_only_backoffice_may_ask_for_grants(ctx: VaultContext) -> None:
    with pytest.raises(PolicyDenied):
        await request_grant(ctx, Caller("aggregation", operator="alice"), _request())


@pytest.mark.usefixtures("stored")
@pytest.mark.parametrize(
    "changes",
    [
        {"reason": "short"},
        {"consent_ref": ""},
        {"ttl": timedelta(hours=9)},
        {"ttl": timedelta(seconds=1)},
        {"max_uses": 0},
        {"max_uses": 21},
        {"reason": "line one\nline two is long enough"},
    ],
)
async def test_grant_requests_out_of_bounds_are_refused(
    ctx: VaultContext, changes: dict[str, object]
) -> None:
    with pytest.raises(ValidationFailed):
        await request_grant(ctx, BACKOFFICE, _request(**changes))


async def test_grant_on_a_missing_secret_is_not_found(ctx: VaultContext) -> None:
    with pytest.raises(SecretNotFound):
        await request_grant(ctx, BACKOFFICE, _request())


async def test_unknown_grant_is_not_found(ctx: VaultContext) -> None:
    with pytest.raises(GrantNotFound):
        await use_grant(ctx, BACKOFFICE, "not-a-uuid")
    with pytest.raises(GrantNotFound):
        await use_grant(ctx, BACKOFFICE, "6f1c2d4e-0000-4000-8000-000000000001")


async def test_forbidden_caller_is_denied_before_its_request_is_validated(
    ctx: VaultContext, store: MemoryStore
) -> None:
    bad = _request(reason="short", ttl=timedelta(days=3), subject="Not A Name")
    with pytest.raises(PolicyDenied):
        await request_grant(ctx, AGGREGATION, bad)
    with pytest.raises(PolicyDenied):
        await request_grant(ctx, BACKOFFICE, _request(purpose="psd2-consent", reason="short"))
    outcomes = [(e.actor, e.outcome, e.detail.get("error")) for e in store.state.audit]
    assert outcomes == [
        ("aggregation", "denied", "vault.policy-denied"),
        ("backoffice", "denied", "vault.policy-denied"),
    ]
