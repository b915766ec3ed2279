"""Aggregation's error tree: each error a member or the agent can cause, with a stable code.

Rule: messages name what went wrong and never carry a consent token, a state value, an IBAN or
a bank payload.
"""

from __future__ import annotations

from common.errors import (
    CoffreError,
    Conflict,
    Gone,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)


class ConnectionNotFound(NotFound):
    code = "aggregation.connection-not-found"
    title = "No such bank connection"


class ConnectionNotActive(Conflict):
    code = "aggregation.connection-not-active"
    title = "The bank connection is not active"


class TooManyConnections(Conflict):
    code = "aggregation.too-many-connections"
    title = "Too many bank connections"


class MemberErased(Gone):
    code = "aggregation.member-erased"
    title = "This member's data was erased"

    def __init__(self) -> None:
        super().__init__("the member asked for their data to be erased; nothing is kept")


class StateUnknown(NotFound):
    code = "aggregation.state-unknown"
    title = "No pending bank connection matches this state"


class StateAlreadyUsed(Conflict):
    code = "aggregation.state-already-used"
    title = "This callback state was already used"


class StateExpired(Gone):
    code = "aggregation.state-expired"
    title = "The bank connection attempt has expired; start again"


class CallbackInProgress(Conflict):
    code = "aggregation.callback-in-progress"
    title = "This callback is already being processed"


class ConsentNotAuthorised(Conflict):
    code = "aggregation.consent-not-authorised"
    title = "The bank has not authorised the consent yet"


class ConsentEnded(Conflict):
    """The bank refuses the consent: revoked by the member, expired or unknown."""

    code = "aggregation.consent-ended"
    title = "The bank consent has ended"

    def __init__(self, message: str | None = None, *, reason: str = "ended") -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class CursorInvalid(ValidationFailed):
    code = "aggregation.cursor-invalid"
    title = "The cursor is not valid"


class RefreshTooSoon(TooManyRequests):
    code = "aggregation.refresh-too-soon"
    title = "This connection was refreshed moments ago"


class AgentRateLimited(TooManyRequests):
    code = "aggregation.agent-rate-limited"
    title = "The bank's access limit is reached for now"


class AgentUnavailable(CoffreError):
    """The PSD2 agent timed out, failed, or answered with something unreadable."""

    code = "aggregation.agent-unavailable"
    status = 503
    title = "The bank cannot be reached right now"


class AgentRefused(CoffreError):
    """The agent rejected our request (4xx other than consent and rate problems)."""

    code = "aggregation.agent-refused"
    status = 502
    title = "The bank refused the request"


class VaultUnavailable(CoffreError):
    code = "aggregation.vault-unavailable"
    status = 503
    title = "The vault cannot be reached right now"


class ConsentSecretMissing(Gone):
    """The vault no longer holds the consent token (erased, or deleted)."""

    code = "aggregation.consent-secret-missing"
    title = "The bank consent is no longer available"


class MemberIpUnknown(ValidationFailed):
    code = "aggregation.member-ip-unknown"
    title = "The member's IP address could not be determined"
