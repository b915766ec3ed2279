"""Re-sealing a member's bank credentials for a pinned PSD2 agent."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from common.security import client_encryption as ce
from cryptography.hazmat.primitives.asymmetric import x25519
from vault.adapters.memory import MemoryStore
from vault.domain.errors import InvalidInput, PolicyDenied
from vault.domain.policy import Action, Policy
from vault.service import sealing
from vault.service.context import VaultContext
from vault.service.reseal import parse_agent_keys, reseal_secret
from vault.service.secrets import SecretRef, SecretValue, put_secret
from vault_unit_helpers import AGGREGATION, PAYMENTS

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

CREDS = SecretRef("member-1", "bank-credentials", "psd2-agent")
VALUE = b'{"psuId":"member-1","password":"s3cret"}'


@pytest.fixture
def agent() -> x25519.X25519PrivateKey:
    return x25519.X25519PrivateKey.generate()


@pytest.fixture
def agents(agent: x25519.X25519PrivateKey) -> dict[str, ce.RecipientKey]:
    return {"sandbox-bank": ce.RecipientKey("agent-1", agent.public_key())}


async def stored(ctx: VaultContext) -> None:
    [key] = [k for k in await sealing.ensure_keys(ctx) if k.alg is ce.Alg.HPKE_X25519]
    sealed = ce.seal(VALUE, sealing.recipient(key), subject="member-1", purpose="bank-credentials")
    await put_secret(ctx, AGGREGATION, CREDS, SecretValue(sealed=sealed))


async def test_resealed_credentials_open_only_for_the_agent_and_that_binding(
    ctx: VaultContext, agent: x25519.X25519PrivateKey, agents: dict[str, ce.RecipientKey]
) -> None:
    await stored(ctx)

    sealed = await reseal_secret(ctx, AGGREGATION, CREDS, agents, "sandbox-bank", "auth-1")

    assert VALUE not in sealed
    opened = ce.open_sealed(sealed, agent, subject="auth-1", purpose="bank-credentials")
    assert opened == VALUE
    with pytest.raises(ce.SealRejected):
        ce.open_sealed(sealed, agent, subject="auth-2", purpose="bank-credentials")
    with pytest.raises(ce.SealRejected):
        ce.open_sealed(
            sealed, x25519.X25519PrivateKey.generate(), subject="auth-1", purpose="bank-credentials"
        )


async def test_reseal_is_audited_without_the_value_or_the_binding(
    ctx: VaultContext, store: MemoryStore, agents: dict[str, ce.RecipientKey]
) -> None:
    await stored(ctx)

    await reseal_secret(ctx, AGGREGATION, CREDS, agents, "sandbox-bank", "auth-secret-binding")

    [entry] = [e for e in store.state.audit if e.action == Action.RESEAL.value]
    assert (entry.actor, entry.outcome.value, entry.subject) == (
        "aggregation",
        "allowed",
        "member-1",
    )
    assert entry.detail["agent"] == "sandbox-bank"
    assert "auth-secret-binding" not in repr(entry)
    assert "s3cret" not in repr(entry)


async def test_a_service_without_the_reseal_grant_is_denied(
    ctx: VaultContext, agents: dict[str, ce.RecipientKey]
) -> None:
    await stored(ctx)

    with pytest.raises(PolicyDenied):
        await reseal_secret(ctx, PAYMENTS, CREDS, agents, "sandbox-bank", "auth-1")


async def test_only_pinned_agents_and_sealed_only_purposes_are_resealed(
    ctx: VaultContext, agents: dict[str, ce.RecipientKey]
) -> None:
    await stored(ctx)
    consent = SecretRef("member-1", "psd2-consent", "c-1")
    await put_secret(ctx, AGGREGATION, consent, SecretValue(plaintext=b"token"))
    wide = replace(
        ctx, policy=Policy.parse(ctx.policy.to_text() + ",aggregation:psd2-consent:secret.reseal")
    )

    with pytest.raises(InvalidInput):
        await reseal_secret(ctx, AGGREGATION, CREDS, agents, "rogue-agent", "auth-1")
    with pytest.raises(InvalidInput):
        await reseal_secret(ctx, AGGREGATION, CREDS, agents, "sandbox-bank", "a|b")
    with pytest.raises(InvalidInput):
        await reseal_secret(wide, AGGREGATION, consent, agents, "sandbox-bank", "auth-1")


def test_agent_keys_setting_reads_pinned_jwks_and_refuses_garbage() -> None:
    jwk = ce.RecipientKey("agent-1", x25519.X25519PrivateKey.generate().public_key()).to_jwk()

    keys = parse_agent_keys(json.dumps({"sandbox-bank": jwk}))

    assert keys["sandbox-bank"].kid == "agent-1"
    assert parse_agent_keys(None) == {}
    for bad in ("[1]", "{", '{"x": {"kty": "EC"}}'):
        with pytest.raises(ValueError, match="agent_keys"):
            parse_agent_keys(bad)
