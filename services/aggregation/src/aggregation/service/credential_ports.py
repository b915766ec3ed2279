"""Ports of the sealed bank-credentials flow (embedded SCA at the agent).

Rules: aggregation holds no credential in clear at any point: the vault port takes the
member's envelope as it came and hands back only envelopes sealed for the agent; the agent
port forwards such an envelope to the bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class EmbeddedConsent:
    """A consent waiting for embedded SCA: its token (a secret) and the authorisation id."""

    token: str
    authorisation_id: str

    def __repr__(self) -> str:
        return "EmbeddedConsent(token=<secret>, authorisation_id=<id>)"


class CredentialVault(Protocol):
    async def public_keys(self) -> list[dict[str, str]]:
        """The vault's public sealing keys (JWK), cached."""
        ...

    async def store_sealed(self, user_id: str, sealed: str) -> None:
        """Store the member's envelope (base64url) untouched; the vault opens it."""
        ...

    async def reseal_for_agent(self, user_id: str, bind: str) -> str:
        """The member's credentials sealed for the agent and bound to `bind` (base64url)."""
        ...

    async def delete(self, user_id: str) -> None: ...


class EmbeddedAgent(Protocol):
    async def create_embedded_consent(
        self, *, psu_id: str, valid_until: date, frequency_per_day: int
    ) -> EmbeddedConsent: ...

    async def authorise_with_credentials(self, token: str, encrypted: str) -> None:
        """Embedded SCA; `CredentialsRejected` when the bank refuses the credentials."""
        ...
