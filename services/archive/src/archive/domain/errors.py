"""Archive's errors: each one a stable code and a clear message, never a secret or content."""

from __future__ import annotations

from common.errors import CoffreError, Forbidden, NotFound, ValidationFailed


class ServiceUnavailable(CoffreError):
    code = "archive.unavailable"
    status = 503
    title = "Temporarily unavailable"


class UnsupportedMediaType(CoffreError):
    code = "archive.unsupported-media-type"
    status = 415
    title = "Unsupported file type"


class PayloadTooLarge(CoffreError):
    code = "archive.too-large"
    status = 413
    title = "File too large"


class ReceiptRejected(ValidationFailed):
    """The file is not an acceptable receipt (empty, corrupt, a bomb, a dangerous PDF…)."""

    code = "archive.receipt-rejected"
    title = "Receipt rejected"


class EncryptedPdfRefused(ReceiptRejected):
    code = "archive.pdf-encrypted"
    title = "Encrypted PDF refused"


class InvalidUpload(ValidationFailed):
    code = "archive.upload-invalid"
    title = "Invalid upload"


class ReceiptNotFound(NotFound):
    code = "archive.receipt-not-found"
    title = "Receipt not found"

    def __init__(self, message: str = "no such receipt", **ext: object) -> None:
        super().__init__(message, **ext)


class ReceiptNotReady(CoffreError):
    code = "archive.receipt-not-sealed"
    status = 409
    title = "Receipt not sealed yet"


class ReceiptShredded(CoffreError):
    code = "archive.receipt-shredded"
    status = 410
    title = "Receipt destroyed"


class SealFailed(CoffreError):
    """The seal could not be applied (TSA or signer unreachable): retried later."""

    code = "archive.seal-failed"
    status = 503
    title = "Seal unavailable"


class VaultUnavailable(ServiceUnavailable):
    code = "archive.vault-unavailable"


class StoreUnavailable(ServiceUnavailable):
    code = "archive.store-unavailable"


class IntegrityMismatch(CoffreError):
    code = "archive.integrity-mismatch"
    status = 500
    title = "Stored object does not match its record"


class NotYourReceipt(Forbidden):
    code = "archive.forbidden"


class IdempotencyKeyInvalid(ValidationFailed):
    code = "archive.idempotency-key-invalid"
    title = "Invalid Idempotency-Key"


class IdempotencyKeyReused(ValidationFailed):
    code = "archive.idempotency-key-reused"
    title = "This idempotency key was used with another upload"
