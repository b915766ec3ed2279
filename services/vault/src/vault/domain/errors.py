"""The vault's error tree.

Rule: every error names what went wrong with a stable code and never carries a secret, a key,
a plaintext or a ciphertext; the HTTP edge turns each into an RFC 9457 problem response.
"""

from __future__ import annotations

from common.errors import (
    CoffreError,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)


class IdentityMissing(Unauthenticated):
    code = "vault.identity-missing"
    title = "A service identity is required"


class PolicyDenied(Forbidden):
    code = "vault.policy-denied"
    title = "This service may not do that for this purpose"


class InvalidName(ValidationFailed):
    code = "vault.name-invalid"
    title = "A subject, purpose or secret id is not valid"


class InvalidInput(ValidationFailed):
    code = "vault.input-invalid"
    title = "The request is not valid"


class SealRequired(ValidationFailed):
    code = "vault.seal-required"
    title = "This purpose only accepts values sealed on the client"


class CiphertextRejected(ValidationFailed):
    code = "vault.ciphertext-invalid"
    title = "The ciphertext is malformed or has been tampered with"


class SealingKeyUnknown(ValidationFailed):
    code = "vault.sealing-key-unknown"
    title = "The sealed value names a key the vault does not hold"


class SecretNotFound(NotFound):
    code = "vault.secret-not-found"
    title = "No such secret"


class SubjectUnknown(NotFound):
    code = "vault.subject-unknown"
    title = "The vault holds no key for this subject"


class Erased(Gone):
    code = "vault.subject-erased"
    title = "The subject's keys were destroyed; its data can no longer be read"


class GrantNotFound(NotFound):
    code = "vault.grant-not-found"
    title = "No such grant"


class GrantExpired(Gone):
    code = "vault.grant-expired"
    title = "The grant has expired"


class GrantExhausted(Gone):
    code = "vault.grant-exhausted"
    title = "The grant has no uses left"


class GrantEnded(Gone):
    code = "vault.grant-ended"
    title = "The grant has ended"


class GrantOperatorMismatch(Forbidden):
    code = "vault.grant-operator-mismatch"
    title = "The grant belongs to another operator"


class RotationConflict(Conflict):
    code = "vault.rotation-conflict"
    title = "A key rotation is in a state that does not allow this"


class KmsUnavailable(CoffreError):
    """The KMS refused or could not be reached; a server-side fault, never a client's."""

    code = "vault.kms-unavailable"
    status = 503
    title = "The key management service is unavailable"


class KeyMaterialMissing(CoffreError):
    """A key the vault needs is not in its store: a server-side integrity fault."""

    code = "vault.key-material-missing"
    status = 500
    title = "Key material is missing"


class ConcurrentUpdate(Conflict):
    code = "vault.concurrent-update"
    title = "Another request changed the same keys at the same moment; retry"


class AuditUnavailable(CoffreError):
    """The audit log could not be written: nothing is answered without its entry."""

    code = "vault.audit-unavailable"
    status = 503
    title = "The audit log is unavailable; nothing was disclosed"
