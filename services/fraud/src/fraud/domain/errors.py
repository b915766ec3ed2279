"""The fraud service's error tree: every client-caused error has a stable code and a 4xx status.

Rule: a rejected event carries a machine-readable ``reason`` (sent to the dead-letter topic
with it) and a message that never repeats a secret, a credential or a full IBAN.
"""

from __future__ import annotations

from common.errors import Conflict, EventRejected, NotFound, ValidationFailed


class InvalidActivity(EventRejected):
    """An incoming transaction, payment or security signal cannot be scored."""

    code = "fraud.event-invalid"
    title = "Event cannot be scored"

    def __init__(self, reason: str, message: str, **extensions: object) -> None:
        super().__init__(message, reason=reason, **extensions)
        self.reason = reason


class MissingField(InvalidActivity):
    code = "fraud.missing-field"

    def __init__(self, field: str) -> None:
        super().__init__("missing-field", f"required field '{field}' is missing", field=field)


class BadCurrency(InvalidActivity):
    code = "fraud.bad-currency"

    def __init__(self, message: str) -> None:
        super().__init__("bad-currency", message)


class AbsurdAmount(InvalidActivity):
    code = "fraud.absurd-amount"

    def __init__(self, message: str) -> None:
        super().__init__("absurd-amount", message)


class MalformedField(InvalidActivity):
    code = "fraud.malformed-field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__("malformed-field", f"'{field}' {message}", field=field)


class UnknownAccount(InvalidActivity):
    code = "fraud.unknown-account"

    def __init__(self) -> None:
        super().__init__("unknown-account", "the account is not known to fraud")


class InvalidPolicy(ValidationFailed):
    code = "fraud.policy-invalid"
    title = "Scoring policy is not valid"


class AlertNotFound(NotFound):
    code = "fraud.alert-not-found"
    title = "Alert not found"


class AlertAlreadyResolved(Conflict):
    code = "fraud.alert-already-resolved"
    title = "Alert already resolved"


class DecisionNotFound(NotFound):
    code = "fraud.decision-not-found"
    title = "Decision not found"


class PaymentNotHeld(Conflict):
    code = "fraud.payment-not-held"
    title = "Payment is not held for review"


class ReportNotFound(NotFound):
    code = "fraud.report-not-found"
    title = "Report not found"


class DecisionMismatch(Conflict):
    code = "fraud.decision-mismatch"
    title = "A decision already exists for this payment with different details"


class OwnerMismatch(InvalidActivity):
    code = "fraud.owner-mismatch"

    def __init__(self) -> None:
        super().__init__("owner-mismatch", "the account belongs to another owner")


class StaleState(Conflict):
    """Another transaction changed the same record first; the use case can be retried."""

    code = "fraud.concurrent-update"
    title = "Concurrent update, retry"


class InvalidWeek(ValidationFailed):
    code = "fraud.week-invalid"
    title = "Week is not valid"
