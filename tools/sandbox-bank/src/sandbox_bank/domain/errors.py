"""The sandbox's error tree: one class per Berlin Group error code.

Each error carries its Berlin Group `code` and a human `text`; the HTTP edge maps the class
to its status. The tree is flat on purpose.
"""


class SandboxError(Exception):
    """A request the bank refuses, with a stable Berlin Group code."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class FormatError(SandboxError):
    """A header, parameter or body is missing or malformed."""

    code = "FORMAT_ERROR"


class ConsentInvalid(SandboxError):
    """The consent exists but is not (or no longer) usable for this request."""

    code = "CONSENT_INVALID"


class PsuCredentialsInvalid(SandboxError):
    """The PSU's credentials did not authenticate them (embedded SCA)."""

    code = "PSU_CREDENTIALS_INVALID"


class ConsentExpired(SandboxError):
    """The consent's validity has ended."""

    code = "CONSENT_EXPIRED"


class ConsentUnknown(SandboxError):
    """No consent has this id."""

    code = "CONSENT_UNKNOWN"


class ResourceUnknown(SandboxError):
    """The addressed resource does not exist or is not reachable with this consent."""

    code = "RESOURCE_UNKNOWN"


class ServiceInvalid(SandboxError):
    """The service is not offered by this agent (balances, for instance)."""

    code = "SERVICE_INVALID"


class AccessExceeded(SandboxError):
    """Unattended access beyond the consent's frequencyPerDay."""

    code = "ACCESS_EXCEEDED"

    def __init__(self, text: str, retry_after_seconds: int) -> None:
        super().__init__(text)
        self.retry_after_seconds = retry_after_seconds
