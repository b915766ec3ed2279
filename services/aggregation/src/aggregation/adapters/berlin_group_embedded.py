"""The PSD2 agent's embedded SCA (Berlin Group NextGenPSD2): a consent authorised with the
member's credentials, sealed for the agent by the vault.

Rules:
- The consent is asked with `TPP-Redirect-Preferred: false`, for accounts and transactions
  only (like every consent); the agent answers with the authorisation id the credentials must
  be sealed for.
- The sealed credentials go in `psuData.encryptedPassword`; this service never sees them in
  clear. Neither consent creation nor an authorisation attempt is repeated after the bank may
  have done work (an attempt counts against the member's tries).
- PSU_CREDENTIALS_INVALID, and a consent the bank ended after too many tries, are
  `CredentialsRejected`.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from aggregation.adapters import berlin_group_parse as parse
from aggregation.adapters.berlin_group import BerlinGroupAgent, Retry
from aggregation.domain.credential_errors import CredentialsRejected
from aggregation.domain.errors import AgentRefused, ConsentEnded
from aggregation.service.credential_ports import EmbeddedConsent

CREDENTIALS_INVALID = "PSU_CREDENTIALS_INVALID"


class EmbeddedBerlinGroupAgent(BerlinGroupAgent):
    """The Berlin Group agent, with embedded SCA as well as redirect."""

    async def create_embedded_consent(
        self, *, psu_id: str, valid_until: date, frequency_per_day: int
    ) -> EmbeddedConsent:
        body = {
            "access": {"accounts": [], "transactions": []},
            "recurringIndicator": True,
            "validUntil": valid_until.isoformat(),
            "frequencyPerDay": frequency_per_day,
            "combinedServiceIndicator": False,
        }
        headers = {"PSU-ID": psu_id, "TPP-Redirect-Preferred": "false"}
        data = await self._call("POST", "/v1/consents", Retry.BEFORE_WORK, headers, json=body)
        token, authorisation_id = data.get("consentId"), data.get("authorisationId")
        if not isinstance(token, str) or not token or not isinstance(authorisation_id, str):
            raise parse.malformed("an embedded consent without consentId or authorisationId")
        return EmbeddedConsent(token=token, authorisation_id=authorisation_id)

    async def authorise_with_credentials(self, token: str, encrypted: str) -> None:
        path = f"/v1/consents/{quote(token, safe='')}/authorisations"
        body = {"psuData": {"encryptedPassword": encrypted}}
        try:
            await self._call("POST", path, Retry.BEFORE_WORK, json=body)
        except AgentRefused as exc:
            if exc.extensions.get("agent_code") == CREDENTIALS_INVALID:
                raise CredentialsRejected("the bank did not accept the credentials") from None
            raise
        except ConsentEnded:
            raise CredentialsRejected(
                "the bank refused the credentials too many times and ended the consent"
            ) from None
