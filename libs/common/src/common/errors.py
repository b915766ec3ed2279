"""Coffre's root exception tree.

Rule: every error a client can cause carries a stable machine-readable ``code``, an HTTP
``status`` (always 4xx for client faults) and a human ``message`` that never contains a
secret, a code, a token, a key or a full IBAN. The HTTP edge turns them into RFC 9457
problem responses; services subclass them in their own small ``domain/errors.py``.
"""

from __future__ import annotations


class CoffreError(Exception):
    """Base of every error Coffre raises on purpose."""

    code: str = "coffre.error"
    status: int = 500
    title: str = "Internal error"
    bearer_error: str | None = None
    """RFC 6750 error code in the answer's ``WWW-Authenticate: Bearer`` challenge, if any."""

    def __init__(self, message: str | None = None, **extensions: object) -> None:
        self.message = message or self.title
        self.extensions = extensions
        super().__init__(self.message)


class ValidationFailed(CoffreError):
    code = "request.invalid"
    status = 422
    title = "The request is not valid"


class NotFound(CoffreError):
    code = "resource.not-found"
    status = 404
    title = "Not found"


class Conflict(CoffreError):
    code = "resource.conflict"
    status = 409
    title = "Conflict"


class Unauthenticated(CoffreError):
    """401: the answer carries ``WWW-Authenticate: Bearer`` (with ``error="invalid_token"`` for
    subclasses that refuse a presented token)."""

    code = "auth.unauthenticated"
    status = 401
    title = "Authentication required"


class Forbidden(CoffreError):
    code = "auth.forbidden"
    status = 403
    title = "Forbidden"


class Gone(CoffreError):
    code = "resource.gone"
    status = 410
    title = "Gone"


class TooManyRequests(CoffreError):
    code = "rate.limited"
    status = 429
    title = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **ext: object) -> None:
        super().__init__(message, **ext)
        self.retry_after = retry_after


class ConfigurationError(CoffreError):
    """Bad configuration found at start-up; the message names the setting."""

    code = "config.invalid"
    status = 500
    title = "Invalid configuration"


class EventRejected(CoffreError):
    """An incoming event cannot be processed; it goes to the dead-letter topic with the reason."""

    code = "event.rejected"
    status = 422
    title = "Event rejected"
