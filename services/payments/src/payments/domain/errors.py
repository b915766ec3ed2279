"""Payments' errors: each has a stable code and an HTTP status (RFC 9457 at the edge).

Rule: messages and extensions never carry a token, a consent id or a full IBAN.
"""

from __future__ import annotations

from common.errors import CoffreError, Conflict, Forbidden, NotFound, Unauthenticated
from common.errors import ValidationFailed as _Invalid


class AmountInvalid(_Invalid):
    code = "payments.amount-invalid"
    title = "The amount is not valid"


class CurrencyUnknown(_Invalid):
    code = "payments.currency-unknown"
    title = "The currency is not an ISO 4217 code"


class CurrencyNotSupported(_Invalid):
    code = "payments.currency-not-supported"
    title = "Payments in this currency are not offered"


class IbanInvalid(_Invalid):
    code = "payments.iban-invalid"
    title = "The IBAN is not valid"


class InputInvalid(_Invalid):
    code = "payments.input-invalid"
    title = "The request is not valid"


class LimitExceeded(_Invalid):
    code = "payments.limit-exceeded"
    title = "The payment exceeds a limit"


class PayeeNotAllowed(_Invalid):
    code = "payments.payee-not-allowed"
    title = "This payee is not allowed for this kind of payment"


class IdempotencyKeyMissing(_Invalid):
    code = "payments.idempotency-key-missing"
    title = "An Idempotency-Key header is required"


class IdempotencyKeyReused(_Invalid):
    code = "payments.idempotency-key-reused"
    title = "This idempotency key was used with another request"


class IdempotencyInProgress(Conflict):
    code = "payments.idempotency-in-progress"
    title = "A request with this idempotency key is still running"


class PaymentNotFound(NotFound):
    code = "payments.payment-not-found"
    title = "No such payment"


class PaymentStateConflict(Conflict):
    code = "payments.state-conflict"
    title = "The payment cannot do this in its current state"


class AuthorisationExpired(Conflict):
    code = "payments.authorisation-window-expired"
    title = "The payment was not authorised in time"


class ConsentNotFound(NotFound):
    code = "payments.consent-not-found"
    title = "No such payment consent"


class ConsentNotActive(Conflict):
    code = "payments.consent-not-active"
    title = "The payment consent is not active"


class ConsentNotAuthorised(Conflict):
    code = "payments.consent-not-authorised"
    title = "The bank has not confirmed the consent yet"


class StateUnknown(_Invalid):
    code = "payments.state-unknown"
    title = "The callback state is unknown"


class StateExpired(_Invalid):
    code = "payments.state-expired"
    title = "The callback state has expired"


class SessionRevoked(Unauthenticated):
    code = "payments.session-revoked"
    title = "This session has ended"


class ScopeMissing(Forbidden):
    code = "payments.scope-missing"
    title = "The token does not grant the payment scope"


class BankUnavailable(CoffreError):
    """The bank did not answer usefully; ``before_work`` is True when it surely did nothing."""

    code = "payments.bank-unavailable"
    status = 503
    title = "The bank is unavailable"

    def __init__(self, message: str = "", *, before_work: bool = False, **ext: object) -> None:
        super().__init__(message, **ext)
        self.before_work = before_work


class BankRefused(CoffreError):
    code = "payments.bank-refused"
    status = 502
    title = "The bank refused the request"

    def __init__(self, message: str = "", *, bank_code: str = "", **ext: object) -> None:
        super().__init__(message, bank_code=bank_code, **ext)
        self.bank_code = bank_code


class BankConsentEnded(BankRefused):
    code = "payments.bank-consent-ended"
    status = 409
    title = "The bank no longer accepts this payment consent"


class VaultUnavailable(CoffreError):
    code = "payments.vault-unavailable"
    status = 503
    title = "The vault is unavailable"


class SecretMissing(CoffreError):
    code = "payments.secret-missing"
    status = 409
    title = "The secret is no longer in the vault"


class FraudUnavailable(CoffreError):
    code = "payments.fraud-unavailable"
    status = 503
    title = "The fraud service is unavailable"
