"""Re-seal a member's client-sealed credential for a pinned PSD2 agent.

Rules:
- Only purposes that accept sealed values only (``bank-credentials``) can be re-sealed: the
  member sealed them for the vault, to be read by the agent alone.
- The recipient is named, never sent: its public key is pinned in the vault's settings
  (``VAULT_AGENT_KEYS``), so no caller can have a credential sealed to a key it holds.
- The new envelope is bound (seal info) to ``bind`` — the agent's authorisation id — and the
  purpose, so it opens for that one authorisation at that agent; the caller only ever gets the
  envelope, which it cannot open.
- Policy (``secret.reseal``) first, then the erasure guard; allowed or not it is audited, with
  the recipient's name and never the value or the binding.
"""

from __future__ import annotations

import json

from common.security import client_encryption as ce

from vault.domain import names
from vault.domain.caller import Caller
from vault.domain.errors import InvalidInput
from vault.domain.policy import Action
from vault.service.context import VaultContext, draft_for, guarded, record
from vault.service.secrets import SecretRef, open_secret


def parse_agent_keys(text: str | None) -> dict[str, ce.RecipientKey]:
    """The pinned agent keys from their JSON setting (``{}`` when unset)."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        return {names.service(str(k)): ce.RecipientKey.from_jwk(v) for k, v in raw.items()}
    except (ValueError, ce.SealRejected) as exc:
        raise ValueError(f"agent_keys is not a JSON object of agent JWKs ({exc})") from None


async def reseal_secret(
    ctx: VaultContext,
    caller: Caller,
    ref: SecretRef,
    agents: dict[str, ce.RecipientKey],
    agent: str,
    bind: str,
) -> bytes:
    """The secret sealed for the named agent, bound to ``bind`` and the purpose."""
    draft = draft_for(
        caller, Action.RESEAL, subject=ref.subject, purpose=ref.purpose, ref=ref.secret_id
    )
    async with guarded(ctx, draft) as uow:
        ctx.policy.check(caller.service, ref.validated().purpose, Action.RESEAL)
        if ref.purpose not in names.PURPOSES_SEALED_ONLY:
            raise InvalidInput("only client-sealed credentials can be re-sealed", field="purpose")
        recipient = agents.get(agent)
        if recipient is None:
            raise InvalidInput("no pinned key for this agent", field="agent")
        plaintext, key_id = await open_secret(ctx, uow, caller, ref, Action.RESEAL)
        try:
            sealed = ce.seal(plaintext, recipient, subject=bind, purpose=ref.purpose)
        except ce.SealRejected:
            raise InvalidInput(
                "bind must be 1 to 128 characters without '|'", field="bind"
            ) from None
        await record(uow, ctx, draft, key_id=key_id, agent=agent, agent_kid=recipient.kid)
        await uow.commit()
    return sealed
